"""A compute agent stopped mid-build (its work cancelled, as a kill leaves it) finishes the
build when it starts again; allocations without an instance are removed; a silent agent's
service shows down."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
from sqlalchemy import update

from onestack.compute.core import SharedCore
from onestack.compute.manager import ComputeAgent, stable_uuid
from onestack.compute.models import ComputeService
from onestack.compute.virt.fake import FakeDriver
from tests.functional.compute.conftest import API, boot, mv, show, wait_for, wait_gone

HOST = "reconcile-host"


async def test_killed_mid_build_then_restarted(
    cloud, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    slow = FakeDriver(HOST, delay=30.0)
    agent = ComputeAgent(cloud.platform, drivers={HOST: slow})
    await agent.start()
    created = await boot(client, admin_headers, image_id, availability_zone=f"nova:{HOST}")
    sid = created["server"]["id"]
    for _ in range(500):
        if (await show(client, admin_headers, sid))["OS-EXT-STS:task_state"] == "spawning":
            break
        await asyncio.sleep(0.01)
    await agent.stop(timeout=0)  # the build is cut off in the middle of spawning
    server = await show(client, admin_headers, sid)
    assert server["status"] == "BUILD" and server["OS-EXT-STS:task_state"] == "spawning"
    # an allocation no instance owns, left by a crash between a delete and its clean-up
    placement = cloud.platform.clients.for_service("placement", user="nova")
    orphan = str(uuid.uuid4())
    headers = {"OpenStack-API-Version": "placement 1.36"}
    r = await placement.put(
        f"/allocations/{orphan}",
        headers=headers,
        json={
            "allocations": {stable_uuid("node", HOST): {"resources": {"VCPU": 1}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
        },
    )
    assert r.status_code == 204, r.text
    again = ComputeAgent(cloud.platform, drivers={HOST: FakeDriver(HOST)})
    await again.start()
    try:
        active = await wait_for(client, admin_headers, sid, "ACTIVE")
        assert active["OS-EXT-SRV-ATTR:host"] == HOST
        for _ in range(200):  # the restart reconciles in the background
            r = await placement.get(f"/allocations/{orphan}", headers=headers)
            if r.json()["allocations"] == {}:
                break
            await asyncio.sleep(0.02)
        assert r.json()["allocations"] == {}
        r = await placement.get(f"/allocations/{sid}", headers=headers)
        assert list(r.json()["allocations"]) == [stable_uuid("node", HOST)]
        await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
        await wait_gone(client, admin_headers, sid)
    finally:
        await _disable(client, admin_headers, HOST)
        await again.stop()


async def _disable(client: httpx.AsyncClient, headers: dict[str, str], host: str) -> None:
    services = (await client.get(f"{API}/os-services?host={host}", headers=mv(headers))).json()
    for svc in services["services"]:
        await client.put(
            f"{API}/os-services/{svc['id']}",
            headers=mv(headers),
            json={"status": "disabled", "disabled_reason": "test over"},
        )


async def test_service_down_and_forced_down(
    cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    host = "silent-host"
    agent = ComputeAgent(cloud.platform, drivers={host: FakeDriver(host)})
    await agent.start()
    await agent.stop()
    h = mv(admin_headers)
    svc = (await client.get(f"{API}/os-services?host={host}", headers=h)).json()["services"][0]
    assert svc["state"] == "up"
    core = SharedCore.get(cloud.platform)
    async with core.write() as session:  # as if it had been silent for service_down_time
        await session.execute(
            update(ComputeService)
            .where(ComputeService.host == host)
            .values(
                last_seen_up=dt.datetime.now(dt.UTC).replace(tzinfo=None)
                - dt.timedelta(seconds=core.conf.service_down_time + 1)
            )
        )
    svc = (await client.get(f"{API}/os-services?host={host}", headers=h)).json()["services"][0]
    assert svc["state"] == "down"
    r = await client.put(
        f"{API}/os-services/{svc['id']}",
        headers=h,
        json={"status": "disabled", "disabled_reason": "maintenance"},
    )
    assert r.json()["service"]["status"] == "disabled"
    assert r.json()["service"]["disabled_reason"] == "maintenance"
    r = await client.put(f"{API}/os-services/{svc['id']}", headers=h, json={"forced_down": True})
    assert r.json()["service"]["forced_down"] is True
    r = await client.delete(f"{API}/os-services/{svc['id']}", headers=h)
    assert r.status_code == 204
    r = await client.get(f"{API}/os-services?host={host}", headers=h)
    assert r.json()["services"] == []
    r = await client.get(f"{API}/os-hypervisors?hypervisor_hostname_pattern={host}", headers=h)
    assert r.status_code == 404


async def test_power_sync_and_soft_delete(cloud, client: httpx.AsyncClient,
                                          admin_headers: dict[str, str], image_id: str) -> None:
    host = "power-host"
    driver = FakeDriver(host)
    agent = ComputeAgent(cloud.platform, drivers={host: driver})
    await agent.start()
    core = SharedCore.get(cloud.platform)
    try:
        created = await boot(client, admin_headers, image_id, availability_zone=f"nova:{host}")
        sid = created["server"]["id"]
        await wait_for(client, admin_headers, sid, "ACTIVE")
        await driver.power_off(sid)  # the guest shut itself down
        assert await agent.endpoints[host].sync_power_states() == 1
        got = await show(client, admin_headers, sid)
        assert got["status"] == "SHUTOFF" and got["OS-EXT-STS:power_state"] == 4
        core.conf.reclaim_instance_interval = 3600
        r = await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
        assert r.status_code == 204
        await wait_for(client, admin_headers, sid, "SOFT_DELETED")
        r = await client.post(f"{API}/servers/{sid}/action", headers=mv(admin_headers),
                              json={"restore": None})
        assert r.status_code == 202
        await wait_for(client, admin_headers, sid, "ACTIVE")
        await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
        await wait_for(client, admin_headers, sid, "SOFT_DELETED")
        assert await agent.endpoints[host].reclaim_soft_deleted() == 0  # not old enough
        core.conf.reclaim_instance_interval = 1
        async with core.write() as session:
            from onestack.compute.models import Instance

            await session.execute(update(Instance).where(Instance.uuid == sid).values(
                updated_at=dt.datetime(2000, 1, 1)))
        assert await agent.endpoints[host].reclaim_soft_deleted() == 1
        await wait_gone(client, admin_headers, sid)
    finally:
        core.conf.reclaim_instance_interval = 0
        await _disable(client, admin_headers, host)
        await agent.stop()


async def test_delete_on_a_down_host_is_local(cloud, client: httpx.AsyncClient,
                                              admin_headers: dict[str, str],
                                              image_id: str) -> None:
    host = "gone-host"
    agent = ComputeAgent(cloud.platform, drivers={host: FakeDriver(host)})
    await agent.start()
    created = await boot(client, admin_headers, image_id, availability_zone=f"nova:{host}")
    sid = created["server"]["id"]
    await wait_for(client, admin_headers, sid, "ACTIVE")
    await agent.stop()
    h = mv(admin_headers)
    svc = (await client.get(f"{API}/os-services?host={host}", headers=h)).json()["services"][0]
    await client.put(f"{API}/os-services/{svc['id']}", headers=h, json={"forced_down": True})
    r = await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
    assert r.status_code == 204
    await wait_gone(client, admin_headers, sid)
    placement = cloud.platform.clients.for_service("placement", user="nova")
    r = await placement.get(f"/allocations/{sid}")
    assert r.json()["allocations"] == {}
    await _disable(client, admin_headers, host)


async def test_resources_reported_again(cloud, client: httpx.AsyncClient,
                                        admin_headers: dict[str, str]) -> None:
    host = "growing-host"
    driver = FakeDriver(host, vcpus=4)
    agent = ComputeAgent(cloud.platform, drivers={host: driver})
    await agent.start()
    placement = cloud.platform.clients.for_service("placement", user="nova")
    path = f"/resource_providers/{stable_uuid('node', host)}/inventories"
    try:
        r = await placement.get(path)
        assert r.json()["inventories"]["VCPU"]["total"] == 4
        assert r.json()["inventories"]["VCPU"]["allocation_ratio"] == 16.0
        driver.vcpus = 8  # a host that grew (the QEMU driver reads the real machine)
        await agent.endpoints[host].report_resources()
        r = await placement.get(path)
        assert r.json()["inventories"]["VCPU"]["total"] == 8
    finally:
        await _disable(client, admin_headers, host)
        await agent.stop()
