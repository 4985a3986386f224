"""/v3/users/{user_id}/application_credentials and /v3/users/{user_id}/access_rules."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import Forbidden
from onestack.identity import app_creds, delegation, oauth1
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.delegation import RoleRef
from onestack.identity.manager import manager_of
from onestack.identity.models import ApplicationCredential, Role
from onestack.identity.views import app_cred_time

router = protected_router()


class AccessRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, min_length=1, max_length=64)
    service: str | None = Field(None, min_length=1, max_length=255)
    path: str | None = Field(None, min_length=1, max_length=255)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] | None = None


class AppCredFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=65535)
    secret: str | None = Field(None, min_length=1, max_length=4096)
    expires_at: dt.datetime | None = None
    roles: list[RoleRef] | None = Field(None, max_length=100)
    unrestricted: StrictBool | None = None
    access_rules: list[AccessRuleIn] | None = Field(None, max_length=100)


class AppCredCreate(BaseModel):
    application_credential: AppCredFields


def _target(user_id: str) -> dict[str, Any]:
    return {"target": {"user": {"id": user_id}}}


def view(request: Request, c: ApplicationCredential, roles: list[Role]) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "system": c.system,
        "expires_at": app_cred_time(c.expires_at),
        "unrestricted": c.unrestricted,
        "roles": [delegation.role_ref(r) for r in roles],
        "access_rules": c.access_rules or [],
        "links": self_link(request, f"users/{c.user_id}/application_credentials/{c.id}"),
    }


@router.post("/users/{user_id}/application_credentials")
async def create_app_cred(request: Request, user_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_application_credential", _target(user_id))
    if ctx.user_id != user_id:
        raise Forbidden("Unable to create an application credential for another user.")
    body = await body_as(request, AppCredCreate)
    fields = body.application_credential
    mgr = manager_of(request)
    async with mgr.write() as session:
        await delegation.require_unrestricted(
            session, ctx.application_credential_id, "additional application credentials"
        )
        if ctx.trust_id:
            raise Forbidden("A trust-scoped token cannot create an application credential.")
        oauth1.refuse_delegated(ctx, "create an application credential")
        refs = fields.roles or [RoleRef.model_validate({"id": r}) for r in ctx.role_ids]
        roles = await delegation.resolve_roles(session, refs)
        cred, secret = await app_creds.create_app_cred(
            session,
            rounds=mgr.conf.password_hash_rounds,
            user_id=user_id,
            project_id=ctx.project_id,
            name=fields.name,
            roles=roles,
            secret=fields.secret,
            description=fields.description,
            expires_at=delegation.future_expiry(fields.expires_at),
            unrestricted=bool(fields.unrestricted),
            access_rules=[r.model_dump(exclude_none=True) for r in fields.access_rules or []],
        )
        body_out = view(request, cred, await app_creds.roles_of(session, cred))
    return json({"application_credential": {**body_out, "secret": secret}}, status=201)


@router.get("/users/{user_id}/application_credentials")
async def list_app_creds(request: Request, user_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_application_credentials", _target(user_id))
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await app_creds.list_app_creds(
            session, user_id, page, name=request.query_params.get("name")
        )
        items = [view(request, c, await app_creds.roles_of(session, c)) for c in rows]
    return json(list_body(request, "application_credentials", items, page))


@router.get("/users/{user_id}/application_credentials/{app_cred_id}")
async def get_app_cred(
    request: Request, user_id: str, app_cred_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_application_credential", _target(user_id))
    async with manager_of(request).read() as session:
        cred = await app_creds.get_app_cred(session, user_id, app_cred_id)
        roles = await app_creds.roles_of(session, cred)
        return json({"application_credential": view(request, cred, roles)})


@router.delete("/users/{user_id}/application_credentials/{app_cred_id}")
async def delete_app_cred(
    request: Request, user_id: str, app_cred_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_application_credential", _target(user_id))
    async with manager_of(request).write() as session:
        await delegation.require_unrestricted(
            session, ctx.application_credential_id, "additional application credentials"
        )
        await app_creds.delete_app_cred(session, user_id, app_cred_id)
    return no_content()


# -- access rules -----------------------------------------------------------------------------
def rule_view(request: Request, user_id: str, rule: dict[str, Any]) -> dict[str, Any]:
    return {**rule, "links": self_link(request, f"users/{user_id}/access_rules/{rule['id']}")}


@router.get("/users/{user_id}/access_rules")
async def list_access_rules(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_access_rules", _target(user_id))
    q = request.query_params
    async with manager_of(request).read() as session:
        rules = await app_creds.list_access_rules(session, user_id)
    wanted = {k: q[k] for k in ("service", "path", "method") if k in q}
    items = [
        rule_view(request, user_id, r)
        for r in rules
        if all(r.get(k) == v for k, v in wanted.items())
    ]
    return json(
        {"access_rules": items, "links": self_link(request, f"users/{user_id}/access_rules")}
    )


@router.get("/users/{user_id}/access_rules/{rule_id}")
async def get_access_rule(
    request: Request, user_id: str, rule_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_access_rule", _target(user_id))
    async with manager_of(request).read() as session:
        rule = await app_creds.get_access_rule(session, user_id, rule_id)
    return json({"access_rule": rule_view(request, user_id, rule)})


@router.delete("/users/{user_id}/access_rules/{rule_id}")
async def delete_access_rule(
    request: Request, user_id: str, rule_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_access_rule", _target(user_id))
    async with manager_of(request).write() as session:
        await app_creds.delete_access_rule(session, user_id, rule_id)
    return no_content()
