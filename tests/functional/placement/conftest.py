"""Helpers for the Placement tests: a client that speaks a microversion, provider setup."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

PL = "/placement"


class Placement:
    """Requests to /placement as one caller, at a default microversion."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], version: str):
        self.client = client
        self.headers = headers
        self.version = version

    async def request(
        self, method: str, path: str, *, version: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        headers["OpenStack-API-Version"] = f"placement {version or self.version}"
        return await self.client.request(method, PL + path, headers=headers, **kwargs)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def provider(
        self,
        name: str | None = None,
        *,
        parent: str | None = None,
        inventory: dict[str, Any] | None = None,
        traits: list[str] | None = None,
        aggregates: list[str] | None = None,
    ) -> str:
        """A new provider (with inventory, traits, aggregates); its uuid."""
        body: dict[str, Any] = {"name": name or f"rp-{uuid.uuid4().hex[:10]}"}
        if parent:
            body["parent_provider_uuid"] = parent
        r = await self.post("/resource_providers", json=body, version="1.39")
        assert r.status_code == 200, r.text
        rp = r.json()["uuid"]
        generation = 0
        if inventory:
            invs = {rc: v if isinstance(v, dict) else {"total": v} for rc, v in inventory.items()}
            for rc in invs:
                if rc.startswith("CUSTOM_"):
                    await self.put(f"/resource_classes/{rc}")
            r = await self.put(
                f"/resource_providers/{rp}/inventories",
                json={"inventories": invs, "resource_provider_generation": 0},
            )
            assert r.status_code == 200, r.text
            generation = r.json()["resource_provider_generation"]
        if traits:
            for t in traits:
                if t.startswith("CUSTOM_"):
                    await self.put(f"/traits/{t}")
            r = await self.put(
                f"/resource_providers/{rp}/traits",
                json={"traits": traits, "resource_provider_generation": generation},
            )
            assert r.status_code == 200, r.text
            generation = r.json()["resource_provider_generation"]
        if aggregates:
            r = await self.put(
                f"/resource_providers/{rp}/aggregates",
                version="1.19",
                json={"aggregates": aggregates, "resource_provider_generation": generation},
            )
            assert r.status_code == 200, r.text
        return rp


@pytest.fixture(scope="session")
def placement(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Placement:
    return Placement(client, admin_headers, "1.39")


@pytest.fixture(scope="session")
def demo_placement(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> Placement:
    return Placement(client, demo_headers, "1.39")


def new_uuid() -> str:
    return str(uuid.uuid4())
