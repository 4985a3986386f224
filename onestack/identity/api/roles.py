"""/v3/roles, implied roles (/v3/roles/{prior}/implies/{implied}) and /v3/role_inferences."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import assignment
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import Role

router = protected_router()


class RoleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    immutable: StrictBool | None = None


class RoleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=255)
    options: RoleOptions | None = None
    domain_id: str | None = Field(None, min_length=1, max_length=64)


class RoleCreateFields(RoleFields):
    name: str = Field(min_length=1, max_length=255)


class RoleUpdateFields(RoleFields):
    name: str | None = Field(None, min_length=1, max_length=255)


class RoleCreate(BaseModel):
    role: RoleCreateFields


class RoleUpdate(BaseModel):
    role: RoleUpdateFields


def view(request: Request, r: Role) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": assignment.role_domain(r),
        "description": r.description,
        "options": r.options or {},
        "links": self_link(request, f"roles/{r.id}"),
    }


def role_ref(request: Request, r: Role) -> dict[str, Any]:
    """The short form used in inference rules."""
    return {"id": r.id, "name": r.name, "links": self_link(request, f"roles/{r.id}")}


def _rule(action: str, domain_id: str | None) -> str:
    """Keystone guards domain-specific roles with their own ``*_domain_role`` rules."""
    noun = "roles" if action == "list" else "role"
    return f"identity:{action}_domain_{noun}" if domain_id else f"identity:{action}_{noun}"


def _target(ctx: RequestContext, domain_id: str | None, role: Role | None = None) -> dict[str, Any]:
    """Policy target: the role's domain; a global role is usable in the caller's own domain.

    Keys are left out rather than set to None: oslo.policy matches ``%(x)s`` of None
    against a missing credential as the string "None".
    """
    target: dict[str, Any] = {}
    owner = domain_id or ctx.domain_id
    if owner:
        target["domain_id"] = owner
    if role is not None:
        target["role"] = {"id": role.id, "name": role.name}
        if domain_id:
            target["role"]["domain_id"] = domain_id
    return {"target": target}


async def _load_role(request: Request, role_id: str) -> Role:
    async with manager_of(request).read() as session:
        return await assignment.get_role(session, role_id)


# -- roles ------------------------------------------------------------------------------------
@router.get("/roles")
async def list_roles(request: Request, ctx: RequestContext = Caller) -> Response:
    q = request.query_params
    domain_id = q.get("domain_id") or None
    enforce(request, ctx, _rule("list", domain_id), _target(ctx, domain_id))
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await assignment.list_roles(session, page, name=q.get("name"), domain_id=domain_id)
        items = [view(request, r) for r in rows]
    return json(list_body(request, "roles", items, page))


@router.post("/roles")
async def create_role(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, RoleCreate)
    fields = body.role
    enforce(request, ctx, _rule("create", fields.domain_id), _target(ctx, fields.domain_id))
    options = fields.options.model_dump(exclude_unset=True) if fields.options else {}
    async with manager_of(request).write() as session:
        role = await assignment.create_role(
            session,
            name=fields.name,
            domain_id=fields.domain_id,
            description=fields.description,
            options=options,
        )
        return json({"role": view(request, role)}, status=201)


@router.get("/roles/{role_id}")
async def get_role(request: Request, role_id: str, ctx: RequestContext = Caller) -> Response:
    role = await _load_role(request, role_id)
    owner = assignment.role_domain(role)
    enforce(request, ctx, _rule("get", owner), _target(ctx, owner, role))
    return json({"role": view(request, role)})


@router.patch("/roles/{role_id}")
async def update_role(request: Request, role_id: str, ctx: RequestContext = Caller) -> Response:
    role = await _load_role(request, role_id)
    owner = assignment.role_domain(role)
    enforce(request, ctx, _rule("update", owner), _target(ctx, owner, role))
    body = await body_as(request, RoleUpdate)
    changes = body.role.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise BadRequest("Invalid input for field 'role.name': None is not of type 'string'.")
    if changes.get("options") is None:
        changes.pop("options", None)
    async with manager_of(request).write() as session:
        role = await assignment.update_role(session, role_id, changes)
        return json({"role": view(request, role)})


@router.delete("/roles/{role_id}")
async def delete_role(request: Request, role_id: str, ctx: RequestContext = Caller) -> Response:
    role = await _load_role(request, role_id)
    owner = assignment.role_domain(role)
    enforce(request, ctx, _rule("delete", owner), _target(ctx, owner, role))
    async with manager_of(request).write() as session:
        await assignment.delete_role(session, role_id)
    return no_content()


# -- implied roles ----------------------------------------------------------------------------
def _inference(request: Request, prior: Role, implied: Role) -> dict[str, Any]:
    return {
        "role_inference": {
            "prior_role": role_ref(request, prior),
            "implies": role_ref(request, implied),
        },
        "links": self_link(request, f"roles/{prior.id}/implies/{implied.id}"),
    }


@router.put("/roles/{prior_role_id}/implies/{implied_role_id}")
async def create_implied_role(
    request: Request, prior_role_id: str, implied_role_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:create_implied_role")
    async with manager_of(request).write() as session:
        prior, implied = await assignment.create_implied_role(
            session, prior_role_id, implied_role_id
        )
        return json(_inference(request, prior, implied), status=201)


@router.get("/roles/{prior_role_id}/implies/{implied_role_id}")
async def get_implied_role(
    request: Request, prior_role_id: str, implied_role_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_implied_role")
    async with manager_of(request).read() as session:
        prior, implied = await assignment.get_implied_role(session, prior_role_id, implied_role_id)
        return json(_inference(request, prior, implied))


@router.head("/roles/{prior_role_id}/implies/{implied_role_id}")
async def check_implied_role(
    request: Request, prior_role_id: str, implied_role_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:check_implied_role")
    async with manager_of(request).read() as session:
        await assignment.get_implied_role(session, prior_role_id, implied_role_id)
    return no_content()


@router.delete("/roles/{prior_role_id}/implies/{implied_role_id}")
async def delete_implied_role(
    request: Request, prior_role_id: str, implied_role_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_implied_role")
    async with manager_of(request).write() as session:
        await assignment.delete_implied_role(session, prior_role_id, implied_role_id)
    return no_content()


@router.get("/roles/{prior_role_id}/implies")
async def list_implied_roles(
    request: Request, prior_role_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_implied_roles")
    async with manager_of(request).read() as session:
        prior, implied = await assignment.list_implied_roles(session, prior_role_id)
        body = {
            "role_inference": {
                "prior_role": role_ref(request, prior),
                "implies": [role_ref(request, r) for r in implied],
            },
            "links": self_link(request, f"roles/{prior.id}/implies"),
        }
    return json(body)


@router.get("/role_inferences")
async def list_role_inferences(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_role_inference_rules")
    async with manager_of(request).read() as session:
        rules = await assignment.list_role_inferences(session)
        items = [
            {
                "prior_role": role_ref(request, prior),
                "implies": [role_ref(request, r) for r in implied],
            }
            for prior, implied in rules
        ]
    return json({"role_inferences": items, "links": self_link(request, "role_inferences")})
