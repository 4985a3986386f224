"""Discovery: /v2/info/import, /v2/info/stores[/detail], /v2/info/usage, /v2/schemas/*, and
DELETE /v2/stores/{store_id}/{image_id}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import NotFound
from onestack.image import caching, images
from onestack.image.api import protected_router
from onestack.image.api.common import Caller
from onestack.image.manager import manager_of
from onestack.image.schemas import metadef_schemas, schemas

router = protected_router()


@router.get("/info/import")
async def import_info(request: Request, ctx: RequestContext = Caller) -> Response:
    methods = manager_of(request).conf.enabled_import_methods
    return json(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": methods,
            }
        }
    )


def _stores(request: Request) -> list[dict[str, Any]]:
    mgr = manager_of(request)
    out = []
    for store_id in mgr.stores:
        conf = mgr.conf.stores.get(store_id)
        entry: dict[str, Any] = {"id": store_id}
        if conf is not None and conf.description:
            entry["description"] = conf.description
        if store_id == mgr.default_store:
            entry["default"] = "true"
        out.append(entry)
    return out


@router.get("/info/stores")
async def stores_info(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"stores": _stores(request)})


@router.get("/info/stores/detail")
async def stores_detail(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "stores_info_detail", {"project_id": ctx.project_id})
    detail = []
    for entry in _stores(request):
        store = mgr.stores[entry["id"]]
        conf = mgr.conf.stores.get(entry["id"])
        kind = conf.type if conf is not None else "file"
        properties: dict[str, Any] = {}
        path = getattr(store, "path", None)
        if isinstance(path, Path):
            properties = {
                "data_dir": str(path),
                "chunk_size": getattr(store, "chunk_size", None),
                "thin_provisioning": False,
            }
        detail.append(
            {
                **entry,
                "type": kind,
                "properties": properties,
                "weight": conf.weight if conf is not None else 0,
            }
        )
    return json({"stores": detail})


@router.get("/info/usage")
async def usage(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    if ctx.project_id is None:
        return json({"usage": {}})
    async with mgr.read() as session:
        report = await mgr.quotas.report(session, ctx.project_id)
    return json({"usage": report})


@router.get("/schemas/{name}")
async def schema(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    found = schemas(manager_of(request).conf).get(name)
    if found is None:
        raise NotFound(f"Schema {name} not found")
    return json(found)


@router.get("/schemas/metadefs/{name}")
async def metadef_schema(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    found = metadef_schemas().get(name)
    if found is None:
        raise NotFound(f"Schema metadefs/{name} not found")
    return json(found)


@router.delete("/stores/{store_id}/{image_id}")
async def delete_from_store(
    request: Request, store_id: str, image_id: str, ctx: RequestContext = Caller
) -> Response:
    await images.delete_from_store(manager_of(request), ctx, store_id, image_id)
    return no_content()


# The image cache API (/v2/cache, Image API 2.14): 404 where caching is not enabled.
@router.get("/cache")
async def cache_list(request: Request, ctx: RequestContext = Caller) -> Response:
    return json(await caching.listing(manager_of(request), ctx))


@router.put("/cache/{image_id}")
async def cache_image(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    await caching.queue(manager_of(request), ctx, image_id)
    return Response(status_code=202)


@router.delete("/cache/{image_id}")
async def cache_delete(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    await caching.delete(manager_of(request), ctx, image_id)
    return no_content()


@router.delete("/cache")
async def cache_clear(request: Request, ctx: RequestContext = Caller) -> Response:
    await caching.clear(manager_of(request), ctx, request.headers.get(caching.CLEAR_TARGET))
    return no_content()
