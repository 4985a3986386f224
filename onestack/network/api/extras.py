"""/v2.0/quotas, /rbac-policies, tags of every taggable resource, /availability_zones,
/network-ip-availabilities, /auto-allocated-topology, /segments and /address-groups."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import delete, select
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.network import (
    auto_allocate,
    crud,
    floatingips,
    networks,
    others,
    ports,
    quotas,
    rbac,
    routers,
    secgroups,
    subnetpools,
    subnets,
    trunks,
)
from onestack.network.api import Caller, crud_routes, json_body, protected_router
from onestack.network.errors import bad_request, not_found
from onestack.network.manager import manager_of
from onestack.network.models import Tag

router = protected_router()

crud_routes(
    router,
    rbac.RES,
    path="rbac-policies",
    create=rbac.create,
    list_=rbac.list_policies,
    show=rbac.show,
    update=rbac.update_policy,
    delete=rbac.delete_policy,
)
crud_routes(
    router,
    others.SEGMENTS,
    create=others.create_segment,
    list_=others.list_segments,
    show=others.show_segment,
    update=others.update_segment,
    delete=others.delete_segment,
)
crud_routes(
    router,
    others.GROUPS,
    path="address-groups",
    create=others.create_ag,
    list_=others.list_ag,
    show=others.show_ag,
    update=others.update_ag,
    delete=others.delete_ag,
)


@router.put("/address-groups/{group_id}/add_addresses")
async def add_addresses(request: Request, group_id: str, ctx: RequestContext = Caller) -> Response:
    out = await others.change_addresses(
        manager_of(request), ctx, group_id, await json_body(request), add=True
    )
    return json({"address_group": out})


@router.put("/address-groups/{group_id}/remove_addresses")
async def remove_addresses(
    request: Request, group_id: str, ctx: RequestContext = Caller
) -> Response:
    out = await others.change_addresses(
        manager_of(request), ctx, group_id, await json_body(request), add=False
    )
    return json({"address_group": out})


# -- quotas -------------------------------------------------------------------------------------
@router.get("/quotas")
async def list_quotas(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"quotas": await quotas.list_all(manager_of(request), ctx)})


@router.get("/quotas/project")
@router.get("/quotas/tenant")
async def own_project(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"tenant": {"tenant_id": ctx.project_id}, "project": {"id": ctx.project_id}})


@router.get("/quotas/{project_id}")
async def show_quota(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    return json({"quota": await quotas.show(manager_of(request), ctx, project_id)})


@router.get("/quotas/{project_id}/default")
async def default_quota(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    return json({"quota": quotas.defaults(manager_of(request), ctx, project_id)})


@router.get("/quotas/{project_id}/details")
@router.get("/quotas/{project_id}/details.json")
async def quota_details(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    return json({"quota": await quotas.details(manager_of(request), ctx, project_id)})


@router.put("/quotas/{project_id}")
async def update_quota(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    return json({"quota": await quotas.update(manager_of(request), ctx, project_id, body)})


@router.delete("/quotas/{project_id}")
async def reset_quota(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    await quotas.reset(manager_of(request), ctx, project_id)
    return no_content()


# -- availability zones, IP availability, auto-allocated topology -----------------------------
@router.get("/availability_zones")
async def zones(request: Request, ctx: RequestContext = Caller) -> Response:
    items = others.availability_zones(manager_of(request), ctx)
    params = request.query_params
    for key in ("name", "resource", "state"):
        if params.get(key):
            items = [z for z in items if z[key] in params.getlist(key)]
    return json({"availability_zones": items})


@router.get("/network-ip-availabilities")
async def ip_availabilities(request: Request, ctx: RequestContext = Caller) -> Response:
    items = await others.ip_availability(manager_of(request), ctx, None, request.query_params)
    return json({"network_ip_availabilities": items})


@router.get("/network-ip-availabilities/{network_id}")
async def ip_availability(
    request: Request, network_id: str, ctx: RequestContext = Caller
) -> Response:
    items = await others.ip_availability(manager_of(request), ctx, network_id, request.query_params)
    return json({"network_ip_availability": items[0]})


@router.get("/auto-allocated-topology/{project_id}")
async def auto_topology(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    dry = "dry-run" in request.query_params.getlist("fields")
    out = await auto_allocate.get(manager_of(request), ctx, project_id, dry_run=dry)
    return json({"auto_allocated_topology": out})


@router.delete("/auto-allocated-topology/{project_id}")
async def delete_auto_topology(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    await auto_allocate.delete_topology(manager_of(request), ctx, project_id)
    return no_content()


# -- tags ---------------------------------------------------------------------------------------
TAGGABLE: dict[str, Any] = {
    "networks": networks.get_visible,
    "subnets": subnets.get_visible,
    "ports": ports.get_visible,
    "routers": routers.get_visible,
    "floatingips": floatingips.get_visible,
    "security-groups": secgroups.get_visible,
    "security_groups": secgroups.get_visible,
    "subnetpools": subnetpools.get_visible,
    "address-scopes": subnetpools.get_scope,
    "trunks": trunks.get_visible,
    "address_scopes": subnetpools.get_scope,
}
MAX_TAG = 255


def _tag(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TAG:
        raise bad_request(
            f"Invalid input for operation: '{value}' is not a valid tag (a "
            f"string of 1 to {MAX_TAG} characters)."
        )
    return value


async def _owned(
    request: Request, ctx: RequestContext, collection: str, item_id: str, session: Any, write: bool
) -> Any:
    getter = TAGGABLE.get(collection)
    if getter is None:
        raise not_found("NotFound", "Resource collection", collection)
    mgr = manager_of(request)
    row = await getter(mgr, session, ctx, item_id)
    if write:
        mgr.enforce(ctx, "update_tags", {"project_id": row.project_id})
    return row


async def _tags(session: Any, item_id: str) -> list[str]:
    return sorted(
        (await session.execute(select(Tag.tag).where(Tag.resource_id == item_id))).scalars()
    )


@router.get("/{collection}/{item_id}/tags")
async def list_tags(
    request: Request, collection: str, item_id: str, ctx: RequestContext = Caller
) -> Response:
    async with manager_of(request).read() as session:
        await _owned(request, ctx, collection, item_id, session, write=False)
        return json({"tags": await _tags(session, item_id)})


@router.get("/{collection}/{item_id}/tags/{tag}")
async def has_tag(
    request: Request, collection: str, item_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    async with manager_of(request).read() as session:
        await _owned(request, ctx, collection, item_id, session, write=False)
        if tag not in await _tags(session, item_id):
            raise not_found("TagNotFound", f"Tag {tag} could not be found for resource", item_id)
    return no_content()


@router.put("/{collection}/{item_id}/tags")
async def replace_tags(
    request: Request, collection: str, item_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        raise bad_request("Invalid input for operation: a body {'tags': [...]} is required.")
    wanted = sorted({_tag(t) for t in body["tags"]})
    mgr = manager_of(request)

    async def work(session: Any) -> list[str]:
        row = await _owned(request, ctx, collection, item_id, session, write=True)
        await session.execute(delete(Tag).where(Tag.resource_id == item_id))
        for tag in wanted:
            session.add(Tag(resource_id=item_id, tag=tag))
        crud.bump(row)
        return wanted

    return json({"tags": await mgr.transaction(work)})


@router.put("/{collection}/{item_id}/tags/{tag}")
async def add_tag(
    request: Request, collection: str, item_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    _tag(tag)
    mgr = manager_of(request)

    async def work(session: Any) -> None:
        row = await _owned(request, ctx, collection, item_id, session, write=True)
        if tag not in await _tags(session, item_id):
            session.add(Tag(resource_id=item_id, tag=tag))
            crud.bump(row)

    await mgr.transaction(work)
    return Response(status_code=201)


@router.delete("/{collection}/{item_id}/tags")
async def clear_tags(
    request: Request, collection: str, item_id: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)

    async def work(session: Any) -> None:
        row = await _owned(request, ctx, collection, item_id, session, write=True)
        await session.execute(delete(Tag).where(Tag.resource_id == item_id))
        crud.bump(row)

    await mgr.transaction(work)
    return no_content()


@router.delete("/{collection}/{item_id}/tags/{tag}")
async def delete_tag(
    request: Request, collection: str, item_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)

    async def work(session: Any) -> None:
        row = await _owned(request, ctx, collection, item_id, session, write=True)
        if tag not in await _tags(session, item_id):
            raise not_found("TagNotFound", f"Tag {tag} could not be found for resource", item_id)
        await session.execute(delete(Tag).where(Tag.resource_id == item_id, Tag.tag == tag))
        crud.bump(row)

    await mgr.transaction(work)
    return no_content()
