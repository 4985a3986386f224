"""/allocations/{consumer_uuid}, POST /allocations (1.13) and
/resource_providers/{uuid}/allocations"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.microversions import Version, since
from onestack.placement import allocations
from onestack.placement import providers as rps
from onestack.placement.allocations import MISSING, ConsumerClaim
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    MAX_INT,
    RC_NAME,
    UUID_SCHEMA,
    Caller,
    json_body,
    normalize_uuid,
    version,
)
from onestack.placement.manager import manager_of
from onestack.placement.views import cache_headers

router = protected_router()
RESOURCES = {
    "type": "object",
    "minProperties": 1,
    "patternProperties": {RC_NAME: {"type": "integer", "minimum": 1, "maximum": MAX_INT}},
    "additionalProperties": False,
}
ID = {"type": "string", "minLength": 1, "maxLength": 255}
CONSUMER_TYPE = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}


def _allocations_schema(v: Version, *, many: bool) -> dict[str, Any]:
    if v < "1.12":
        allocs: dict[str, Any] = {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "resource_provider": {
                        "type": "object",
                        "properties": {"uuid": UUID_SCHEMA},
                        "required": ["uuid"],
                        "additionalProperties": False,
                    },
                    "resources": RESOURCES,
                },
                "required": ["resource_provider", "resources"],
                "additionalProperties": False,
            },
        }
    else:
        allocs = {
            "type": "object",
            "patternProperties": {
                UUID_SCHEMA["pattern"]: {
                    "type": "object",
                    "properties": {"resources": RESOURCES, "generation": {}},
                    "required": ["resources"],
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        }
        if v < "1.28" and not many:
            allocs["minProperties"] = 1
    props: dict[str, Any] = {"allocations": allocs, "project_id": ID, "user_id": ID}
    required = ["allocations"]
    if v >= "1.8":
        required += ["project_id", "user_id"]
    if v >= "1.28":
        props["consumer_generation"] = {"type": ["integer", "null"], "minimum": 0}
        required.append("consumer_generation")
    if v >= "1.38":
        props["consumer_type"] = CONSUMER_TYPE
        required.append("consumer_type")
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def _claim(uuid: str, body: dict[str, Any], v: Version) -> ConsumerClaim:
    given = body["allocations"]
    if v < "1.12":
        resources: dict[str, dict[str, int]] = {}
        for entry in given:
            rp = normalize_uuid(entry["resource_provider"]["uuid"])
            merged = resources.setdefault(rp, {})
            for rc, n in entry["resources"].items():
                merged[rc] = merged.get(rc, 0) + n
    else:
        resources = {normalize_uuid(rp): dict(e["resources"]) for rp, e in given.items()}
    return ConsumerClaim(
        uuid=uuid,
        resources=resources,
        project_id=body.get("project_id"),
        user_id=body.get("user_id"),
        generation=body["consumer_generation"] if v >= "1.28" else MISSING,
        consumer_type=body.get("consumer_type"),
    )


def _default_ids(claim: ConsumerClaim, ctx: RequestContext) -> None:
    """Before 1.8 the project and user were optional: the caller's stand in."""
    claim.project_id = claim.project_id or ctx.project_id or "unknown"
    claim.user_id = claim.user_id or ctx.user_id or "unknown"


@router.get("/allocations/{consumer_uuid}")
async def show(request: Request, consumer_uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:allocations:list")
    v = version(request)
    async with mgr.read() as conn:
        row, found = await allocations.of_consumer(mgr, conn, consumer_uuid)
    body: dict[str, Any] = {
        "allocations": {
            rp: ({"generation": e["generation"], "resources": e["resources"]})
            for rp, e in found.items()
        }
    }
    if row is not None and v >= "1.12":
        body["project_id"] = row.project_id
        body["user_id"] = row.user_id
    if row is not None and v >= "1.28":
        body["consumer_generation"] = row.generation
    if row is not None and v >= "1.38":
        body["consumer_type"] = row.type_name or "unknown"
    return json(body, headers=cache_headers(v, row.updated_at if row is not None else None))


@router.put("/allocations/{consumer_uuid}")
async def put(request: Request, consumer_uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:allocations:update")
    v = version(request)
    uuid = normalize_uuid(consumer_uuid)
    body = await json_body(request, _allocations_schema(v, many=False))
    claim = _claim(uuid, body, v)
    _default_ids(claim, ctx)
    await allocations.write_retrying(mgr, [claim])
    return no_content()


@router.post("/allocations", dependencies=[Depends(since("1.13"))])
async def post_many(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:allocations:manage")
    v = version(request)
    one = _allocations_schema(v, many=True)
    schema = {
        "type": "object",
        "minProperties": 1,
        "patternProperties": {UUID_SCHEMA["pattern"]: one},
        "additionalProperties": False,
    }
    body = await json_body(request, schema)
    claims = [_claim(normalize_uuid(c), entry, v) for c, entry in body.items()]
    for claim in claims:
        _default_ids(claim, ctx)
    await allocations.write_retrying(mgr, claims)
    return no_content()


@router.delete("/allocations/{consumer_uuid}")
async def delete(request: Request, consumer_uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:allocations:delete")
    async with mgr.write() as conn:
        await allocations.delete_consumer(conn, consumer_uuid)
    return no_content()


@router.get("/resource_providers/{uuid}/allocations")
async def provider_allocations(
    request: Request, uuid: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:allocations:list")
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
        found = await allocations.of_provider(mgr, conn, rp.id)
    return json(
        {"allocations": found, "resource_provider_generation": rp.generation},
        headers=cache_headers(version(request), rp.updated_at),
    )
