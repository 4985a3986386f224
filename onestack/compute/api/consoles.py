"""Remote consoles (``/servers/{id}/remote-consoles``, 2.6+) and their tokens
(``/os-console-auth-tokens/{token}``, admin)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.common.microversions import Version
from onestack.compute import consoles
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, body_of
from onestack.compute.core import core_of

router = protected_router()


@router.post("/servers/{server_id}/remote-consoles")
async def remote_console(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    if version < (2, 6):
        raise NotFound("The resource could not be found.")
    body = await body_of(request, "remote_console")
    extra = set(body) - {"protocol", "type"}
    if extra:
        raise BadRequest(
            "Invalid input for field/attribute remote_console: Additional properties are not "
            f"allowed ({', '.join(sorted(extra))} unexpected)"
        )
    protocol, kind = body.get("protocol"), body.get("type")
    consoles.check_request(protocol, kind, version)
    url = await consoles.create(core_of(request), ctx, server_id, protocol, kind)
    return json({"remote_console": {"protocol": protocol, "type": kind, "url": url}})


@router.get("/os-console-auth-tokens/{token}")
async def console_token(
    request: Request, token: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return json({"console": await consoles.resolve(core_of(request), ctx, token, version)})
