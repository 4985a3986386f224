"""Version discovery at /compute and /compute/v2.1 (Nova's documents)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import base_url, json
from onestack.compute.api import public_router

router = public_router()
MIN_VERSION = "2.1"
MAX_VERSION = "2.96"


def _v21(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base_url(request)}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


@router.get("/")
async def root(request: Request) -> Response:
    v21 = _v21(request)
    v21 = {k: v for k, v in v21.items() if k not in ("media-types",)}
    v21["links"] = v21["links"][:1]
    v2 = {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base_url(request)}/v2/"}],
    }
    return json({"versions": [v2, v21]})


@router.get("/v2.1")
@router.get("/v2.1/")
async def v21(request: Request) -> Response:
    return json({"version": _v21(request)})
