"""Token validation through the Identity API, for a process that runs without Identity
(``onestack serve image`` on another host): GET /v3/auth/tokens with the service's own token,
cached briefly as keystonemiddleware does. In the all-in-one process Identity's local validator
is used instead (microseconds, no HTTP)."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from onestack.common.clients import ServiceClients
from onestack.common.context import RequestContext
from onestack.common.errors import APIError, Unauthorized


class RemoteTokenValidator:
    """A :class:`~onestack.common.auth.TokenValidator` asking the Identity API."""

    def __init__(
        self, clients: ServiceClients, user: str, *, cache_seconds: float = 60.0, size: int = 10000
    ):
        self.identity = clients.for_service("identity", user=user)
        self.cache_seconds = cache_seconds
        self.size = size
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def context_for(self, token: str, request_id: str) -> RequestContext:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            body = hit[1]
        else:
            body = await self._validate(token)
            until = min(now + self.cache_seconds, now + _seconds_left(body))
            self._cache[token] = (until, body)
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        if _seconds_left(body) <= 0:
            raise Unauthorized("The request you have made requires authentication.")
        return context_from_token(body, token, request_id)

    async def _validate(self, token: str) -> dict[str, Any]:
        resp = await self.identity.get(
            "/v3/auth/tokens", headers={"X-Subject-Token": token}, params={"nocatalog": "1"}
        )
        if resp.status_code == 404 or resp.status_code == 401:
            raise Unauthorized("The request you have made requires authentication.")
        if resp.status_code != 200:
            raise APIError(f"Identity could not validate the token ({resp.status_code}).")
        body: dict[str, Any] = resp.json()["token"]
        return body


def _seconds_left(body: dict[str, Any]) -> float:
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    return (expires - datetime.now(expires.tzinfo)).total_seconds()


def context_from_token(body: dict[str, Any], token: str, request_id: str) -> RequestContext:
    """The RequestContext a validated token body (Keystone v3 format) describes."""
    user = body.get("user") or {}
    project = body.get("project") or {}
    domain = body.get("domain") or {}
    trust = body.get("OS-TRUST:trust") or {}
    app_cred = body.get("application_credential") or {}
    roles = body.get("roles") or []
    return RequestContext(
        request_id=request_id,
        user_id=user.get("id"),
        user_name=user.get("name"),
        user_domain_id=(user.get("domain") or {}).get("id"),
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
        system_scope="all" if (body.get("system") or {}).get("all") else None,
        roles=tuple(r["name"] for r in roles),
        role_ids=tuple(r["id"] for r in roles),
        is_admin_project=bool(body.get("is_admin_project", False)),
        trust_id=trust.get("id"),
        trustor_id=(trust.get("trustor_user") or {}).get("id"),
        trustee_id=(trust.get("trustee_user") or {}).get("id"),
        application_credential_id=app_cred.get("id"),
        audit_ids=tuple(body.get("audit_ids") or ()),
        auth_token=token,
    )
