"""Block Storage fixtures: the project-scoped API root, version headers, waiting for status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest


def mv(headers: dict[str, str], version: str = "3.70") -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"volume {version}"}


async def project_of(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await client.get("/identity/v3/auth/tokens",
                         headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]})
    assert r.status_code == 200, r.text
    return str(r.json()["token"]["project"]["id"])


@pytest.fixture(scope="session")
async def demo_api(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> str:
    return f"/volume/v3/{await project_of(client, demo_headers)}"


@pytest.fixture(scope="session")
async def admin_api(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    return f"/volume/v3/{await project_of(client, admin_headers)}"


async def create_volume(client: httpx.AsyncClient, api: str, headers: dict[str, str],
                        expect: int = 202, version: str = "3.70", **volume: Any) -> dict[str, Any]:
    volume.setdefault("size", 1)
    r = await client.post(f"{api}/volumes", headers=mv(headers, version), json={"volume": volume})
    assert r.status_code == expect, r.text
    return dict(r.json().get("volume", r.json()))


async def wait_for(client: httpx.AsyncClient, api: str, headers: dict[str, str], kind: str,
                   item_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll ``/kind/id`` until its status is ``status`` (the agents run in-process)."""
    deadline = time.monotonic() + timeout
    key = kind.rstrip("s")
    while True:
        r = await client.get(f"{api}/{kind}/{item_id}", headers=mv(headers))
        assert r.status_code == 200, r.text
        item = dict(r.json()[key])
        if item["status"] == status:
            return item
        if item["status"].startswith("error") and not status.startswith("error"):
            raise AssertionError(f"{kind} {item_id} went {item['status']}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind} {item_id} is {item['status']}, not {status}")
        await asyncio.sleep(0.02)


async def wait_gone(client: httpx.AsyncClient, api: str, headers: dict[str, str], kind: str,
                    item_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"{api}/{kind}/{item_id}", headers=mv(headers))
        if r.status_code == 404:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind} {item_id} still exists: {r.text[:200]}")
        await asyncio.sleep(0.02)
