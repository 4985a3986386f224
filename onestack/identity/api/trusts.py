"""/v3/OS-TRUST/trusts: delegation of a trustor's roles on a project to a trustee."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import Forbidden, NotFound
from onestack.identity import delegation, oauth1, trusts
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.delegation import RoleRef
from onestack.identity.manager import manager_of
from onestack.identity.models import Role, Trust
from onestack.identity.views import isotime

router = protected_router("/v3/OS-TRUST")
Id = Field(min_length=1, max_length=64)


class TrustFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trustor_user_id: str = Id
    trustee_user_id: str = Id
    impersonation: StrictBool
    project_id: str | None = Field(None, min_length=1, max_length=64)
    roles: list[RoleRef] | None = Field(None, max_length=100)
    expires_at: dt.datetime | None = None
    remaining_uses: int | None = Field(None, ge=1, strict=True)
    allow_redelegation: StrictBool | None = None
    redelegation_count: int | None = Field(None, ge=0, strict=True)


class TrustCreate(BaseModel):
    trust: TrustFields


def _target(trust: Trust | TrustFields) -> dict[str, Any]:
    return {
        "target": {
            "trust": {
                "trustor_user_id": trust.trustor_user_id,
                "trustee_user_id": trust.trustee_user_id,
            }
        }
    }


def role_view(request: Request, role: Role) -> dict[str, Any]:
    return {**delegation.role_ref(role), "links": self_link(request, f"roles/{role.id}")}


def view(request: Request, t: Trust, roles: list[Role]) -> dict[str, Any]:
    return {
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": isotime(t.expires_at),
        "remaining_uses": t.remaining_uses,
        "allow_redelegation": t.allow_redelegation,
        "redelegation_count": t.redelegation_count,
        "redelegated_trust_id": t.redelegated_trust_id,
        "roles": [role_view(request, r) for r in roles],
        "roles_links": {
            "self": self_link(request, f"OS-TRUST/trusts/{t.id}/roles")["self"],
            "previous": None,
            "next": None,
        },
        "links": self_link(request, f"OS-TRUST/trusts/{t.id}"),
    }


@router.post("/trusts")
async def create_trust(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, TrustCreate)
    fields = body.trust
    enforce(request, ctx, "identity:create_trust", _target(fields))
    if ctx.trust_id:
        raise Forbidden("Redelegation of a trust is not supported.")
    oauth1.refuse_delegated(ctx, "create a trust")
    async with manager_of(request).write() as session:
        await delegation.require_unrestricted(session, ctx.application_credential_id, "trusts")
        roles = await delegation.resolve_roles(session, fields.roles or [])
        trust = await trusts.create_trust(
            session,
            trustor_user_id=fields.trustor_user_id,
            trustee_user_id=fields.trustee_user_id,
            project_id=fields.project_id,
            roles=roles,
            impersonation=fields.impersonation,
            expires_at=delegation.future_expiry(fields.expires_at),
            remaining_uses=fields.remaining_uses,
            allow_redelegation=bool(fields.allow_redelegation),
        )
        return json({"trust": view(request, trust, roles)}, status=201)


@router.get("/trusts")
async def list_trusts(request: Request, ctx: RequestContext = Caller) -> Response:
    q = request.query_params
    trustor, trustee = q.get("trustor_user_id"), q.get("trustee_user_id")
    if trustor:
        target = {"target": {"trust": {"trustor_user_id": trustor}}}
        enforce(request, ctx, "identity:list_trusts_for_trustor", target)
    if trustee:
        target = {"target": {"trust": {"trustee_user_id": trustee}}}
        enforce(request, ctx, "identity:list_trusts_for_trustee", target)
    if not trustor and not trustee:
        enforce(request, ctx, "identity:list_trusts")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("id",))
    async with mgr.read() as session:
        rows = await trusts.list_trusts(
            session, page, trustor_user_id=trustor or None, trustee_user_id=trustee or None
        )
        items = [view(request, t, await trusts.roles_of(session, t)) for t in rows]
    return json(list_body(request, "trusts", items, page))


@router.get("/trusts/{trust_id}")
async def get_trust(request: Request, trust_id: str, ctx: RequestContext = Caller) -> Response:
    async with manager_of(request).read() as session:
        trust = await trusts.get_trust(session, trust_id)
        enforce(request, ctx, "identity:get_trust", _target(trust))
        return json({"trust": view(request, trust, await trusts.roles_of(session, trust))})


@router.delete("/trusts/{trust_id}")
async def delete_trust(request: Request, trust_id: str, ctx: RequestContext = Caller) -> Response:
    async with manager_of(request).write() as session:
        trust = await trusts.get_trust(session, trust_id)
        enforce(request, ctx, "identity:delete_trust", _target(trust))
        await trusts.delete_trust(session, trust)
    return no_content()


@router.get("/trusts/{trust_id}/roles")
async def list_trust_roles(
    request: Request, trust_id: str, ctx: RequestContext = Caller
) -> Response:
    async with manager_of(request).read() as session:
        trust = await trusts.get_trust(session, trust_id)
        enforce(request, ctx, "identity:list_roles_for_trust", _target(trust))
        roles = await trusts.roles_of(session, trust)
    return json(
        {
            "roles": [role_view(request, r) for r in roles],
            "links": {
                **self_link(request, f"OS-TRUST/trusts/{trust_id}/roles"),
                "previous": None,
                "next": None,
            },
        }
    )


async def _trust_role(request: Request, ctx: RequestContext, trust_id: str, role_id: str) -> Role:
    async with manager_of(request).read() as session:
        trust = await trusts.get_trust(session, trust_id)
        enforce(request, ctx, "identity:get_role_for_trust", _target(trust))
        for role in await trusts.roles_of(session, trust):
            if role.id == role_id:
                return role
    raise NotFound(f"Could not find role: {role_id}.")


@router.get("/trusts/{trust_id}/roles/{role_id}")
async def get_trust_role(
    request: Request, trust_id: str, role_id: str, ctx: RequestContext = Caller
) -> Response:
    role = await _trust_role(request, ctx, trust_id, role_id)
    return json({"role": role_view(request, role)})


@router.head("/trusts/{trust_id}/roles/{role_id}")
async def check_trust_role(
    request: Request, trust_id: str, role_id: str, ctx: RequestContext = Caller
) -> Response:
    await _trust_role(request, ctx, trust_id, role_id)
    return Response(status_code=200)
