"""/v2/images/{image_id}/members"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.image import members
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_object
from onestack.image.manager import manager_of
from onestack.image.views import member_view

router = protected_router()


@router.get("/images/{image_id}/members")
async def list_members(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    found = await members.list_members(manager_of(request), ctx, image_id)
    return json({"members": [member_view(m) for m in found], "schema": "/v2/schemas/members"})


@router.post("/images/{image_id}/members")
async def add_member(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    if "member" not in body:
        raise BadRequest("Member to be added not specified")
    member_id = body["member"]
    if not member_id:
        raise BadRequest("Member can't be empty")
    if not isinstance(member_id, str) or len(member_id) > 255:
        raise BadRequest("Member must be a project id (a string of at most 255 characters).")
    member = await members.add(manager_of(request), ctx, image_id, member_id)
    return json(member_view(member))


@router.get("/images/{image_id}/members/{member_id}")
async def show_member(
    request: Request, image_id: str, member_id: str, ctx: RequestContext = Caller
) -> Response:
    member = await members.show(manager_of(request), ctx, image_id, member_id)
    return json(member_view(member))


@router.put("/images/{image_id}/members/{member_id}")
async def update_member(
    request: Request, image_id: str, member_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    if "status" not in body:
        raise BadRequest("Status not specified")
    member = await members.set_status(manager_of(request), ctx, image_id, member_id, body["status"])
    return json(member_view(member))


@router.delete("/images/{image_id}/members/{member_id}")
async def delete_member(
    request: Request, image_id: str, member_id: str, ctx: RequestContext = Caller
) -> Response:
    await members.remove(manager_of(request), ctx, image_id, member_id)
    return no_content()
