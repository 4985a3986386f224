"""/resource_providers/{uuid}/usages and /usages (1.9)"""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.microversions import since
from onestack.placement import allocations
from onestack.placement import providers as rps
from onestack.placement.api import protected_router
from onestack.placement.api.common import Caller, bad_request, query, version
from onestack.placement.manager import manager_of
from onestack.placement.views import cache_headers

router = protected_router()


@router.get("/resource_providers/{uuid}/usages")
async def provider_usages(request: Request, uuid: str, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:resource_providers:usages:list")
    async with mgr.read() as conn:
        rp = await rps.get(conn, uuid)
        usages = await allocations.provider_usages(mgr, conn, rp.id)
    return json(
        {"usages": usages, "resource_provider_generation": rp.generation},
        headers=cache_headers(version(request), rp.updated_at),
    )


@router.get("/usages", dependencies=[Depends(since("1.9"))])
async def project_usages(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    v = version(request)
    query(request, ["project_id", "user_id", *(["consumer_type"] if v >= "1.38" else [])])
    project_id = request.query_params.get("project_id")
    if not project_id:
        raise bad_request(
            "Invalid query string parameters: 'project_id' is a required property",
            "placement.query.missing_value",
        )
    mgr.enforce(ctx, "placement:usages", {"project_id": project_id})
    user_id = request.query_params.get("user_id")
    consumer_type = request.query_params.get("consumer_type")
    async with mgr.read() as conn:
        usages = await allocations.project_usages(
            mgr,
            conn,
            project_id,
            user_id or None,
            by_type=v >= "1.38",
            consumer_type=consumer_type,
        )
    return json({"usages": usages}, headers=cache_headers(v))
