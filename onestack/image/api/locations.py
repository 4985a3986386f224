"""/v2/images/{id}/locations (Image API 2.17): a service registers and reads image locations."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.image import locations
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_object
from onestack.image.manager import manager_of

router = protected_router()


@router.post("/images/{image_id}/locations")
async def add_location(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    await locations.add(manager_of(request), ctx, image_id, body)
    return Response(status_code=202)


@router.get("/images/{image_id}/locations")
async def list_locations(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    return json(await locations.list_locations(manager_of(request), ctx, image_id))
