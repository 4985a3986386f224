"""Version discovery at /volume (300 with the version list) and /volume/v3."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from onestack.common.api import base_url, json

router = APIRouter()
MIN_VERSION = "3.0"
MAX_VERSION = "3.70"


def _v3(request: Request) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{base_url(request)}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@router.get("/")
async def root(request: Request) -> Response:
    return json({"versions": [_v3(request)]}, status=300)


@router.get("/v3")
@router.get("/v3/")
async def v3(request: Request) -> Response:
    return json({"versions": [_v3(request)]})
