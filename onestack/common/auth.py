"""Token -> RequestContext.

Every service authenticates through a :class:`TokenValidator`. In the all-in-one process that is
Identity's local validator (shared Fernet key repository + revocation events, cached); a process
without the keys validates through the Identity API.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from onestack.common.context import RequestContext
from onestack.common.errors import Unauthorized

TOKEN_HEADER = "x-auth-token"


class TokenValidator(Protocol):
    async def context_for(self, token: str, request_id: str) -> RequestContext:
        """The caller's context; :class:`Unauthorized` if the token is bad, expired or revoked."""
        ...


def request_id_of(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


async def authenticated(request: Request) -> RequestContext:
    """FastAPI dependency: the validated caller, or 401 in the service's error format."""
    ctx = request.scope.get("onestack.context")
    if ctx is not None:
        return ctx
    token = request.headers.get(TOKEN_HEADER)
    if not token:
        raise Unauthorized()
    validator: TokenValidator = request.app.state.token_validator
    ctx = await validator.context_for(token, request_id_of(request))
    request.scope["onestack.context"] = ctx
    return ctx
