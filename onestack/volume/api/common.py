"""What the Block Storage handlers share: the caller, the version, JSON bodies, pages."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from onestack.common.api import _has_nul, base_url
from onestack.common.auth import authenticated
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.common.microversions import Version, microversion
from onestack.common.pagination import PageRequest, page_request
from onestack.volume.core import VolumeCore, core_of


async def checked_project(request: Request) -> RequestContext:
    """The caller; a URL naming another project than the token's is a 400 (unless admin)."""
    ctx = await authenticated(request)
    named = request.path_params.get("project_id")
    if named and named != ctx.project_id and not core_of(request).is_admin(ctx):
        raise BadRequest(
            f"Malformed request URL: URL's project_id '{named}' doesn't match Context's "
            f"project_id '{ctx.project_id}'"
        )
    return ctx


async def caller(request: Request) -> tuple[VolumeCore, RequestContext, Version]:
    ctx = await authenticated(request)
    return core_of(request), ctx, microversion(request)


def root(request: Request) -> str:
    """The service root (``.../volume``) links are built from."""
    return base_url(request)


def url_project(request: Request) -> str | None:
    value = request.path_params.get("project_id")
    return str(value) if value else None


async def body_of(request: Request, key: str | None = None) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("The request body is empty; a JSON object is required.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed request body: the body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    if _has_nul(data):
        raise BadRequest("Invalid input: strings must not contain NUL characters.")
    if key is None:
        return data
    if key not in data:
        raise BadRequest(f"Missing required element '{key}' in request body.")
    if not isinstance(data[key], dict):
        raise BadRequest(f"Invalid input for field/attribute {key}: it must be an object.")
    return data[key]


def page(request: Request, core: VolumeCore, sortable: tuple[str, ...]) -> PageRequest:
    params = dict(request.query_params)
    if "offset" in params:
        raise BadRequest("offset is not supported; use marker.")
    return page_request(
        params,
        max_limit=core.conf.osapi_max_limit,
        sortable=sortable,
        default_sort=(("created_at", "desc"),),
    )


def next_link(request: Request, items: list[Any], pg: PageRequest) -> list[dict[str, str]]:
    """``[{"rel": "next", "href"}]`` when a full page was requested with ``limit``."""
    if "limit" not in request.query_params or not pg.limit or len(items) < pg.limit:
        return []
    from urllib.parse import urlencode

    params = dict(request.query_params)
    params["marker"] = items[-1].id
    return [{"rel": "next", "href": f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"}]


def with_count(request: Request, version: Version) -> bool:
    value = request.query_params.get("with_count", "").lower()
    return version >= "3.45" and value in ("1", "true", "yes")
