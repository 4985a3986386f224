"""Service-to-service clients: a service calls another service's public API as its service user.

One code path for every deployment: URLs come from the Identity catalog, and a request whose URL
points at this very process (``settings.base_url``) is handed to the local ASGI app in-process,
with no socket; any other URL goes over HTTP.

    clients = ServiceClients(settings, local_app=cloud.app)
    glance = clients.for_service("image", user="glance")
    resp = await glance.get("/v2/images", params={"limit": 5})
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp

from onestack.common.config import Settings

#: Renew a service token this many seconds before it expires.
TOKEN_MARGIN = 120.0


class ServiceUnavailable(Exception):
    """The catalog names no endpoint for the service asked for."""


@dataclass
class ServiceToken:
    value: str
    expires_at: float  # monotonic clock
    catalog: list[dict[str, Any]]
    body: dict[str, Any]


class ServiceClients:
    """Shared HTTP machinery and service tokens (one per service user) of one process."""

    def __init__(self, settings: Settings, local_app: ASGIApp | None = None):
        self.settings = settings
        self.local_app = local_app
        self._http: httpx.AsyncClient | None = None
        self._tokens: dict[str, ServiceToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def auth_url(self) -> str:
        return (self.settings.identity_url or f"{self.settings.base_url}/identity").rstrip("/")

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            mounts: dict[str, httpx.AsyncBaseTransport] = {}
            if self.local_app is not None:
                mounts[self.settings.base_url + "/"] = httpx.ASGITransport(app=self.local_app)
            self._http = httpx.AsyncClient(mounts=mounts, timeout=60.0)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def password(self) -> str:
        if self.settings.service_password:
            return self.settings.service_password
        return (self.settings.data_dir / "service-password").read_text().strip()

    async def token(self, user: str, *, renew: bool = False, system: bool = False) -> ServiceToken:
        """A project-scoped token of service user ``user`` (project ``service``), cached;
        ``system``: a system-scoped one instead (the service users read the system: they may
        look up projects, e.g. the bootstrap's ``demo``, whatever ``admin_scope`` says)."""
        key = f"{user}@system" if system else user
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached and not renew and cached.expires_at - TOKEN_MARGIN > time.monotonic():
                return cached
            token = await self._issue(user, system)
            self._tokens[key] = token
            return token

    async def _issue(self, user: str, system: bool = False) -> ServiceToken:
        scope: dict[str, Any] = (
            {"system": {"all": True}}
            if system
            else {"project": {"name": "service", "domain": {"id": "default"}}}
        )
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user,
                            "domain": {"id": "default"},
                            "password": self.password(),
                        }
                    },
                },
                "scope": scope,
            }
        }
        resp = await self.http.post(f"{self.auth_url}/v3/auth/tokens", json=body)
        resp.raise_for_status()
        data = resp.json()["token"]
        lifetime = _seconds_until(data["expires_at"])
        return ServiceToken(
            value=resp.headers["x-subject-token"],
            expires_at=time.monotonic() + lifetime,
            catalog=data.get("catalog", []),
            body=data,
        )

    def for_service(
        self, service_type: str, *, user: str, interface: str = "internal"
    ) -> ServiceClient:
        """A client for ``service_type``'s API, authenticated as service user ``user``."""
        return ServiceClient(self, service_type, user, interface)


class ServiceClient:
    """Requests to one service's endpoint with a service token; re-authenticates once on 401."""

    def __init__(self, clients: ServiceClients, service_type: str, user: str, interface: str):
        self.clients = clients
        self.service_type = service_type
        self.user = user
        self.interface = interface

    async def endpoint(self) -> str:
        if self.service_type == "identity":
            return self.clients.auth_url
        token = await self.clients.token(self.user)
        region = self.clients.settings.region
        for entry in token.catalog:
            if entry.get("type") != self.service_type:
                continue
            for ep in entry.get("endpoints", []):
                if ep.get("interface") == self.interface and ep.get("region_id") in (
                    region,
                    None,
                ):
                    return str(ep["url"]).rstrip("/")
        raise ServiceUnavailable(f"no {self.interface} endpoint for {self.service_type!r}")

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``path`` is relative to the service's endpoint, e.g. ``/v3/limits``."""
        url = await self.endpoint() + path
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in (0, 1):
            token = await self.clients.token(self.user, renew=attempt == 1)
            headers["X-Auth-Token"] = token.value
            resp = await self.clients.http.request(method, url, headers=headers, **kwargs)
            if resp.status_code != 401:
                return resp
        return resp

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        resp = await self.get(path, **kwargs)
        resp.raise_for_status()
        return resp.json()


def _seconds_until(iso: str) -> float:
    from datetime import UTC, datetime

    expires = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return max(0.0, (expires - datetime.now(UTC)).total_seconds())
