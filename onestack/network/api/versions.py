"""Version discovery at /networking and /networking/v2.0 (its resource list)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import base_url, json
from onestack.network.api import public_router

router = public_router()
RESOURCES = (
    "subnet",
    "network",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "subnetpool",
    "address_scope",
    "address_group",
    "rbac_policy",
    "agent",
    "availability_zone",
    "quota",
    "segment",
    "network_ip_availability",
)


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{base_url(request)}/v2.0/"}],
    }


@router.get("/")
async def root(request: Request) -> Response:
    return json({"versions": [_version(request)]})


@router.get("/v2.0")
@router.get("/v2.0/")
async def v2(request: Request) -> Response:
    base = f"{base_url(request)}/v2.0"
    plural = {"policy": "policies", "availability": "availabilities"}

    def collection(name: str) -> str:
        last = name.rsplit("_", 1)[-1]
        if last in plural:
            return name[: -len(last)] + plural[last]
        return name + ("" if name.endswith("s") else "s")

    return json(
        {
            "resources": [
                {
                    "name": name,
                    "collection": collection(name),
                    "links": [{"rel": "self", "href": f"{base}/{collection(name)}"}],
                }
                for name in RESOURCES
            ]
        }
    )
