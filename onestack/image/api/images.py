"""/v2/images: create, list, show, update (JSON patch), delete, actions and tags."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, link_to, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import UnsupportedMediaType
from onestack.image import images, imports, listing, records
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_body, json_object
from onestack.image.manager import manager_of
from onestack.image.views import task_view

router = protected_router()


@router.post("/images")
async def create_image(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    body = await json_object(request)
    record = await images.create(mgr, ctx, body)
    headers = {
        "Location": link_to(request, f"/v2/images/{record.id}"),
        "OpenStack-image-store-ids": ",".join(mgr.stores),
    }
    if mgr.conf.enabled_import_methods:
        headers["OpenStack-image-import-methods"] = ",".join(mgr.conf.enabled_import_methods)
    return json(records.render(mgr, ctx, record), status=201, headers=headers)


@router.get("/images")
async def list_images(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "get_images", {"project_id": ctx.project_id})
    params = request.query_params
    query = listing.parse(mgr, params)
    async with mgr.read() as session:
        found, full_page = await listing.list_images(mgr, session, ctx, query)
    body: dict[str, Any] = {"images": [records.render(mgr, ctx, r) for r in found]}
    body.update(listing.links(params, found, full_page))
    return json(body)


@router.get("/images/{image_id}")
async def show_image(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    async with mgr.read() as session:
        record = await records.get_visible(mgr, session, ctx, image_id)
    return json(records.render(mgr, ctx, record))


@router.patch("/images/{image_id}")
async def update_image(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    draft = images.PATCH_TYPES.get(content_type)
    if draft is None:
        raise UnsupportedMediaType(
            f"Content type {content_type or 'None'} is not supported for PATCH.",
            headers={"Accept-Patch": ", ".join(sorted(images.PATCH_TYPES))},
        )
    changes = images.parse_patch(await json_body(request), draft)
    record = await images.patch(mgr, ctx, image_id, changes, draft)
    return json(records.render(mgr, ctx, record))


@router.delete("/images/{image_id}")
async def delete_image(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    await images.delete_image(manager_of(request), ctx, image_id)
    return no_content()


@router.post("/images/{image_id}/actions/deactivate")
async def deactivate(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    await images.set_active(manager_of(request), ctx, image_id, False)
    return no_content()


@router.post("/images/{image_id}/actions/reactivate")
async def reactivate(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    await images.set_active(manager_of(request), ctx, image_id, True)
    return no_content()


@router.put("/images/{image_id}/tags/{tag}")
async def add_tag(
    request: Request, image_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    await images.add_tag(manager_of(request), ctx, image_id, tag)
    return no_content()


@router.delete("/images/{image_id}/tags/{tag}")
async def delete_tag(
    request: Request, image_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    await images.delete_tag(manager_of(request), ctx, image_id, tag)
    return no_content()


@router.get("/images/{image_id}/tasks")
async def image_tasks(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    tasks = await imports.image_tasks(manager_of(request), ctx, image_id)
    return json({"tasks": [task_view(t) for t in tasks]})
