"""/traits, /traits/{name} and /resource_providers/{uuid}/traits (1.6)"""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.microversions import since
from onestack.placement import providers as rps
from onestack.placement import traits
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    Caller,
    bad_request,
    conflict,
    json_body,
    location_to,
    not_found,
    query,
    version,
)
from onestack.placement.manager import manager_of
from onestack.placement.names import NAME_RE
from onestack.placement.views import cache_headers

router = protected_router(dependencies=[Depends(since("1.6"))])
TRAIT = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}
PROVIDER_TRAITS = {
    "type": "object",
    "properties": {
        "traits": {"type": "array", "items": TRAIT, "uniqueItems": True},
        "resource_provider_generation": {"type": "integer", "minimum": 0},
    },
    "required": ["traits", "resource_provider_generation"],
    "additionalProperties": False,
}


@router.get("/traits")
async def list_(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:traits:list")
    query(request, ["name", "associated"])
    prefix = names = associated = None
    name = request.query_params.get("name")
    if name is not None:
        if name.startswith("startswith:"):
            prefix = name[len("startswith:") :]
        elif name.startswith("in:"):
            names = [n.strip() for n in name[3:].split(",") if n.strip()]
        else:
            raise bad_request(
                f"Badly formatted name parameter. Expected name query string "
                f"parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. "
                f'Got: "{name}"',
                "placement.query.bad_value",
            )
    if "associated" in request.query_params:
        value = request.query_params["associated"].lower()
        if value not in ("true", "false"):
            raise bad_request(
                "Invalid query string parameters: 'associated' must be true or false.",
                "placement.query.bad_value",
            )
        associated = value == "true"
    async with mgr.read() as conn:
        found = await traits.list_traits(conn, prefix=prefix, names=names, associated=associated)
    return json({"traits": found}, headers=cache_headers(version(request)))


@router.get("/traits/{name}")
async def show(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:traits:show")
    async with mgr.read() as conn:
        if await mgr.traits.id_of(conn, name) is None:
            raise not_found(f"No such trait(s): {name}.")
    return no_content(cache_headers(version(request)))


@router.put("/traits/{name}")
async def create(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:traits:update")
    if not NAME_RE.match(name) or len(name) > 255:
        raise bad_request(
            f"The trait is invalid. A valid trait must be no longer than 255 "
            f'characters, start with the prefix "CUSTOM_" and use following '
            f'characters: "A"-"Z", "0"-"9" and "_". Got: {name}'
        )
    async with mgr.write() as conn:
        created = await traits.ensure(mgr, conn, name)
    headers = {
        "location": location_to(request, f"/traits/{name}"),
        **cache_headers(version(request)),
    }
    return Response(status_code=201 if created else 204, headers=headers)


@router.delete("/traits/{name}")
async def delete(request: Request, name: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:traits:delete")
    async with mgr.write() as conn:
        await traits.remove(mgr, conn, name)
    return no_content()


@router.get("/resource_providers/{uuid}/traits")
async def provider_traits(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:traits:list")
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
        names = await traits.of_provider(mgr, conn, rp.id)
    return json(
        {"traits": names, "resource_provider_generation": rp.generation},
        headers=cache_headers(version(request), rp.updated_at),
    )


@router.put("/resource_providers/{uuid}/traits")
async def set_provider_traits(
    request: Request, uuid: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:traits:update")
    body = await json_body(request, PROVIDER_TRAITS)
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        if body["resource_provider_generation"] != rp.generation:
            raise conflict(
                "Resource provider's generation already changed. Please update "
                "the generation and try again."
            )
        generation = await traits.set_for(mgr, conn, rp, body["traits"])
    return json(
        {"traits": sorted(body["traits"]), "resource_provider_generation": generation},
        headers=cache_headers(version(request)),
    )


@router.delete("/resource_providers/{uuid}/traits")
async def clear_provider_traits(
    request: Request, uuid: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:traits:delete")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        await traits.set_for(mgr, conn, rp, [])
    return no_content()
