"""Placement's error bodies: ``code`` only from microversion 1.23, as upstream sends it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common.errors import APIError, placement_format
from onestack.common.microversions import Version

#: The request's negotiated microversion, for the error formatter (which sees no request).
_negotiated: ContextVar[Version | None] = ContextVar("placement_microversion", default=None)
_CODES_SINCE = Version(1, 23)


def placement_errors(error: APIError) -> dict[str, Any]:
    """The Placement error body; without ``code`` below 1.23 or before negotiation."""
    body = placement_format(error)
    version = _negotiated.get()
    if version is None or version < _CODES_SINCE:
        for entry in body["errors"]:
            entry.pop("code", None)
    return body


class RememberVersion:
    """Runs inside the microversion negotiation: keeps its result for ``placement_errors``."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        version = scope.get("state", {}).get("microversion") if scope["type"] == "http" else None
        token = _negotiated.set(version)
        try:
            await self.app(scope, receive, send)
        finally:
            _negotiated.reset(token)
