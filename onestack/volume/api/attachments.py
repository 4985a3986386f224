"""/attachments (3.27+): create, update with a connector, complete (3.44), delete, list."""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest
from onestack.common.microversions import since
from onestack.volume import attachments, views
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller

router = protected_router()
V327 = [Depends(since("3.27"))]


@router.post("/attachments", dependencies=V327)
async def create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    att = await attachments.create(core, ctx, await body_of(request, "attachment"))
    return json({"attachment": views.attachment(att)})


@router.get("/attachments", dependencies=V327)
async def index(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    rows = await attachments.listing(core, ctx, dict(request.query_params))
    return json({"attachments": [views.attachment(a, detail=False) for a in rows]})


@router.get("/attachments/detail", dependencies=V327)
async def detail(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    rows = await attachments.listing(core, ctx, dict(request.query_params))
    return json({"attachments": [views.attachment(a) for a in rows]})


@router.get("/attachments/{attachment_id}", dependencies=V327)
async def show(request: Request, attachment_id: str) -> Response:
    core, ctx, _ = await caller(request)
    async with core.read() as session:
        att = await attachments.get(core, session, ctx, attachment_id)
    return json({"attachment": views.attachment(att)})


@router.put("/attachments/{attachment_id}", dependencies=V327)
async def update(request: Request, attachment_id: str) -> Response:
    core, ctx, _ = await caller(request)
    att = await attachments.update(core, ctx, attachment_id, await body_of(request, "attachment"))
    return json({"attachment": views.attachment(att)})


@router.post("/attachments/{attachment_id}/action", dependencies=[Depends(since("3.44"))])
async def action(request: Request, attachment_id: str) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    if "os-complete" not in data:
        raise BadRequest(f"There is no such action: {', '.join(data) or 'none'}")
    await attachments.complete(core, ctx, attachment_id)
    return Response(status_code=204)


@router.delete("/attachments/{attachment_id}", dependencies=V327)
async def delete(request: Request, attachment_id: str) -> Response:
    core, ctx, _ = await caller(request)
    await attachments.delete(core, ctx, attachment_id)
    return json({"attachments": []})
