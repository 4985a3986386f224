"""A served cloud answers its APIs while its workers start; the healthcheck says "starting"
until every worker runs, and a worker that fails to start stops the server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

import onestack.server
from onestack.common.config import load_settings
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS


def _cloud(tmp_path: Path) -> Cloud:
    settings = load_settings(
        data_dir=tmp_path, port=8995, services=["identity", "image"],
        transport_url="memory://", identity={"password_hash_rounds": TEST_ROUNDS},
    )
    return Cloud(settings)


async def test_apis_answer_while_the_workers_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    real_start_agent = onestack.server.start_agent

    async def slow_start_agent(kind: str, platform: Any) -> Any:
        await release.wait()
        return await real_start_agent(kind, platform)

    monkeypatch.setattr(onestack.server, "start_agent", slow_start_agent)
    cloud = _cloud(tmp_path)
    await cloud.start(agents_in_background=True)
    transport = httpx.ASGITransport(app=cloud.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/identity/v3")).status_code == 200
            health = await client.get("/healthcheck")
            assert (health.status_code, health.text) == (503, "starting")
            assert cloud.agents == []
            release.set()
            for _ in range(200):
                if cloud.ready:
                    break
                await asyncio.sleep(0.01)
            assert (await client.get("/healthcheck")).text == "OK"
            assert len(cloud.agents) == 1
    finally:
        await cloud.stop()
    assert cloud.agents == []


async def test_a_worker_that_fails_to_start_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_start_agent(kind: str, platform: Any) -> Any:
        raise RuntimeError("no worker today")

    monkeypatch.setattr(onestack.server, "start_agent", failing_start_agent)
    cloud = _cloud(tmp_path)
    fatal = asyncio.Event()
    cloud.on_fatal = fatal.set
    await cloud.start(agents_in_background=True)
    try:
        await asyncio.wait_for(fatal.wait(), timeout=5)
        assert cloud.ready is False
    finally:
        await cloud.stop()


async def test_in_process_start_still_awaits_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_start_agent(kind: str, platform: Any) -> Any:
        raise RuntimeError("no worker today")

    monkeypatch.setattr(onestack.server, "start_agent", failing_start_agent)
    cloud = _cloud(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="no worker today"):
            await cloud.start()
    finally:
        await cloud.stop()
