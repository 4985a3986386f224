"""/resource_providers and /resource_providers/{uuid}"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.placement import providers as rps
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    UUID_SCHEMA,
    Caller,
    json_body,
    location_to,
    normalize_uuid,
    parse_member_of,
    parse_resources,
    parse_traits,
    path_to,
    query,
    version,
)
from onestack.placement.listing import ProviderFilters, list_providers
from onestack.placement.manager import manager_of
from onestack.placement.rows import gc_paused
from onestack.placement.views import cache_headers, provider_renderer, provider_view

router = protected_router()
NAME = {"type": "string", "minLength": 1, "maxLength": 200}


def _schema(v: Any, *, update: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"name": NAME}
    if not update:
        props["uuid"] = UUID_SCHEMA
    if v >= "1.14":
        props["parent_provider_uuid"] = {"anyOf": [UUID_SCHEMA, {"type": "null"}]}
    return {
        "type": "object",
        "properties": props,
        "required": ["name"],
        "additionalProperties": False,
    }


@router.get("/resource_providers")
async def list_(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:list")
    v = version(request)
    allowed = ["name", "uuid"]
    if v >= "1.3":
        allowed.append("member_of")
    if v >= "1.4":
        allowed.append("resources")
    if v >= "1.14":
        allowed.append("in_tree")
    if v >= "1.18":
        allowed.append("required")
    query(request, allowed)
    params = request.query_params
    f = ProviderFilters(name=params.get("name"))
    if "uuid" in params:
        f.uuid = normalize_uuid(params["uuid"])
    if "in_tree" in params:
        f.in_tree = normalize_uuid(params["in_tree"])
    if "member_of" in params:
        f.member_of, f.forbidden_aggs = parse_member_of(params.getlist("member_of"), v)
    if "resources" in params:
        f.resources = parse_resources(params["resources"])
    if "required" in params:
        f.required, f.forbidden = parse_traits(params.getlist("required"), v)
    if not params:
        return await _list_all(request, mgr, v)
    async with mgr.read() as conn:
        found = await list_providers(mgr, conn, f)
    latest = max((p.updated_at for p in found), default=None)
    with gc_paused():
        return json(
            {"resource_providers": list(map(provider_renderer(request, v), found))},
            headers=cache_headers(v, latest),
        )


async def _list_all(request: Request, mgr: Any, v: Any) -> Response:
    """Every provider: the rendered body is kept per link prefix and version shape and
    served again while the providers' change mark (read first, in the same transaction as
    the rows on a miss) has not moved."""
    key = (path_to(request, ""), v >= "1.1", v >= "1.6", v >= "1.11", v >= "1.14")
    async with mgr.read() as conn:
        mark = await rps.change_mark(conn)
        hit = mgr.listings.get(key)
        if hit is None or hit[0] != mark:
            found = await list_providers(mgr, conn, ProviderFilters())
            latest = max((p.updated_at for p in found), default=None)
            with gc_paused():
                body = orjson.dumps(
                    {"resource_providers": list(map(provider_renderer(request, v), found))}
                )
            if len(mgr.listings) >= 16:
                mgr.listings.clear()
            hit = mgr.listings[key] = (mark, body, latest)
    return Response(hit[1], media_type="application/json", headers=cache_headers(v, hit[2]))


@router.post("/resource_providers")
async def create(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:create")
    v = version(request)
    body = await json_body(request, _schema(v, update=False))
    uuid = normalize_uuid(body["uuid"]) if "uuid" in body else str(uuidlib.uuid4())
    parent = body.get("parent_provider_uuid")
    async with mgr.write() as conn:
        rp = await rps.create(conn, uuid, body["name"], normalize_uuid(parent) if parent else None)
    location = {"location": location_to(request, f"/resource_providers/{rp.uuid}")}
    if v >= "1.20":
        return json(provider_view(request, rp, v), headers={**location, **cache_headers(v)})
    return Response(status_code=201, headers=location)


@router.get("/resource_providers/{uuid}")
async def show(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:show")
    v = version(request)
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
    return json(provider_view(request, rp, v), headers=cache_headers(v, rp.updated_at))


@router.put("/resource_providers/{uuid}")
async def update(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:update")
    v = version(request)
    body = await json_body(request, _schema(v, update=True))
    parent = body.get("parent_provider_uuid")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        rp = await rps.update_provider(
            conn,
            rp,
            body["name"],
            normalize_uuid(parent) if parent else None,
            parent_given="parent_provider_uuid" in body,
            reparent_allowed=v >= "1.37",
        )
    return json(provider_view(request, rp, v), headers=cache_headers(v, rp.updated_at))


@router.delete("/resource_providers/{uuid}")
async def delete(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:delete")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid, for_what="for delete")
        await rps.delete_provider(conn, rp)
    return no_content()
