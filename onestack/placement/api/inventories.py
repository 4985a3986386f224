"""/resource_providers/{uuid}/inventories[/{resource_class}]"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.microversions import Version, since
from onestack.placement import providers as rps
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    MAX_INT,
    RC_NAME,
    Caller,
    bad_request,
    conflict,
    json_body,
    location_to,
    not_found,
    version,
)
from onestack.placement.inventories import Inventory, inventory_of, of_provider, replace
from onestack.placement.manager import PlacementManager, manager_of
from onestack.placement.views import cache_headers

router = protected_router()
BASE = "/resource_providers/{uuid}/inventories"

_FIELDS: dict[str, Any] = {
    "total": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "reserved": {"type": "integer", "maximum": MAX_INT, "minimum": 0},
    "min_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "max_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "step_size": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
    "allocation_ratio": {"type": "number", "maximum": 3.40282e38, "exclusiveMinimum": 0},
}
GENERATION = {"type": "integer", "minimum": 0}
ONE = {
    "type": "object",
    "properties": _FIELDS,
    "required": ["total"],
    "additionalProperties": False,
}
PUT_ALL = {
    "type": "object",
    "properties": {
        "resource_provider_generation": GENERATION,
        "inventories": {
            "type": "object",
            "patternProperties": {RC_NAME: ONE},
            "additionalProperties": False,
        },
    },
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}
POST_ONE = {
    "type": "object",
    "properties": {
        "resource_class": {"type": "string", "pattern": RC_NAME},
        "resource_provider_generation": GENERATION,
        **_FIELDS,
    },
    "required": ["resource_class", "total", "resource_provider_generation"],
    "additionalProperties": False,
}
PUT_ONE = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION, **_FIELDS},
    "required": ["total", "resource_provider_generation"],
    "additionalProperties": False,
}


async def _names(mgr: PlacementManager, conn: Any, invs: dict[int, Inventory]) -> dict[int, str]:
    return {rc: await mgr.classes.name_of(conn, rc) for rc in invs}


async def _wanted(
    mgr: PlacementManager, conn: Any, given: dict[str, dict[str, Any]], v: Version
) -> dict[int, Inventory]:
    ids, unknown = await mgr.classes.ids_of(conn, set(given))
    if unknown:
        raise bad_request(f"Unknown resource class in inventory: {', '.join(sorted(unknown))}")
    return {
        ids[rc]: inventory_of(values, reserved_may_equal_total=v >= "1.26", rc=rc)
        for rc, values in given.items()
    }


def _listing(invs: dict[str, Inventory], generation: int) -> dict[str, Any]:
    return {
        "inventories": {rc: inv.as_dict() for rc, inv in invs.items()},
        "resource_provider_generation": generation,
    }


@router.get(BASE)
async def list_(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:list")
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
        invs = await of_provider(conn, rp.id)
        names = await _names(mgr, conn, invs)
    return json(
        _listing({names[rc]: i for rc, i in invs.items()}, rp.generation),
        headers=cache_headers(version(request), rp.updated_at),
    )


@router.put(BASE)
async def put_all(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:update")
    v = version(request)
    body = await json_body(request, PUT_ALL)
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        wanted = await _wanted(mgr, conn, body["inventories"], v)
        current = await of_provider(conn, rp.id)
        names = await _names(mgr, conn, {**current, **wanted})
        generation = await replace(
            conn, rp, body["resource_provider_generation"], wanted, names=names
        )
    return json(_listing({names[rc]: i for rc, i in wanted.items()}, generation))


@router.post(BASE)
async def create_one(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:create")
    v = version(request)
    body = await json_body(request, POST_ONE)
    rc_name = body.pop("resource_class")
    generation_given = body.pop("resource_provider_generation")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        wanted = await _wanted(mgr, conn, {rc_name: body}, v)
        ((rc_id, inv),) = wanted.items()
        current = await of_provider(conn, rp.id)
        if rc_id in current:
            raise conflict(
                f"Update conflict: Inventory for {rc_name} on resource provider "
                f"{uuid} already exists.",
                None,
            )
        generation = await replace(
            conn, rp, generation_given, wanted, names={rc_id: rc_name}, only={rc_id}
        )
    body = {**inv.as_dict(), "resource_provider_generation": generation}
    location = location_to(request, f"/resource_providers/{uuid}/inventories/{rc_name}")
    return json(body, status=201, headers={"location": location})


@router.delete(BASE, dependencies=[Depends(since("1.5", status=405))])
async def delete_all(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:delete")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        current = await of_provider(conn, rp.id)
        names = await _names(mgr, conn, current)
        await replace(conn, rp, rp.generation, {}, names=names)
    return no_content()


async def _one(
    mgr: PlacementManager, conn: Any, uuid: str, rc_name: str
) -> tuple[rps.Provider, int, Inventory]:
    rp = await rps.get(conn, uuid)
    rc_id = await mgr.classes.id_of(conn, rc_name)
    inv = (await of_provider(conn, rp.id)).get(rc_id) if rc_id is not None else None
    if rc_id is None or inv is None:
        raise not_found(f"No inventory of class {rc_name} for {uuid}")
    return rp, rc_id, inv


@router.get(BASE + "/{resource_class}")
async def show(
    request: Request, uuid: str, resource_class: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:show")
    async with mgr.read() as conn:
        rp, _, inv = await _one(mgr, conn, uuid, resource_class)
    return json(
        {**inv.as_dict(), "resource_provider_generation": rp.generation},
        headers=cache_headers(version(request), rp.updated_at),
    )


@router.put(BASE + "/{resource_class}")
async def update_one(
    request: Request, uuid: str, resource_class: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:update")
    v = version(request)
    body = await json_body(request, PUT_ONE)
    generation_given = body.pop("resource_provider_generation")
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        rc_id = await mgr.classes.id_of(conn, resource_class)
        if rc_id is None:
            raise bad_request(f"No such resource class {resource_class}.")
        current = await of_provider(conn, rp.id)
        if rc_id not in current:
            raise bad_request(
                f"No inventory record with resource class for resource provider {uuid}"
            )
        wanted = await _wanted(mgr, conn, {resource_class: body}, v)
        generation = await replace(
            conn, rp, generation_given, wanted, names={rc_id: resource_class}, only={rc_id}
        )
    return json({**wanted[rc_id].as_dict(), "resource_provider_generation": generation})


@router.delete(BASE + "/{resource_class}")
async def delete_one(
    request: Request, uuid: str, resource_class: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:inventories:delete")
    async with mgr.write() as conn:
        rp, rc_id, _ = await _one(mgr, conn, uuid, resource_class)
        await replace(conn, rp, rp.generation, {}, names={rc_id: resource_class}, only={rc_id})
    return no_content()
