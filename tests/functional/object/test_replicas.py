"""Three replicas over four devices in four zones: replication, auditing, the container
updater and handoffs, each proved by breaking a device and watching it heal."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.object.daemons import run_one
from onestack.object.layout import RING_KINDS, Layout
from onestack.object.ring import RingBuilder
from onestack.object.servers import object as disk
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS, password_of
from tests.functional.object.conftest import Account, account_for


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    data_dir = tmp_path_factory.mktemp("replicas")
    layout = Layout(data_dir / "object")
    layout.rings.mkdir(parents=True)
    for kind in RING_KINDS:
        builder = RingBuilder(4, 3.0, min_part_hours=0)
        for zone in range(1, 5):
            builder.add_device(zone=zone, weight=100, device=f"d{zone}")
        builder.rebalance()
        builder.save(layout.builder_path(kind))
        builder.write_ring(layout.ring_path(kind))
    settings = load_settings(data_dir=data_dir, port=8998, services=["identity", "object"],
                             identity={"password_hash_rounds": TEST_ROUNDS},
                             object={"run_daemons": False})
    cloud = Cloud(settings)
    await cloud.start()
    yield cloud
    await cloud.stop()


@pytest.fixture(scope="module")
async def user(cluster: Cloud) -> AsyncIterator[Account]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cluster.app),
                                 base_url="http://testserver") as client:
        yield await account_for(client, "demo", password_of(cluster, "demo"), "demo")


def service(cloud: Cloud):  # type: ignore[no-untyped-def]
    return next(s for s in cloud.services if s.spec.name == "object")


def copies(cloud: Cloud, account: str, container: str, obj: str) -> dict[str, str]:
    """device -> md5 of the object's data file, on the primaries only."""
    storage = service(cloud).storage
    ring = storage.rings["object"]
    part, nodes = ring.nodes(account, container, obj)
    found = {}
    for node in nodes:
        directory = disk.object_dir(storage.devices, node, part,
                                    storage.hash(account, container, obj))
        data, _, _ = disk.newest(directory)
        if data:
            found[node["device"]] = disk.file_md5(directory / data)
    return found


async def fill(user: Account, count: int = 12) -> tuple[str, dict[str, bytes]]:
    name = await user.container()
    objects = {f"obj-{i}": os.urandom(100 + i) for i in range(count)}
    for key, data in objects.items():
        assert (await user.request("PUT", f"/{name}/{key}", content=data)).status_code == 201
    return name, objects


async def test_every_object_has_three_copies(cluster: Cloud, user: Account) -> None:
    name, objects = await fill(user, 5)
    account = f"AUTH_{user.project_id}"
    for key, data in objects.items():
        assert set(copies(cluster, account, name, key).values()) == \
            {hashlib.md5(data).hexdigest()}
        assert len(copies(cluster, account, name, key)) == 3


async def test_wiped_device_is_restored_by_the_replicator(cluster: Cloud,
                                                          user: Account) -> None:
    name, objects = await fill(user)
    account = f"AUTH_{user.project_id}"
    devices = service(cluster).storage.devices
    shutil.rmtree(devices / "d2")
    (devices / "d2").mkdir()
    assert any(len(copies(cluster, account, name, k)) < 3 for k in objects)
    report = run_one(service(cluster), "replicator")
    assert report["objects_pushed"] > 0
    for key, data in objects.items():
        found = copies(cluster, account, name, key)
        assert len(found) == 3 and set(found.values()) == {hashlib.md5(data).hexdigest()}
    r = await user.request("GET", f"/{name}?format=json")
    assert len(r.json()) == len(objects)
    # the container databases came back too: every replica lists every object
    storage = service(cluster).storage
    from onestack.object.servers.container import ContainerBroker

    part, nodes = storage.rings["container"].nodes(account, name)
    for node in nodes:
        broker = ContainerBroker(storage._db_path("container", node, part,
                                                  storage.hash(account, name)))
        assert broker.exists and broker.object_count() == len(objects)


