"""/resource_providers/{uuid}/aggregates (1.1; generations from 1.19)"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.microversions import since
from onestack.placement import aggregates
from onestack.placement import providers as rps
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    UUID_SCHEMA,
    Caller,
    conflict,
    json_body,
    normalize_uuid,
    version,
)
from onestack.placement.manager import manager_of
from onestack.placement.views import cache_headers

router = protected_router()
PATH = "/resource_providers/{uuid}/aggregates"
LIST = {"type": "array", "items": UUID_SCHEMA, "uniqueItems": True}
WITH_GENERATION = {
    "type": "object",
    "properties": {
        "aggregates": LIST,
        "resource_provider_generation": {"type": "integer", "minimum": 0},
    },
    "required": ["aggregates", "resource_provider_generation"],
    "additionalProperties": False,
}


def _body(aggs: list[str], generation: int, v: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"aggregates": aggs}
    if v >= "1.19":
        body["resource_provider_generation"] = generation
    return body


@router.get(PATH, dependencies=[Depends(since("1.1"))])
async def show(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:aggregates:list")
    v = version(request)
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
        aggs = await aggregates.of_provider(conn, rp.id)
    return json(_body(aggs, rp.generation, v), headers=cache_headers(v, rp.updated_at))


@router.put(PATH, dependencies=[Depends(since("1.1"))])
async def update(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:aggregates:update")
    v = version(request)
    body = await json_body(request, WITH_GENERATION if v >= "1.19" else LIST)
    wanted = body["aggregates"] if v >= "1.19" else body
    wanted = [normalize_uuid(a) for a in wanted]
    async with mgr.write() as conn:
        rp = await rps.get(conn, uuid)
        if v >= "1.19" and body["resource_provider_generation"] != rp.generation:
            raise conflict(
                "Resource provider's generation already changed. Please update "
                "the generation and try again."
            )
        generation = await aggregates.set_for(conn, rp, wanted)
    return json(_body(sorted(set(wanted)), generation, v), headers=cache_headers(v))
