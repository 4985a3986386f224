"""Helpers the Compute API modules share: the caller, the version, JSON bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request

from onestack.common.api import _has_nul, base_url
from onestack.common.auth import authenticated
from onestack.common.errors import BadRequest
from onestack.common.microversions import Version, microversion

Caller = Depends(authenticated)
Ver = Depends(microversion)


def version_of(request: Request) -> Version:
    return microversion(request)


def base(request: Request) -> str:
    """The service root (``.../compute``) links are built from."""
    return base_url(request)


async def body_of(request: Request, key: str | None = None) -> Any:
    """The JSON body (or its ``key`` member, which must be an object); 400 when malformed."""
    raw = await request.body()
    if not raw:
        raise BadRequest("The request body is empty; a JSON object is required.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed request body") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    if _has_nul(data):
        raise BadRequest("Invalid input: strings must not contain NUL characters.")
    if key is None:
        return data
    if key not in data:
        raise BadRequest(f"Invalid input for field/attribute {key}: '{key}' is a required property")
    if not isinstance(data[key], dict):
        raise BadRequest(f"Invalid input for field/attribute {key}: it must be an object.")
    return data[key]
