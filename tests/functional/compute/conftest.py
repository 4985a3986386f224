"""Compute fixtures: a public active image, helpers to boot servers and wait for a status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

API = "/compute/v2.1"


def mv(headers: dict[str, str], version: str = "2.96") -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture(scope="session")
async def image_id(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    r = await client.post(
        "/image/v2/images",
        headers=admin_headers,
        json={
            "name": "cirros-test",
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
            "min_ram": 64,
            "min_disk": 1,
        },
    )
    assert r.status_code == 201, r.text
    image = r.json()["id"]
    r = await client.put(
        f"/image/v2/images/{image}/file",
        content=b"\0" * 1024,
        headers={**admin_headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 204, r.text
    return str(image)


async def boot(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    image: str,
    *,
    flavor: str = "42",
    version: str = "2.96",
    hints: dict[str, Any] | None = None,
    expect: int = 202,
    **server: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server": {
            "name": server.pop("name", "vm"),
            "imageRef": image,
            "flavorRef": flavor,
            "networks": "none",
            **server,
        }
    }
    if version < "2.37" and len(version) == 4 and body["server"]["networks"] == "none":
        body["server"].pop("networks")
    if hints:
        body["os:scheduler_hints"] = hints
    r = await client.post(f"{API}/servers", headers=mv(headers, version), json=body)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def show(
    client: httpx.AsyncClient, headers: dict[str, str], server_id: str, version: str = "2.96"
) -> dict[str, Any]:
    r = await client.get(f"{API}/servers/{server_id}", headers=mv(headers, version))
    assert r.status_code == 200, r.text
    return dict(r.json()["server"])


async def wait_for(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    server_id: str,
    status: str,
    timeout: float = 15.0,
) -> dict[str, Any]:
    """Poll until the server has ``status`` and no task (the agents run in-process)."""
    deadline = time.monotonic() + timeout
    while True:
        server = await show(client, headers, server_id)
        if server["status"] == status and server["OS-EXT-STS:task_state"] is None:
            return server
        if time.monotonic() > deadline:
            raise AssertionError(
                f"server {server_id} is {server['status']} "
                f"({server['OS-EXT-STS:task_state']}), not {status}"
            )
        await asyncio.sleep(0.02)


async def wait_gone(
    client: httpx.AsyncClient, headers: dict[str, str], server_id: str, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"{API}/servers/{server_id}", headers=headers)
        if r.status_code == 404:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"server {server_id} still exists: {r.text[:200]}")
        await asyncio.sleep(0.02)


async def action(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    server_id: str,
    body: dict[str, Any],
    expect: int = 202,
    version: str = "2.96",
) -> httpx.Response:
    r = await client.post(
        f"{API}/servers/{server_id}/action", headers=mv(headers, version), json=body
    )
    assert r.status_code == expect, r.text
    return r


@asynccontextmanager
async def extra_host(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str],
                     name: str, **driver: Any) -> AsyncIterator[Any]:
    """One more fake compute host for a test module; disabled and stopped afterwards."""
    from onestack.compute.manager import ComputeAgent
    from onestack.compute.virt.fake import FakeDriver

    fake = FakeDriver(name, vcpus=4, memory_mb=4096, local_gb=40, **driver)
    agent = ComputeAgent(cloud.platform, drivers={name: fake})
    await agent.start()
    try:
        yield fake
    finally:
        services = (await client.get(f"{API}/os-services", headers=mv(admin_headers))).json()
        sid = next(s["id"] for s in services["services"] if s["host"] == name)
        await client.put(f"{API}/os-services/{sid}", headers=mv(admin_headers),
                         json={"status": "disabled"})
        await agent.stop()