async def test_corrupt_object_is_quarantined_and_healed(cluster: Cloud,
                                                        user: Account) -> None:
    name, objects = await fill(user, 3)
    account = f"AUTH_{user.project_id}"
    storage = service(cluster).storage
    key = "obj-1"
    part, nodes = storage.rings["object"].nodes(account, name, key)
    victim = nodes[0]
    directory = disk.object_dir(storage.devices, victim, part, storage.hash(account, name, key))
    data_file = directory / disk.newest(directory)[0]  # type: ignore[operator]
    with open(data_file, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    report = run_one(service(cluster), "auditor")
    assert report["quarantined"] == 1
    quarantined = storage.devices / victim["device"] / "quarantined" / "objects"
    assert any(quarantined.iterdir())
    assert victim["device"] not in copies(cluster, account, name, key)
    r = await user.request("GET", f"/{name}/{key}")
    assert r.content == objects[key]
    run_one(service(cluster), "replicator")
    found = copies(cluster, account, name, key)
    assert found[victim["device"]] == hashlib.md5(objects[key]).hexdigest()


async def test_updater_fixes_listings_after_a_container_server_was_down(
        cluster: Cloud, user: Account) -> None:
    name = await user.container()
    storage = service(cluster).storage
    devices = storage.devices
    # the container is in use (the proxy knows it, as Swift's memcache does)
    assert (await user.request("PUT", f"/{name}/first", content=b"x")).status_code == 201
    down = [d for d in ("d1", "d2", "d3", "d4") if (devices / d / "containers").exists()]
    for dev in down:
        os.rename(devices / dev / "containers", devices / dev / "containers.down")
    try:
        for i in range(4):
            r = await user.request("PUT", f"/{name}/late-{i}", content=b"x")
            assert r.status_code == 201
    finally:
        for dev in down:
            os.rename(devices / dev / "containers.down", devices / dev / "containers")
    r = await user.request("GET", f"/{name}?format=json")
    assert [o["name"] for o in r.json()] == ["first"]  # it missed them while they were away
    report = run_one(service(cluster), "updater")
    assert report["successes"] >= 4 and report["failures"] == 0
    r = await user.request("GET", f"/{name}?format=json")
    assert [o["name"] for o in r.json()] == ["first"] + [f"late-{i}" for i in range(4)]
    assert (await user.request("HEAD", f"/{name}")).headers["x-container-object-count"] == "5"


async def test_handoffs_take_writes_and_hand_them_back(cluster: Cloud,
                                                       user: Account) -> None:
    name = await user.container()
    account = f"AUTH_{user.project_id}"
    storage = service(cluster).storage
    devices = storage.devices
    os.rename(devices / "d3", devices / "d3.off")
    objects = {f"h-{i}": os.urandom(64) for i in range(12)}
    try:
        for key, data in objects.items():
            r = await user.request("PUT", f"/{name}/{key}", content=data)
            assert r.status_code == 201
            assert (await user.request("GET", f"/{name}/{key}")).content == data
    finally:
        os.rename(devices / "d3.off", devices / "d3")
    ring = storage.rings["object"]
    on_d3 = [k for k in objects if "d3" in {n["device"] for n in ring.nodes(account, name, k)[1]}]
    assert on_d3, "some objects must have d3 as a primary"
    for key in on_d3:
        assert "d3" not in copies(cluster, account, name, key)
    report = run_one(service(cluster), "replicator")
    assert report["handoff_partitions_drained"] >= 1
    for key, data in objects.items():
        found = copies(cluster, account, name, key)
        assert len(found) == 3 and set(found.values()) == {hashlib.md5(data).hexdigest()}
    # nothing is left on the handoffs
    for key in on_d3:
        part, nodes = ring.nodes(account, name, key)
        primaries = {n["device"] for n in nodes}
        for dev in {"d1", "d2", "d3", "d4"} - primaries:
            assert not (devices / dev / "objects" / str(part)).exists()


def test_default_three_replica_layout(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.ensure_rings(3, 6)
    prefix, suffix = layout.hash_secret()
    ring = layout.load_rings(prefix, suffix)["object"]
    assert {(d["zone"], d["device"]) for d in ring.devs.values()} == \
        {(1, "d1"), (2, "d2"), (3, "d3")}
    assert all((tmp_path / "devices" / d).is_dir() for d in ("d1", "d2", "d3"))
