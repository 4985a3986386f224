"""/v3/registered_limits, /v3/limits and /v3/limits/model: Keystone's unified limits."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import limits
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import Limit, RegisteredLimit

router = protected_router()

#: Keystone's limit values: -1 (unlimited) up to the largest signed 32-bit integer.
LimitValue = Field(ge=-1, le=0x7FFFFFFF)
ServiceId = Field(min_length=1, max_length=64)
RegionId = Field(None, min_length=1, max_length=255)
ResourceName = Field(min_length=1, max_length=255)
Description = Field(None, max_length=65535)
#: The most limits one POST may create.
MAX_BATCH = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisteredLimitFields(_Strict):
    service_id: str = ServiceId
    region_id: str | None = RegionId
    resource_name: str = ResourceName
    default_limit: StrictInt = LimitValue
    description: str | None = Description


class RegisteredLimitsCreate(_Strict):
    registered_limits: list[RegisteredLimitFields] = Field(min_length=1, max_length=MAX_BATCH)


class RegisteredLimitChanges(_Strict):
    service_id: str | None = Field(None, min_length=1, max_length=64)
    region_id: str | None = RegionId
    resource_name: str | None = Field(None, min_length=1, max_length=255)
    default_limit: StrictInt | None = Field(None, ge=-1, le=0x7FFFFFFF)
    description: str | None = Description


class RegisteredLimitUpdate(_Strict):
    registered_limit: RegisteredLimitChanges


class LimitFields(_Strict):
    project_id: str | None = Field(None, min_length=1, max_length=64)
    domain_id: str | None = Field(None, min_length=1, max_length=64)
    service_id: str = ServiceId
    region_id: str | None = RegionId
    resource_name: str = ResourceName
    resource_limit: StrictInt = LimitValue
    description: str | None = Description


class LimitsCreate(_Strict):
    limits: list[LimitFields] = Field(min_length=1, max_length=MAX_BATCH)


class LimitChanges(_Strict):
    resource_limit: StrictInt | None = Field(None, ge=-1, le=0x7FFFFFFF)
    description: str | None = Description


class LimitUpdate(_Strict):
    limit: LimitChanges


def _not_null(changes: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        if name in changes and changes[name] is None:
            raise BadRequest(f"Invalid input for field '{name}': it must not be null.")
    return changes


def registered_view(request: Request, r: RegisteredLimit) -> dict[str, Any]:
    return {
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": self_link(request, f"registered_limits/{r.id}"),
    }


def limit_view(request: Request, limit: Limit) -> dict[str, Any]:
    return {
        "id": limit.id,
        "project_id": limit.project_id,
        "domain_id": limit.domain_id,
        "service_id": limit.registered.service_id,
        "region_id": limit.registered.region_id,
        "resource_name": limit.registered.resource_name,
        "resource_limit": limit.resource_limit,
        "description": limit.description,
        "links": self_link(request, f"limits/{limit.id}"),
    }


def _filters(request: Request, *, owners: bool) -> limits.LimitFilters:
    q = request.query_params
    extra = {"project_id": q.get("project_id"), "domain_id": q.get("domain_id")} if owners else {}
    return limits.LimitFilters(
        service_id=q.get("service_id"),
        region_id=q.get("region_id"),
        resource_name=q.get("resource_name"),
        **extra,
    )


# -- registered limits ------------------------------------------------------------------------
@router.post("/registered_limits")
async def create_registered_limits(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_registered_limits")
    body = await body_as(request, RegisteredLimitsCreate)
    items = [item.model_dump() for item in body.registered_limits]
    async with manager_of(request).write() as session:
        rows = await limits.create_registered_limits(session, items)
        views = [registered_view(request, r) for r in rows]
    return json({"registered_limits": views}, status=201)


@router.get("/registered_limits")
async def list_registered_limits(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_registered_limits")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("resource_name", "default_limit", "id"))
    async with mgr.read() as session:
        rows = await limits.list_registered_limits(session, page, _filters(request, owners=False))
        items = [registered_view(request, r) for r in rows]
    return json(list_body(request, "registered_limits", items, page))


@router.get("/registered_limits/{registered_limit_id}")
async def get_registered_limit(
    request: Request, registered_limit_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_registered_limit")
    async with manager_of(request).read() as session:
        row = await limits.get_registered_limit(session, registered_limit_id)
        return json({"registered_limit": registered_view(request, row)})


@router.patch("/registered_limits/{registered_limit_id}")
async def update_registered_limit(
    request: Request, registered_limit_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_registered_limit")
    body = await body_as(request, RegisteredLimitUpdate)
    changes = _not_null(
        body.registered_limit.model_dump(exclude_unset=True),
        ("service_id", "resource_name", "default_limit"),
    )
    async with manager_of(request).write() as session:
        row = await limits.update_registered_limit(session, registered_limit_id, changes)
        return json({"registered_limit": registered_view(request, row)})


@router.delete("/registered_limits/{registered_limit_id}")
async def delete_registered_limit(
    request: Request, registered_limit_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_registered_limit")
    async with manager_of(request).write() as session:
        await limits.delete_registered_limit(session, registered_limit_id)
    return no_content()


# -- limits -----------------------------------------------------------------------------------
@router.get("/limits/model")
async def get_limit_model(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_limit_model")
    return json({"model": dict(limits.MODEL)})


@router.post("/limits")
async def create_limits(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_limits")
    body = await body_as(request, LimitsCreate)
    items = [item.model_dump() for item in body.limits]
    async with manager_of(request).write() as session:
        rows = await limits.create_limits(session, items)
        views = [limit_view(request, r) for r in rows]
    return json({"limits": views}, status=201)


@router.get("/limits")
async def list_limits(request: Request, ctx: RequestContext = Caller) -> Response:
    """Every limit for the cloud's readers; a domain's and its projects' for a domain-scoped
    caller; a project's own for a project-scoped one; none for an unscoped token."""
    enforce(request, ctx, "identity:list_limits")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("resource_limit", "id"))
    visible: dict[str, str | None] = {}
    if not mgr.policy.check(ctx, "limits_reader"):
        if ctx.domain_id:
            visible["visible_domain"] = ctx.domain_id
        elif ctx.project_id:
            visible["visible_project"] = ctx.project_id
        else:
            return json(list_body(request, "limits", [], page))
    async with mgr.read() as session:
        rows = await limits.list_limits(session, page, _filters(request, owners=True), **visible)
        items = [limit_view(request, r) for r in rows]
    return json(list_body(request, "limits", items, page))


