"""Helpers the Identity API modules share: the caller, policy, JSON bodies, list links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Depends, Request

from onestack.common.api import base_url, body_as
from onestack.common.auth import authenticated
from onestack.common.context import RequestContext
from onestack.common.pagination import PageRequest, page_links, page_request
from onestack.identity.manager import IdentityManager, manager_of
from onestack.identity.oauth1 import SignedRequest

Caller = Depends(authenticated)
__all__ = [
    "Caller",
    "body_as",
    "enforce",
    "list_body",
    "list_page",
    "self_link",
    "signed_request",
    "truthy",
]


def enforce(
    request: Request, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
) -> None:
    """Raise 403 unless the identity policy ``rule`` allows ``ctx`` on ``target``."""
    manager_of(request).policy.enforce(ctx, rule, target)


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


def signed_request(request: Request, body: str | None = None) -> SignedRequest:
    """What an OAuth 1.0a signature of ``request`` covers (the URL the client called)."""
    headers = {"authorization": request.headers.get("authorization", "")}
    return SignedRequest(request.method, str(request.url), headers, body)


def truthy(value: str | None) -> bool:
    """Keystone's boolean query parameters: present and not 0/false means true."""
    if value is None:
        return False
    return value.lower() not in ("0", "false", "no", "off")
