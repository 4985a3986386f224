"""/v3/groups, their members, and /v3/users/{id}/groups"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import NotFound
from onestack.identity import users
from onestack.identity.api import protected_router
from onestack.identity.api.common import (
    Caller,
    body_as,
    enforce,
    list_body,
    list_page,
    self_link,
)
from onestack.identity.api.ownership import (
    caller_domain,
    columns,
    list_domain,
    load_guarded,
    public_extra,
    ref,
)
from onestack.identity.api.users import user_filters
from onestack.identity.api.users import view as user_view
from onestack.identity.manager import manager_of
from onestack.identity.models import Group

router = protected_router()

RESERVED = frozenset({"id", "links", "extra", "membership_expires_at"})


class GroupFields(BaseModel):
    """Known fields are checked; any other attribute is kept, as Keystone keeps it."""

    model_config = ConfigDict(extra="allow")
    description: str | None = Field(None, max_length=65535)
    domain_id: str | None = Field(None, min_length=1, max_length=64)


class GroupCreateFields(GroupFields):
    name: str = Field(min_length=1, max_length=64)


class GroupUpdateFields(GroupFields):
    name: str | None = Field(None, min_length=1, max_length=64)


class GroupCreate(BaseModel):
    group: GroupCreateFields


class GroupUpdate(BaseModel):
    group: GroupUpdateFields


def view(request: Request, g: Group) -> dict[str, Any]:
    return {
        **public_extra(g.extra, RESERVED),
        "id": g.id,
        "name": g.name,
        "domain_id": g.domain_id,
        "description": g.description or "",
        "links": self_link(request, f"groups/{g.id}"),
    }


@router.get("/groups")
async def list_groups(request: Request, ctx: RequestContext = Caller) -> Response:
    domain_id = list_domain(request, ctx, "identity:list_groups")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await users.list_groups(
            session, page, name=request.query_params.get("name"), domain_id=domain_id
        )
    return json(list_body(request, "groups", [view(request, g) for g in rows], page))


@router.post("/groups")
async def create_group(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, GroupCreate)
    fields = columns(body.group, RESERVED)
    domain_id = fields.pop("domain_id", None) or caller_domain(ctx)
    enforce(request, ctx, "identity:create_group", {"target": {"group": {"domain_id": domain_id}}})
    async with manager_of(request).write() as session:
        group = await users.create_group(session, domain_id=domain_id, **fields)
        return json({"group": view(request, group)}, status=201)


async def _guarded(request: Request, ctx: RequestContext, rule: str, group_id: str) -> Group:
    return await load_guarded(request, ctx, rule, "group", group_id, users.find_group)


@router.get("/groups/{group_id}")
async def get_group(request: Request, group_id: str, ctx: RequestContext = Caller) -> Response:
    group = await _guarded(request, ctx, "identity:get_group", group_id)
    return json({"group": view(request, group)})


@router.patch("/groups/{group_id}")
async def update_group(request: Request, group_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:update_group", group_id)
    body = await body_as(request, GroupUpdate)
    async with manager_of(request).write() as session:
        group = await users.update_group(session, group_id, columns(body.group, RESERVED))
        return json({"group": view(request, group)})


@router.delete("/groups/{group_id}")
async def delete_group(request: Request, group_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:delete_group", group_id)
    async with manager_of(request).write() as session:
        await users.delete_group(session, group_id)
    return no_content()


@router.get("/groups/{group_id}/users")
async def list_group_users(
    request: Request, group_id: str, ctx: RequestContext = Caller
) -> Response:
    await _guarded(request, ctx, "identity:list_users_in_group", group_id)
    mgr = manager_of(request)
    page = list_page(request, mgr)
    filters = user_filters(request, request.query_params.get("domain_id"))
    async with mgr.read() as session:
        rows = await users.list_users(session, page, filters, group_id=group_id)
    return json(list_body(request, "users", [user_view(request, u) for u in rows], page))


async def _membership_guard(
    request: Request, ctx: RequestContext, rule: str, group_id: str, user_id: str
) -> None:
    """Policy on both the group and the user; 404 (for who may see) if either is missing."""
    async with manager_of(request).read() as session:
        group = await users.find_group(session, group_id)
        user = await users.find_user(session, user_id)
    target = {"group": ref(group_id, group), "user": ref(user_id, user)}
    enforce(request, ctx, rule, {"target": target})
    if group is None:
        raise NotFound(f"Could not find group: {group_id}.")
    if user is None:
        raise NotFound(f"Could not find user: {user_id}.")


@router.put("/groups/{group_id}/users/{user_id}")
async def add_user(
    request: Request, group_id: str, user_id: str, ctx: RequestContext = Caller
) -> Response:
    await _membership_guard(request, ctx, "identity:add_user_to_group", group_id, user_id)
    async with manager_of(request).write() as session:
        await users.add_member(session, group_id, user_id)
    return no_content()


@router.api_route("/groups/{group_id}/users/{user_id}", methods=["GET", "HEAD"])
async def check_user(
    request: Request, group_id: str, user_id: str, ctx: RequestContext = Caller
) -> Response:
    await _membership_guard(request, ctx, "identity:check_user_in_group", group_id, user_id)
    async with manager_of(request).read() as session:
        await users.check_member(session, group_id, user_id)
    return no_content()


@router.delete("/groups/{group_id}/users/{user_id}")
async def remove_user(
    request: Request, group_id: str, user_id: str, ctx: RequestContext = Caller
) -> Response:
    await _membership_guard(request, ctx, "identity:remove_user_from_group", group_id, user_id)
    async with manager_of(request).write() as session:
        await users.remove_member(session, group_id, user_id)
    return no_content()


@router.get("/users/{user_id}/groups")
async def list_user_groups(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    rule = "identity:list_groups_for_user"
    await load_guarded(request, ctx, rule, "user", user_id, users.find_user)
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await users.list_groups(
            session, page, name=request.query_params.get("name"), user_id=user_id
        )
    items = [{**view(request, g), "membership_expires_at": None} for g in rows]
    return json(list_body(request, "groups", items, page))
