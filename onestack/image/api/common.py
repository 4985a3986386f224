"""Helpers the Image API modules share: the caller, JSON bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request

from onestack.common.api import _has_nul
from onestack.common.auth import authenticated
from onestack.common.errors import BadRequest

Caller = Depends(authenticated)
#: Bodies of JSON requests (image create, patch, import, members) are small.
MAX_JSON = 1024 * 1024


async def json_body(request: Request) -> Any:
    """The parsed JSON body; an empty or malformed one is a 400 as Glance words it."""
    raw = await request.body()
    if not raw:
        raise BadRequest("Body expected in request.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed JSON in request body.") from None
    if _has_nul(data):
        raise BadRequest("Invalid input: strings must not contain NUL characters.")
    return data


async def json_object(request: Request) -> dict[str, Any]:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data
