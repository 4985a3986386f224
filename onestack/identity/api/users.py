"""/v3/users, their password and projects (their groups: see groups.py)"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import resource, users
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
    expiry_filter,
    flag,
    list_domain,
    load_guarded,
    public_extra,
)
from onestack.identity.api.projects import views as project_views
from onestack.identity.manager import manager_of
from onestack.identity.models import User
from onestack.identity.views import isotime

router = protected_router()

#: Names a user's free attributes cannot take: the API renders or owns them.
RESERVED = frozenset(
    {"id", "links", "password_expires_at", "password_created_at", "extra", "password_hash"}
)
Id = Field(None, min_length=1, max_length=64)
Password = Field(None, max_length=4096)


class UserOptions(BaseModel):
    """Keystone's user resource options; null removes one, an unknown name is a 400."""

    model_config = ConfigDict(extra="forbid")
    ignore_change_password_upon_first_use: StrictBool | None = None
    ignore_password_expiry: StrictBool | None = None
    ignore_lockout_failure_attempts: StrictBool | None = None
    ignore_user_inactivity: StrictBool | None = None
    lock_password: StrictBool | None = None
    multi_factor_auth_enabled: StrictBool | None = None
    multi_factor_auth_rules: list[list[str]] | None = Field(None, max_length=32)


class UserFields(BaseModel):
    """Known fields are checked; any other attribute (email, ...) is kept, as Keystone does."""

    model_config = ConfigDict(extra="allow")
    domain_id: str | None = Id
    default_project_id: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=65535)
    enabled: StrictBool | None = None
    password: str | None = Password
    options: UserOptions | None = None


class UserCreateFields(UserFields):
    name: str = Field(min_length=1, max_length=255)


class UserUpdateFields(UserFields):
    name: str | None = Field(None, min_length=1, max_length=255)


class UserCreate(BaseModel):
    user: UserCreateFields


class UserUpdate(BaseModel):
    user: UserUpdateFields


def view(request: Request, u: User) -> dict[str, Any]:
    """A user as Keystone renders it: extras at the top level, no default project if unset."""
    body = {
        **public_extra(u.extra, RESERVED),
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": isotime(u.password_expires_at),
        "options": u.options or {},
        "links": self_link(request, f"users/{u.id}"),
    }
    if u.default_project_id:
        body["default_project_id"] = u.default_project_id
    return body


def _columns(fields: UserFields) -> dict[str, Any]:
    """Model columns from a body; description and free attributes go to ``extra``."""
    data = columns(fields, RESERVED, exclude=("options", "password", "description"))
    if fields.options is not None:
        data["options"] = fields.options.model_dump(exclude_unset=True)
    if "description" in fields.model_fields_set:
        data["extra"] = {**data.get("extra", {}), "description": fields.description}
    return data


def user_filters(request: Request, domain_id: str | None) -> users.UserFilters:
    """The user list filters of ``GET /v3/users`` and ``GET /v3/groups/{id}/users``."""
    return users.UserFilters(
        name=request.query_params.get("name"),
        domain_id=domain_id,
        enabled=flag(request, "enabled"),
        password_expires_at=expiry_filter(request),
        idp_id=request.query_params.get("idp_id"),
        protocol_id=request.query_params.get("protocol_id"),
        unique_id=request.query_params.get("unique_id"),
    )


@router.get("/users")
async def list_users(request: Request, ctx: RequestContext = Caller) -> Response:
    domain_id = list_domain(request, ctx, "identity:list_users")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    filters = user_filters(request, domain_id)
    async with mgr.read() as session:
        rows = await users.list_users(session, page, filters)
        items = [view(request, u) for u in rows]
    return json(list_body(request, "users", items, page))


@router.post("/users")
async def create_user(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, UserCreate)
    fields = _columns(body.user)
    domain_id = fields.pop("domain_id", None) or caller_domain(ctx)
    enforce(request, ctx, "identity:create_user", {"target": {"user": {"domain_id": domain_id}}})
    mgr = manager_of(request)
    password = None
    if body.user.password is not None:
        password = await users.prepare_password(mgr, body.user.password)
    async with mgr.write() as session:
        user = await users.create_user(
            session, mgr.conf, domain_id=domain_id, password=password, **fields
        )
        return json({"user": view(request, user)}, status=201)


async def _guarded(request: Request, ctx: RequestContext, rule: str, user_id: str) -> User:
    return await load_guarded(request, ctx, rule, "user", user_id, users.find_user)


@router.get("/users/{user_id}")
async def get_user(request: Request, user_id: str, ctx: RequestContext = Caller) -> Response:
    user = await _guarded(request, ctx, "identity:get_user", user_id)
    return json({"user": view(request, user)})


@router.patch("/users/{user_id}")
async def update_user(request: Request, user_id: str, ctx: RequestContext = Caller) -> Response:
    user = await _guarded(request, ctx, "identity:update_user", user_id)
    body = await body_as(request, UserUpdate)
    extra = body.user.model_extra or {}
    # as Keystone: repeating the user's own id is accepted, changing it is not
    if "id" in extra and extra.pop("id") != user_id:
        raise BadRequest("The id of a user cannot be changed.")
    changes = _columns(body.user)
    mgr = manager_of(request)
    password = None
    if body.user.password is not None:
        password = await users.prepare_password(mgr, body.user.password, user)
    async with mgr.write() as session:
        user = await users.update_user(session, mgr.conf, user_id, changes, password=password)
        return json({"user": view(request, user)})


@router.delete("/users/{user_id}")
async def delete_user(request: Request, user_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:delete_user", user_id)
    async with manager_of(request).write() as session:
        await users.delete_user(session, user_id)
    return no_content()


@router.get("/users/{user_id}/projects")
async def list_user_projects(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    await _guarded(request, ctx, "identity:list_user_projects", user_id)
    mgr = manager_of(request)
    page = list_page(request, mgr)
    q = request.query_params
    filters = resource.ProjectFilters(
        name=q.get("name"), domain_id=q.get("domain_id"), enabled=flag(request, "enabled")
    )
    async with mgr.read() as session:
        rows = await users.list_user_projects(session, user_id, page, filters)
        items = await project_views(request, session, rows)
    return json(list_body(request, "projects", items, page))
