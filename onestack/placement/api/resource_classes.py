"""/resource_classes and /resource_classes/{name} (1.2; PUT creates from 1.7)"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.microversions import since
from onestack.placement import classes
from onestack.placement.api import protected_router
from onestack.placement.api.common import Caller, json_body, location_to, path_to, version
from onestack.placement.manager import manager_of
from onestack.placement.views import cache_headers

router = protected_router(dependencies=[Depends(since("1.2"))])
BODY = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}},
    "required": ["name"],
    "additionalProperties": False,
}


def _view(request: Request, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "links": [{"rel": "self", "href": path_to(request, f"/resource_classes/{name}")}],
    }


@router.get("/resource_classes")
async def list_(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_classes:list")
    async with mgr.read() as conn:
        names = await classes.list_classes(conn)
    return json(
        {"resource_classes": [_view(request, n) for n in names]},
        headers=cache_headers(version(request)),
    )


@router.post("/resource_classes")
async def create(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_classes:create")
    body = await json_body(request, BODY)
    async with mgr.write() as conn:
        await classes.create(mgr, conn, body["name"])
    location = location_to(request, f"/resource_classes/{body['name']}")
    return Response(status_code=201, headers={"location": location})


@router.get("/resource_classes/{name}")
async def show(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_classes:show")
    async with mgr.read() as conn:
        await classes.existing(mgr, conn, name)
    return json(_view(request, name), headers=cache_headers(version(request)))


@router.put("/resource_classes/{name}")
async def update(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_classes:update")
    v = version(request)
    if v >= "1.7":
        async with mgr.write() as conn:
            created = await classes.create(mgr, conn, name, exists_ok=True)
        location = location_to(request, f"/resource_classes/{name}")
        return Response(status_code=201 if created else 204, headers={"location": location})
    body = await json_body(request, BODY)
    async with mgr.write() as conn:
        await classes.rename(mgr, conn, name, body["name"])
    return json(_view(request, body["name"]))


@router.delete("/resource_classes/{name}")
async def delete(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_classes:delete")
    async with mgr.write() as conn:
        await classes.remove(mgr, conn, name)
    return no_content()
