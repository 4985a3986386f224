"""Helpers the Identity API modules share: the caller, policy, JSON bodies, list links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from onestack.common.api import base_url
from onestack.common.auth import authenticated
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, ValidationError
from onestack.common.pagination import PageRequest, page_links, page_request
from onestack.identity.manager import IdentityManager, manager_of

M = TypeVar("M", bound=BaseModel)

Caller = Depends(authenticated)


def enforce(
    request: Request, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
) -> None:
    """Raise 403 unless the identity policy ``rule`` allows ``ctx`` on ``target``."""
    manager_of(request).policy.enforce(ctx, rule, target)


async def body_as(request: Request, model: type[M]) -> M:
    """Parse and validate the JSON body into ``model``; any problem is a clear 400."""
    raw = await request.body()
    if not raw:
        raise BadRequest("The request body is empty; a JSON object is required.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed request body: the body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc)) from None


def _describe(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"Invalid input for field '{where}': {err.get('msg')}")
    return "; ".join(parts)


def self_link(request: Request, path: str) -> dict[str, str]:
    return {"self": f"{base_url(request)}/v3/{path}"}


def list_page(
    request: Request, mgr: IdentityManager, sortable: Sequence[str] = ("name", "id")
) -> PageRequest:
    return page_request(request.query_params, max_limit=mgr.conf.list_limit, sortable=sortable)


def list_body(
    request: Request, key: str, items: list[dict[str, Any]], page: PageRequest
) -> dict[str, Any]:
    return {key: items, "links": page_links(request, items, page)}


def truthy(value: str | None) -> bool:
    """Keystone's boolean query parameters: present and not 0/false means true."""
    if value is None:
        return False
    return value.lower() not in ("0", "false", "no", "off")