async def _limit_target(request: Request, limit_id: str) -> dict[str, Any]:
    """The policy target of one limit ({} when there is none: the 404 comes after policy)."""
    async with manager_of(request).read() as session:
        row = await limits.find_limit(session, limit_id)
        if row is None:
            return {}
        domain = await limits.project_domain(session, row.project_id)
    limit = {
        "id": row.id,
        "project_id": row.project_id,
        "domain_id": row.domain_id,
        "project": {"id": row.project_id, "domain_id": domain},
        "domain": {"id": row.domain_id},
    }
    return {"target": {"limit": limit}}


@router.get("/limits/{limit_id}")
async def get_limit(request: Request, limit_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_limit", await _limit_target(request, limit_id))
    async with manager_of(request).read() as session:
        row = await limits.get_limit(session, limit_id)
        return json({"limit": limit_view(request, row)})


@router.patch("/limits/{limit_id}")
async def update_limit(request: Request, limit_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_limit")
    body = await body_as(request, LimitUpdate)
    changes = _not_null(body.limit.model_dump(exclude_unset=True), ("resource_limit",))
    async with manager_of(request).write() as session:
        row = await limits.update_limit(session, limit_id, changes)
        return json({"limit": limit_view(request, row)})


@router.delete("/limits/{limit_id}")
async def delete_limit(request: Request, limit_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_limit")
    async with manager_of(request).write() as session:
        await limits.delete_limit(session, limit_id)
    return no_content()
