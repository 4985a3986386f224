"""GET / : Placement's version document (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.placement.api.common import path_to
from onestack.placement.versions import SPEC

router = APIRouter()


@router.get("/")
async def root(request: Request) -> Response:
    version = {
        "id": "v1.0",
        "max_version": str(SPEC.max_version),
        "min_version": str(SPEC.min_version),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": path_to(request, "/") or "/"}],
    }
    return json({"versions": [version]})
