"""/v2.1/os-keypairs: create (generate or import), list, show, delete; per user."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.common.microversions import Version
from onestack.compute import keypairs, views
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, body_of
from onestack.compute.core import core_of

router = protected_router()


def _user(
    core: Any, ctx: RequestContext, version: Version, requested: str | None, rule: str
) -> str:
    user = ctx.user_id or ""
    if requested and version >= (2, 10):
        user = requested
    core.enforce(ctx, rule, {"user_id": user, "project_id": ctx.project_id})
    return user


@router.post("/os-keypairs")
async def create_keypair(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    body = await body_of(request, "keypair")
    allowed = (
        {"name", "public_key"}
        | ({"type"} if version >= (2, 2) else set())
        | ({"user_id"} if version >= (2, 10) else set())
    )
    unknown = set(body) - allowed
    if unknown or "name" not in body:
        raise BadRequest(
            "Invalid input for field/attribute keypair: "
            + (
                "'name' is a required property"
                if "name" not in body
                else f"Additional properties are not allowed ({sorted(unknown)})"
            )
        )
    if version >= (2, 92) and "public_key" not in body:
        raise BadRequest(
            "Invalid input for field/attribute keypair: 'public_key' is a required property"
        )
    user = _user(core, ctx, version, body.get("user_id"), "os-keypairs:create")
    async with core.write() as session:
        await core.quotas.check_keypairs(session, ctx.project_id or "", user)
        pair, private = await keypairs.create(
            session, user, body["name"], body.get("type", "ssh"), body.get("public_key")
        )
    out = views.keypair_view(pair, version, detail=False)
    out["user_id"] = pair.user_id
    if private is not None:
        out["private_key"] = private
    return json({"keypair": out}, status=201 if version >= (2, 2) else 200)


@router.get("/os-keypairs")
async def list_keypairs(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    params = request.query_params
    user = _user(core, ctx, version, params.get("user_id"), "os-keypairs:index")
    limit = None
    if version >= (2, 35) and params.get("limit") is not None:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest("limit must be an integer") from None
    marker = params.get("marker") if version >= (2, 35) else None
    async with core.read() as session:
        rows = await keypairs.list_pairs(session, user, limit, marker)
    body: dict[str, Any] = {
        "keypairs": [{"keypair": views.keypair_view(p, version, detail=False)} for p in rows]
    }
    if limit and len(rows) >= limit:
        body["keypairs_links"] = [
            {"rel": "next", "href": str(request.url.include_query_params(marker=rows[-1].name))}
        ]
    return json(body)


@router.get("/os-keypairs/{name}")
async def show_keypair(
    request: Request, name: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    user = _user(core, ctx, version, request.query_params.get("user_id"), "os-keypairs:show")
    async with core.read() as session:
        pair = await keypairs.get(session, user, name)
    return json({"keypair": views.keypair_view(pair, version, detail=True)})


@router.delete("/os-keypairs/{name}")
async def delete_keypair(
    request: Request, name: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    user = _user(core, ctx, version, request.query_params.get("user_id"), "os-keypairs:delete")
    async with core.write() as session:
        pair = await keypairs.get(session, user, name)
        await session.delete(pair)
    return Response(status_code=204 if version >= (2, 2) else 202)
