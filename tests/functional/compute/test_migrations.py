"""Server migrations: a live migration running long enough (the fake driver's migration time)
to list, show, force complete (2.22) and abort (2.24); os-migrations filters and paging."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from onestack.compute.virt.fake import FakeDriver
from tests.functional.compute.conftest import (
    API,
    action,
    boot,
    extra_host,
    mv,
    show,
    wait_for,
    wait_gone,
)

DEST = "migr-b"
PLACEMENT = {"OpenStack-API-Version": "placement 1.36"}


@pytest.fixture(scope="module")
async def dest(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]):
    """A destination host whose live migrations run 30 s unless forced or aborted."""
    async with extra_host(cloud, client, admin_headers, DEST, migration_time=30) as driver:
        yield driver


@pytest.fixture
async def server(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str,
                 dest: FakeDriver):
    zone = f"nova:{cloud.platform.host}"
    created = await boot(client, admin_headers, image_id, name="mig", availability_zone=zone)
    sid = created["server"]["id"]
    await wait_for(client, admin_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
    await wait_gone(client, admin_headers, sid)


async def _running(client, headers, server: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"{API}/servers/{server}/migrations", headers=mv(headers))
        assert r.status_code == 200, r.text
        found = [m for m in r.json()["migrations"] if m["status"] == "running"]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, r.text
        await asyncio.sleep(0.02)


async def _provider_hosts(cloud, consumer: str) -> set[str]:
    placement = cloud.platform.clients.for_service("placement", user="nova")
    allocs = (await placement.get(f"/allocations/{consumer}", headers=PLACEMENT)).json()
    names = set()
    for rp in allocs["allocations"]:
        names.add((await placement.get(f"/resource_providers/{rp}")).json()["name"])
    return names


async def test_force_complete(client: httpx.AsyncClient, cloud, admin_headers: dict[str, str],
                              demo_headers: dict[str, str], server: str) -> None:
    await action(client, admin_headers, server, {"os-migrateLive": {"host": DEST,
                                                                     "block_migration": "auto"}})
    mig = await _running(client, admin_headers, server)
    assert (await show(client, admin_headers, server))["status"] == "MIGRATING"
    assert mig["server_uuid"] == server and mig["dest_compute"] == DEST
    assert mig["source_compute"] == cloud.platform.host
    for key in ("memory_total_bytes", "disk_processed_bytes", "uuid", "user_id", "project_id"):
        assert key in mig
    old = (await client.get(f"{API}/servers/{server}/migrations",
                            headers=mv(admin_headers, "2.23"))).json()["migrations"][0]
    assert "uuid" not in old and "user_id" not in old
    r = await client.get(f"{API}/servers/{server}/migrations/{mig['id']}",
                         headers=mv(admin_headers))
    assert r.status_code == 200 and r.json()["migration"]["id"] == mig["id"]
    r = await client.get(f"{API}/servers/{server}/migrations/999999", headers=mv(admin_headers))
    assert r.status_code == 404 and "itemNotFound" in r.json()
    # the os-migrations view links an in-progress live migration to it
    listed = (await client.get(f"{API}/os-migrations", params={"instance_uuid": server},
                               headers=mv(admin_headers))).json()["migrations"]
    assert listed[0]["links"][0]["href"].endswith(f"/servers/{server}/migrations/{mig['id']}")
    url = f"{API}/servers/{server}/migrations/{mig['id']}/action"
    body = {"force_complete": None}
    r = await client.post(url, headers=mv(demo_headers), json=body)
    assert r.status_code in (403, 404)
    r = await client.post(url, headers=mv(admin_headers, "2.21"), json=body)
    assert r.status_code == 404
    r = await client.post(url, headers=mv(admin_headers), json={"force_complete": {}})
    assert r.status_code == 400 and "badRequest" in r.json()
    started = time.monotonic()
    r = await client.post(url, headers=mv(admin_headers, "2.22"), json=body)
    assert r.status_code == 202, r.text
    await wait_for(client, admin_headers, server, "ACTIVE")
    assert time.monotonic() - started < 10  # forced, not the 30 s the migration would take
    assert (await show(client, admin_headers, server))["OS-EXT-SRV-ATTR:host"] == DEST
    assert await _provider_hosts(cloud, server) == {DEST}
    r = await client.get(f"{API}/os-migrations", params={"instance_uuid": server},
                         headers=mv(admin_headers))
    assert [m["status"] for m in r.json()["migrations"]] == ["completed"]
    r = await client.get(f"{API}/servers/{server}/migrations", headers=mv(admin_headers))
    assert r.json() == {"migrations": []}
    r = await client.post(url, headers=mv(admin_headers), json=body)
    assert r.status_code == 409 and "conflictingRequest" in r.json()  # not migrating now
    r = await client.get(f"{API}/servers/{server}/os-instance-actions", headers=admin_headers)
    names = [a["action"] for a in r.json()["instanceActions"]]
    assert "live_migration_force_complete" in names


async def test_abort(client: httpx.AsyncClient, cloud, admin_headers: dict[str, str],
                     server: str, dest: FakeDriver) -> None:
    source = cloud.platform.host
    await action(client, admin_headers, server, {"os-migrateLive": {"host": DEST}})
    mig = await _running(client, admin_headers, server)
    url = f"{API}/servers/{server}/migrations/{mig['id']}"
    r = await client.delete(url, headers=mv(admin_headers, "2.23"))
    assert r.status_code == 404
    r = await client.delete(url, headers=mv(admin_headers, "2.24"))
    assert r.status_code == 202, r.text
    got = await wait_for(client, admin_headers, server, "ACTIVE")
    assert got["OS-EXT-SRV-ATTR:host"] == source
    assert server not in dest.guests
    assert await _provider_hosts(cloud, server) == {source}
    r = await client.get(f"{API}/os-migrations", params={"instance_uuid": server},
                         headers=mv(admin_headers))
    [done] = r.json()["migrations"]
    assert done["status"] == "cancelled" and done["uuid"] == mig["uuid"]
    assert await _provider_hosts(cloud, mig["uuid"]) == set()  # nothing held for it
    r = await client.delete(url, headers=mv(admin_headers))
    assert r.status_code == 409  # the server is not migrating any more


async def test_abort_other_kinds(client: httpx.AsyncClient, admin_headers: dict[str, str],
                                 server: str) -> None:
    await action(client, admin_headers, server, {"resize": {"flavorRef": "84"}})
    await wait_for(client, admin_headers, server, "VERIFY_RESIZE")
    r = await client.get(f"{API}/os-migrations", params={"instance_uuid": server},
                         headers=mv(admin_headers))
    [resize] = r.json()["migrations"]
    r = await client.delete(f"{API}/servers/{server}/migrations/{resize['id']}",
                            headers=mv(admin_headers))
    assert r.status_code == 409  # not migrating
    await action(client, admin_headers, server, {"confirmResize": None})
    await wait_for(client, admin_headers, server, "ACTIVE")


async def test_os_migrations_paging_and_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], demo_headers: dict[str, str],
    server: str,
) -> None:
    for flavor in ("84", "42", "84"):
        await action(client, admin_headers, server, {"resize": {"flavorRef": flavor}})
        await wait_for(client, admin_headers, server, "VERIFY_RESIZE")
        await action(client, admin_headers, server, {"confirmResize": None})
        await wait_for(client, admin_headers, server, "ACTIVE")
    q = {"instance_uuid": server}
    every = (await client.get(f"{API}/os-migrations", params=q,
                              headers=mv(admin_headers))).json()
    assert len(every["migrations"]) == 3 and "migrations_links" not in every
    ids = [m["uuid"] for m in every["migrations"]]
    page = (await client.get(f"{API}/os-migrations", params={**q, "limit": 2},
                             headers=mv(admin_headers, "2.59"))).json()
    assert [m["uuid"] for m in page["migrations"]] == ids[:2]
    nxt = page["migrations_links"][0]
    assert nxt["rel"] == "next" and f"marker={ids[1]}" in nxt["href"]
    rest = (await client.get(f"{API}/os-migrations", params={**q, "marker": ids[1]},
                             headers=mv(admin_headers, "2.59"))).json()
    assert [m["uuid"] for m in rest["migrations"]] == ids[2:]
    old = (await client.get(f"{API}/os-migrations", params={**q, "limit": 1},
                            headers=mv(admin_headers, "2.58"))).json()
    assert len(old["migrations"]) == 3 and "uuid" not in old["migrations"][0]
    for bad in ({"limit": "x"}, {"limit": "-1"}, {"marker": "nope"},
                {"changes-since": "yesterday"}):
        r = await client.get(f"{API}/os-migrations", params={**q, **bad},
                             headers=mv(admin_headers))
        assert r.status_code == 400, (bad, r.text)
    r = await client.get(f"{API}/os-migrations", headers=mv(admin_headers), params={
        **q, "changes-since": "2030-01-01T00:00:00Z", "changes-before": "2020-01-01T00:00:00Z"})
    assert r.status_code == 400
    later = (await client.get(f"{API}/os-migrations", params={
        **q, "changes-since": "2099-01-01T00:00:00Z"}, headers=mv(admin_headers))).json()
    assert later["migrations"] == []
    before = (await client.get(f"{API}/os-migrations", params={
        **q, "changes-before": "2099-01-01T00:00:00Z"}, headers=mv(admin_headers))).json()
    assert len(before["migrations"]) == 3
    mine = every["migrations"][0]
    by_user = (await client.get(f"{API}/os-migrations", params={
        **q, "user_id": mine["user_id"]}, headers=mv(admin_headers))).json()
    assert len(by_user["migrations"]) == 3
    nobody = (await client.get(f"{API}/os-migrations", params={
        **q, "project_id": "nobody"}, headers=mv(admin_headers))).json()
    assert nobody["migrations"] == []
    assert "user_id" not in (await client.get(f"{API}/os-migrations", params=q, headers=mv(
        admin_headers, "2.79"))).json()["migrations"][0]
    r = await client.get(f"{API}/servers/{server}/migrations", headers=mv(demo_headers))
    assert r.status_code in (403, 404)


async def test_abort_while_preparing_needs_2_65(client: httpx.AsyncClient, cloud,
                                                admin_headers: dict[str, str],
                                                server: str) -> None:
    from sqlalchemy import update

    from onestack.compute.core import SharedCore
    from onestack.compute.models import Migration

    await action(client, admin_headers, server, {"os-migrateLive": {"host": DEST}})
    mig = await _running(client, admin_headers, server)
    core = SharedCore.get(cloud.platform)
    async with core.write() as session:  # as while the destination still prepares
        await session.execute(update(Migration).where(Migration.id == mig["id"])
                              .values(status="preparing"))
    url = f"{API}/servers/{server}/migrations/{mig['id']}"
    r = await client.delete(url, headers=mv(admin_headers, "2.64"))
    assert r.status_code == 400 and "badRequest" in r.json()
    r = await client.post(f"{url}/action", headers=mv(admin_headers),
                          json={"force_complete": None})
    assert r.status_code == 400  # force complete only while running
    r = await client.delete(url, headers=mv(admin_headers, "2.65"))
    assert r.status_code == 202, r.text
    got = await wait_for(client, admin_headers, server, "ACTIVE")
    assert got["OS-EXT-SRV-ATTR:host"] == cloud.platform.host
    r = await client.get(f"{API}/os-migrations", params={"instance_uuid": server},
                         headers=mv(admin_headers))
    assert [m["status"] for m in r.json()["migrations"]] == ["cancelled"]


async def test_live_migration_cut_off_by_a_restart(client: httpx.AsyncClient, cloud,
                                                   admin_headers: dict[str, str],
                                                   image_id: str) -> None:
    """Both agents stop mid-migration (as a kill leaves them); the source's restart puts the
    server back on it, ACTIVE, with its allocation there and the migration in error."""
    from onestack.compute.manager import ComputeAgent
    from onestack.compute.virt.fake import FakeDriver

    src, dst = "lm-src", "lm-dst"
    target = ComputeAgent(cloud.platform, drivers={dst: FakeDriver(dst, migration_time=30)})
    source = ComputeAgent(cloud.platform, drivers={src: FakeDriver(src)})
    await target.start()
    await source.start()
    created = await boot(client, admin_headers, image_id, name="cut",
                         availability_zone=f"nova:{src}")
    sid = created["server"]["id"]
    await wait_for(client, admin_headers, sid, "ACTIVE")
    await action(client, admin_headers, sid, {"os-migrateLive": {"host": dst}})
    mig = await _running(client, admin_headers, sid)
    await target.stop(timeout=0)  # the migration is cut off in the middle
    await source.stop(timeout=0)
    again = ComputeAgent(cloud.platform, drivers={src: FakeDriver(src)})
    await again.start()
    try:
        for _ in range(250):  # the restart reconciles in the background
            got = await show(client, admin_headers, sid)
            if got["OS-EXT-STS:task_state"] is None:
                break
            await asyncio.sleep(0.02)
        assert got["status"] == "ACTIVE" and got["OS-EXT-SRV-ATTR:host"] == src
        assert await _provider_hosts(cloud, sid) == {src}
        assert await _provider_hosts(cloud, mig["uuid"]) == set()
        r = await client.get(f"{API}/os-migrations", params={"instance_uuid": sid},
                             headers=mv(admin_headers))
        assert [m["status"] for m in r.json()["migrations"]] == ["error"]
    finally:
        await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
        await wait_gone(client, admin_headers, sid)
        services = (await client.get(f"{API}/os-services", headers=mv(admin_headers))).json()
        for s in services["services"]:
            if s["host"] in (src, dst):
                await client.put(f"{API}/os-services/{s['id']}", headers=mv(admin_headers),
                                 json={"status": "disabled"})
        await again.stop()
