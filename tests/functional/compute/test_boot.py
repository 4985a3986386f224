"""The boot flow end to end on the fake driver: API -> conductor -> scheduler -> agent."""

from __future__ import annotations

import httpx

from tests.functional.compute.conftest import API, boot, mv, show, wait_for, wait_gone


async def test_boot_show_list_delete(
    client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str
) -> None:
    created = await boot(client, demo_headers, image_id, name="first")
    server = created["server"]
    assert server["adminPass"] and server["OS-DCF:diskConfig"] == "MANUAL"
    assert server["links"][0]["href"].endswith(f"/v2.1/servers/{server['id']}")
    active = await wait_for(client, demo_headers, server["id"], "ACTIVE")
    assert active["OS-EXT-STS:vm_state"] == "active"
    assert active["OS-EXT-STS:power_state"] == 1
    assert active["flavor"]["original_name"] == "m1.nano"
    assert active["image"]["id"] == image_id
    assert active["hostId"]
    assert "OS-EXT-SRV-ATTR:host" not in active  # admins only
    r = await client.get(f"{API}/servers", headers=demo_headers)
    assert server["id"] in [s["id"] for s in r.json()["servers"]]
    r = await client.get(f"{API}/servers/detail", headers=demo_headers)
    assert any(s["id"] == server["id"] and s["status"] == "ACTIVE" for s in r.json()["servers"])
    r = await client.delete(f"{API}/servers/{server['id']}", headers=demo_headers)
    assert r.status_code == 204
    await wait_gone(client, demo_headers, server["id"])


async def test_admin_sees_host(
    client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    created = await boot(client, admin_headers, image_id, name="adm")
    server = await wait_for(client, admin_headers, created["server"]["id"], "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"]
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    assert server["host_status"] == "UP"
    old = await show(client, admin_headers, server["id"], version="2.1")
    assert old["flavor"]["id"] == "42" and "locked" not in old and "tags" not in old
    await client.delete(f"{API}/servers/{server['id']}", headers=admin_headers)
    await wait_gone(client, admin_headers, server["id"])


async def test_no_valid_host(
    client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    r = await client.post(
        f"{API}/flavors",
        headers=admin_headers,
        json={"flavor": {"name": "huge-test", "ram": 50_000, "vcpus": 1, "disk": 1}},
    )
    assert r.status_code == 200, r.text
    flavor = r.json()["flavor"]["id"]
    created = await boot(client, admin_headers, image_id, flavor=flavor, name="huge")
    server = await wait_for(client, admin_headers, created["server"]["id"], "ERROR")
    assert server["fault"]["message"].startswith("No valid host was found.")
    assert server["OS-EXT-SRV-ATTR:host"] is None
    r = await client.delete(f"{API}/servers/{server['id']}", headers=admin_headers)
    assert r.status_code == 204
    await wait_gone(client, admin_headers, server["id"])
    await client.delete(f"{API}/flavors/{flavor}", headers=admin_headers)


async def test_version_negotiation(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> None:
    r = await client.get(f"{API}/flavors", headers=mv(demo_headers, "2.99"))
    assert r.status_code == 406
    assert "computeFault" in r.json() or "notAcceptable" in str(r.json())
    r = await client.get(
        f"{API}/flavors", headers={**demo_headers, "X-OpenStack-Nova-API-Version": "2.50"}
    )
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.50"
    assert r.headers["OpenStack-API-Version"] == "compute 2.50"
    r = await client.get(f"{API}/flavors", headers=mv(demo_headers, "latest"))
    assert r.headers["OpenStack-API-Version"] == "compute 2.96"
    r = await client.get(f"{API}/flavors", headers=demo_headers)
    assert r.headers["OpenStack-API-Version"] == "compute 2.1"


async def test_notifications(cloud, client: httpx.AsyncClient, demo_headers: dict[str, str],
                             image_id: str) -> None:
    import asyncio

    from onestack.common.notifications import NotificationListener

    seen: list[tuple[str, str, dict]] = []

    async def handler(note) -> None:
        seen.append((note.event_type, note.publisher_id, note.payload))

    listener = NotificationListener(cloud.platform.transport, handler,
                                    topics=("versioned_notifications", "notifications"),
                                    pool="compute-test")
    await listener.start()
    try:
        created = await boot(client, demo_headers, image_id, name="noted")
        sid = created["server"]["id"]
        await wait_for(client, demo_headers, sid, "ACTIVE")
        for _ in range(100):
            if any(e == "instance.create.end" for e, _, _ in seen):
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.stop()
    ends = [p for e, _, p in seen if e == "instance.create.end"]
    assert ends and ends[0]["nova_object.data"]["uuid"] == sid
    assert any(e == "compute.instance.create.end" and p["instance_uuid"] == sid
               for e, _, p in seen)
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)
