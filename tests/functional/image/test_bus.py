"""Image notifications and imports travel the cloud's real bus (memory, or RabbitMQ when
ONESTACK_TEST_TRANSPORT_URL is set), and RPC shows up in /metrics."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from onestack.common.notifications import Notification, NotificationListener
from onestack.server import Cloud
from tests.functional.image.conftest import IMG, create_image


async def test_image_events_reach_a_listener_on_the_bus(
    image_cloud: Cloud, api: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    seen: list[Notification] = []
    got_delete = asyncio.Event()

    async def handler(n: Notification) -> None:
        seen.append(n)
        if n.event_type == "image.delete":
            got_delete.set()

    listener = NotificationListener(image_cloud.platform.transport, handler,
                                    pool=f"test-{uuid.uuid4().hex}")
    await listener.start()
    try:
        image = await create_image(api, demo, name="bus-probe", disk_format="raw",
                                   container_format="bare")
        r = await api.delete(f"{IMG}/images/{image['id']}", headers=demo)
        assert r.status_code == 204
        await asyncio.wait_for(got_delete.wait(), 10)
    finally:
        await listener.stop()
    mine = [n for n in seen if n.payload.get("id") == image["id"]]
    assert [n.event_type for n in mine] == ["image.create", "image.delete"]
    create = mine[0]
    assert create.publisher_id == f"image.{image_cloud.settings.host_name}"
    assert create.priority == "INFO"
    assert create.request_id.startswith("req-")
    assert create.payload["name"] == "bus-probe"


async def test_imports_cross_the_bus_and_are_counted(
    api: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    image = await create_image(api, demo, name="bus-import", disk_format="raw",
                               container_format="bare")
    r = await api.put(f"{IMG}/images/{image['id']}/stage", headers={
        **demo, "Content-Type": "application/octet-stream"}, content=b"x" * 4096)
    assert r.status_code == 204, r.text
    r = await api.post(f"{IMG}/images/{image['id']}/import", headers=demo,
                       json={"method": {"name": "glance-direct"}})
    assert r.status_code == 202, r.text
    deadline = asyncio.get_running_loop().time() + 30  # generous: CI machines are shared
    while True:
        status = (await api.get(f"{IMG}/images/{image['id']}", headers=demo)).json()["status"]
        if status == "active" or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert status == "active"
    # the worker's side is counted when its handler returns, just after the image is active
    while True:
        text = (await api.get("/metrics")).text
        casts = [
            s for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == "onestack_rpc_messages_total" and s.labels.get("topic") == "image-worker"
            and s.labels.get("method") == "run_import"
        ]
        sides = {s.labels["side"] for s in casts if s.value >= 1}
        if {"client", "server"} <= sides or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert {"client", "server"} <= sides, casts
