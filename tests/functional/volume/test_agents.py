"""The volume agent and scheduler: the LVM backend refusing to start without device-mapper,
reconcile after a crash (nothing left in creating / deleting), the fake driver, the
scheduler's filters and weigher."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from onestack.common.config import VolumeBackendSettings, load_settings
from onestack.common.db import utcnow
from onestack.volume import recovery
from onestack.volume.agent import VolumeAgent
from onestack.volume.drivers import BackendUnavailable, load_driver
from onestack.volume.drivers.lvm import DM_CONTROL
from onestack.volume.models import LEASES, Snapshot, Volume, VolumeType
from onestack.volume.scheduler import filters
from tests.functional.volume.conftest import create_volume, wait_for


def test_lvm_refuses_without_device_mapper(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    driver = load_driver("lvm", VolumeBackendSettings(driver="lvm"), settings)
    if DM_CONTROL.exists():
        pytest.fail("this host has device-mapper: the LVM backend's own tests must run here "
                    "(they are not written yet) instead of this refusal test")
    with pytest.raises(BackendUnavailable) as refused:
        driver.check_setup()
    message = str(refused.value)
    assert "\n" not in message and "device-mapper" in message and str(DM_CONTROL) in message


async def test_agent_with_only_lvm_refuses_to_start(cloud) -> None:
    from onestack.common.platform import Platform

    settings = load_settings(data_dir=cloud.settings.data_dir / "lvm-only",
                             volume={"backends": {"lvm": {"driver": "lvm"}}})
    platform = Platform(settings)
    await platform.start()
    try:
        with pytest.raises(BackendUnavailable, match="device-mapper"):
            await VolumeAgent(platform).start()
    finally:
        await platform.stop()


def _agent(cloud) -> VolumeAgent:
    return next(a for a in cloud.agents if isinstance(a, VolumeAgent))


async def _row(cloud, status: str, host: str | None, **extra: object) -> str:
    core = _agent(cloud).core
    async with core.write() as session:
        vtype = (await session.execute(select(VolumeType))).scalars().first()
        volume = Volume(id=str(uuid.uuid4()), project_id="p-crash", size=1, status=status,
                        availability_zone="nova", volume_type_id=vtype.id, host=host, **extra)
        session.add(volume)
    return volume.id


async def test_reconcile_after_a_crash(cloud) -> None:
    agent = _agent(cloud)
    core = agent.core
    host = f"{next(iter(agent.drivers))}#file"
    creating = await _row(cloud, "creating", host)
    deleting = await _row(cloud, "deleting", host)
    extending = await _row(cloud, "extending", host)
    leased = await _row(cloud, "creating", host)
    async with core.write() as session:  # a live lease: someone is still on it
        await core.leases.take(session, leased, "create")
    await recovery.reconcile_host(agent)
    async with core.read() as session:
        assert (await session.get(Volume, creating)).status == "error"
        assert (await session.get(Volume, deleting)) is None
        assert (await session.get(Volume, extending)).status == "error_extending"
        assert (await session.get(Volume, leased)).status == "creating"
    # the lease of a process that stopped renewing lapses; any agent then ends its work
    async with core.write() as session:
        await session.execute(LEASES.update().where(LEASES.c.resource_id == leased).values(
            holder="gone:1:x", expires_at=utcnow() - dt.timedelta(seconds=1)))
    await recovery.reconcile_lapsed(agent)
    async with core.read() as session:
        volume = await session.get(Volume, leased)
        assert volume.status == "error" and "interrupted" in volume.fault


async def test_snapshot_left_creating_is_reconciled(cloud, client: httpx.AsyncClient,
                                                    demo_api: str,
                                                    demo_headers: dict[str, str]) -> None:
    agent = _agent(cloud)
    vol = await create_volume(client, demo_api, demo_headers)
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    async with agent.core.write() as session:
        snap = Snapshot(id=str(uuid.uuid4()), volume_id=vol["id"], project_id="x", size=1,
                        status="creating")
        session.add(snap)
    await recovery.reconcile_host(agent)
    async with agent.core.read() as session:
        assert (await session.get(Snapshot, snap.id)).status == "error"
    async with agent.core.write() as session:
        await session.delete(await session.get(Snapshot, snap.id))
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)


async def test_scheduler_ends_volumes_never_scheduled(cloud) -> None:
    from onestack.volume.scheduler.manager import VolumeScheduler

    scheduler = next(a for a in cloud.agents if isinstance(a, VolumeScheduler))
    old = await _row(cloud, "creating", None, created_at=utcnow() - dt.timedelta(hours=1))
    fresh = await _row(cloud, "creating", None)
    await scheduler.reconcile()
    async with scheduler.core.read() as session:
        assert (await session.get(Volume, old)).status == "error"
        assert (await session.get(Volume, fresh)).status == "creating"
    async with scheduler.core.write() as session:
        for vid in (old, fresh):
            await session.delete(await session.get(Volume, vid))


def test_fake_driver(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    driver = load_driver("fake", VolumeBackendSettings(driver="fake", total_capacity_gb=10),
                         settings)
    driver.check_setup()
    driver.create("v1", 3)
    driver.create_snapshot("v1", "s1")
    driver.extend("v1", 4)
    assert driver.stats()["pools"][0]["free_capacity_gb"] == 6
    out = tmp_path / "out.raw"
    driver.export_raw(driver.location("v1"), out)
    assert out.stat().st_size == 4 * 1024**3
    driver.delete_snapshot("v1", "s1")
    driver.delete("v1")
    assert driver.calls == ["create", "create_snapshot", "extend", "export_raw",
                            "delete_snapshot", "delete"]


def _pool(name: str, zone: str, free: float, provisioned: int = 0, thin: bool = True,
          backend: str = "file") -> dict[str, object]:
    return {"name": name, "zone": zone, "capabilities": {
        "total_capacity_gb": 100, "free_capacity_gb": free, "reserved_percentage": 0,
        "max_over_subscription_ratio": 2.0, "thin_provisioning_support": thin,
        "provisioned_capacity_gb": provisioned, "volume_backend_name": backend}}


def test_scheduler_filters_and_weigher() -> None:
    a = _pool("h1@file#file", "nova", free=50, provisioned=150)
    b = _pool("h2@file#file", "nova", free=90, provisioned=10)
    c = _pool("h3@fast#fast", "other", free=100, backend="fast")
    thick = _pool("h4@thick#thick", "nova", free=5, thin=False)
    assert filters.passes(a, 40, "nova", {}) and not filters.passes(a, 60, "nova", {})
    assert not filters.passes(c, 1, "nova", {})  # another zone
    assert not filters.passes(b, 1, "nova", {"volume_backend_name": "fast"})
    assert filters.passes(c, 1, "other", {"volume_backend_name": "fast"})
    assert not filters.passes(thick, 6, "nova", {}) and filters.passes(thick, 5, "nova", {})
    assert filters.best([a, b], 10) is b
