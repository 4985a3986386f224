"""Version discovery at /identity and /identity/v3."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import base_url, json
from onestack.common.versions import version_entry
from onestack.identity.api import public_router

router = public_router()
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _v3(request: Request) -> dict[str, object]:
    return version_entry(
        "v3.14", f"{base_url(request)}/v3/", updated="2020-04-07T00:00:00Z", media_type=MEDIA_TYPE
    )


@router.get("/")
async def versions(request: Request) -> Response:
    return json({"versions": {"values": [_v3(request)]}}, status=300)


@router.get("/v3")
@router.get("/v3/")
async def version(request: Request) -> Response:
    return json({"version": _v3(request)})
