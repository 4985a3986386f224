"""/v3/OS-EP-FILTER: endpoints and endpoint groups associated with projects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.identity import endpoint_filter as ef
from onestack.identity.api import protected_router
from onestack.identity.api.catalog import endpoint_view
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.api.projects import views as project_views
from onestack.identity.manager import manager_of
from onestack.identity.models import EndpointGroup

router = protected_router("/v3/OS-EP-FILTER")
GROUPS = "OS-EP-FILTER/endpoint_groups"


class GroupFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=65535)


class GroupCreateFields(GroupFields):
    name: str = Field(min_length=1, max_length=255)
    filters: dict[str, Any]


class GroupUpdateFields(GroupFields):
    name: str | None = Field(None, min_length=1, max_length=255)
    filters: dict[str, Any] | None = None


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint_group: GroupCreateFields


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint_group: GroupUpdateFields


def group_view(request: Request, g: EndpointGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": self_link(request, f"{GROUPS}/{g.id}"),
    }


# -- endpoints of a project -------------------------------------------------------------------
@router.put("/projects/{project_id}/endpoints/{endpoint_id}")
async def add_endpoint(
    request: Request, project_id: str, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:add_endpoint_to_project")
    async with manager_of(request).write() as session:
        await ef.add_endpoint(session, project_id, endpoint_id)
    return no_content()


@router.head("/projects/{project_id}/endpoints/{endpoint_id}")
@router.get("/projects/{project_id}/endpoints/{endpoint_id}")
async def check_endpoint(
    request: Request, project_id: str, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:check_endpoint_in_project")
    async with manager_of(request).read() as session:
        await ef.check_endpoint(session, project_id, endpoint_id)
    return no_content()


@router.delete("/projects/{project_id}/endpoints/{endpoint_id}")
async def remove_endpoint(
    request: Request, project_id: str, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:remove_endpoint_from_project")
    async with manager_of(request).write() as session:
        await ef.remove_endpoint(session, project_id, endpoint_id)
    return no_content()


@router.get("/projects/{project_id}/endpoints")
async def list_project_endpoints(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_endpoints_for_project")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("interface", "service_id", "region_id", "id"))
    async with mgr.read() as session:
        rows = await ef.list_endpoints(session, project_id, page)
        items = [endpoint_view(request, e) for e in rows]
    return json(list_body(request, "endpoints", items, page))


@router.get("/endpoints/{endpoint_id}/projects")
async def list_endpoint_projects(
    request: Request, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_projects_for_endpoint")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        items = await project_views(
            request, session, await ef.list_projects(session, endpoint_id, page)
        )
    return json(list_body(request, "projects", items, page))


# -- endpoint groups --------------------------------------------------------------------------
@router.post("/endpoint_groups")
async def create_group(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_endpoint_group")
    body = await body_as(request, GroupCreate)
    async with manager_of(request).write() as session:
        group = await ef.create_group(session, **body.endpoint_group.model_dump())
        return json({"endpoint_group": group_view(request, group)}, status=201)


@router.get("/endpoint_groups")
async def list_groups(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_endpoint_groups")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await ef.list_groups(session, page, name=request.query_params.get("name"))
        items = [group_view(request, g) for g in rows]
    return json(list_body(request, "endpoint_groups", items, page))


@router.get("/endpoint_groups/{endpoint_group_id}")
async def get_group(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_endpoint_group")
    async with manager_of(request).read() as session:
        group = await ef.get_group(session, endpoint_group_id)
        return json({"endpoint_group": group_view(request, group)})


@router.head("/endpoint_groups/{endpoint_group_id}")
async def check_group(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_endpoint_group")
    async with manager_of(request).read() as session:
        await ef.get_group(session, endpoint_group_id)
    return Response(status_code=200)


@router.patch("/endpoint_groups/{endpoint_group_id}")
async def update_group(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_endpoint_group")
    body = await body_as(request, GroupUpdate)
    changes = body.endpoint_group.model_dump(exclude_unset=True)
    for name in ("name", "filters"):  # the CLI sends null for what it leaves alone
        if name in changes and changes[name] is None:
            del changes[name]
    async with manager_of(request).write() as session:
        group = await ef.update_group(session, endpoint_group_id, changes)
        return json({"endpoint_group": group_view(request, group)})


@router.delete("/endpoint_groups/{endpoint_group_id}")
async def delete_group(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_endpoint_group")
    async with manager_of(request).write() as session:
        await ef.delete_group(session, endpoint_group_id)
    return no_content()


@router.get("/endpoint_groups/{endpoint_group_id}/endpoints")
async def list_group_endpoints(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_endpoints_associated_with_endpoint_group")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("interface", "service_id", "region_id", "id"))
    async with mgr.read() as session:
        rows = await ef.group_endpoints(session, endpoint_group_id, page)
        items = [endpoint_view(request, e) for e in rows]
    return json(list_body(request, "endpoints", items, page))


@router.get("/endpoint_groups/{endpoint_group_id}/projects")
async def list_group_projects(
    request: Request, endpoint_group_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_projects_associated_with_endpoint_group")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        items = await project_views(
            request, session, await ef.group_projects(session, endpoint_group_id, page)
        )
    return json(list_body(request, "projects", items, page))


# -- endpoint groups of a project -------------------------------------------------------------
@router.put("/endpoint_groups/{endpoint_group_id}/projects/{project_id}")
async def add_group(
    request: Request, endpoint_group_id: str, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:add_endpoint_group_to_project")
    async with manager_of(request).write() as session:
        await ef.add_group(session, endpoint_group_id, project_id)
    return no_content()


@router.get("/endpoint_groups/{endpoint_group_id}/projects/{project_id}")
async def get_group_project(
    request: Request, endpoint_group_id: str, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_endpoint_group_in_project")
    async with manager_of(request).read() as session:
        project = await ef.group_project(session, endpoint_group_id, project_id)
        [view] = await project_views(request, session, [project])
        return json({"project": view})


@router.head("/endpoint_groups/{endpoint_group_id}/projects/{project_id}")
async def check_group_project(
    request: Request, endpoint_group_id: str, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_endpoint_group_in_project")
    async with manager_of(request).read() as session:
        await ef.group_project(session, endpoint_group_id, project_id)
    return Response(status_code=200)


@router.delete("/endpoint_groups/{endpoint_group_id}/projects/{project_id}")
async def remove_group(
    request: Request, endpoint_group_id: str, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:remove_endpoint_group_from_project")
    async with manager_of(request).write() as session:
        await ef.remove_group(session, endpoint_group_id, project_id)
    return no_content()


@router.get("/projects/{project_id}/endpoint_groups")
async def list_project_groups(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_endpoint_groups_for_project")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    async with mgr.read() as session:
        rows = await ef.project_groups(session, project_id, page)
        items = [group_view(request, g) for g in rows]
    return json(list_body(request, "endpoint_groups", items, page))
