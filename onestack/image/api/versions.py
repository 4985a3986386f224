"""Version discovery at /image, /image/versions and /image/v2."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import base_url, json
from onestack.image.api import public_router

router = public_router()
#: Image API minor versions served (2.17 current); the API has no microversion headers.
CURRENT = 17


def _versions(request: Request) -> dict[str, Any]:
    href = f"{base_url(request)}/v2/"
    values = [
        {
            "id": f"v2.{minor}",
            "status": "CURRENT" if minor == CURRENT else "SUPPORTED",
            "links": [{"rel": "self", "href": href}],
        }
        for minor in range(CURRENT, -1, -1)
    ]
    return {"versions": values}


@router.get("/")
async def root(request: Request) -> Response:
    return json(_versions(request), status=300)


@router.get("/versions")
async def versions(request: Request) -> Response:
    return json(_versions(request))


@router.get("/v2")
@router.get("/v2/")
async def v2(request: Request) -> Response:
    return json(_versions(request), status=300)
