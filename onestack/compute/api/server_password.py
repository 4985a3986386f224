"""``/servers/{id}/os-server-password``: the password the guest posted to the metadata API
(encrypted by the guest with the server's key), shown and cleared by its owner or an admin."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.compute import passwords
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller
from onestack.compute.core import core_of

router = protected_router()


@router.get("/servers/{server_id}/os-server-password")
async def show_password(request: Request, server_id: str, ctx: RequestContext = Caller) -> Response:
    return json({"password": await passwords.show(core_of(request), ctx, server_id)})


@router.delete("/servers/{server_id}/os-server-password", status_code=204)
async def clear_password(
    request: Request, server_id: str, ctx: RequestContext = Caller
) -> Response:
    await passwords.clear(core_of(request), ctx, server_id)
    return Response(status_code=204)
