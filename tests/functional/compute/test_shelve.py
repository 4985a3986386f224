"""Shelve: the snapshot image, offload freeing the host, unshelve to a zone or another host
booting from the snapshot, and the snapshot deleted afterwards."""

from __future__ import annotations

import httpx
import pytest

from onestack.compute.core import SharedCore
from onestack.compute.virt.fake import FakeDriver
from tests.functional.compute.conftest import (
    API,
    action,
    boot,
    extra_host,
    show,
    wait_for,
    wait_gone,
)

OTHER = "shelve-b"
PLACEMENT = {"OpenStack-API-Version": "placement 1.36"}


@pytest.fixture(scope="module")
async def other_host(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]):
    """A second host to unshelve to."""
    async with extra_host(cloud, client, admin_headers, OTHER) as driver:
        yield driver


@pytest.fixture
async def server(client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str):
    created = await boot(client, demo_headers, image_id, name="shelf")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


@pytest.fixture
def keep_on_host(cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """``shelved_offload_time = -1``: a shelved server keeps its host until offloaded."""
    monkeypatch.setattr(SharedCore.get(cloud.platform).conf, "shelved_offload_time", -1)


async def _allocations(cloud, consumer: str) -> dict:
    placement = cloud.platform.clients.for_service("placement", user="nova")
    r = await placement.get(f"/allocations/{consumer}", headers=PLACEMENT)
    return dict(r.json()["allocations"])


async def _images_named(client, headers, name: str) -> list[dict]:
    r = await client.get("/image/v2/images", params={"name": name}, headers=headers)
    return list(r.json()["images"])


async def test_shelve_snapshot_offload_unshelve(
    client: httpx.AsyncClient, cloud, demo_headers: dict[str, str], image_id: str, server: str
) -> None:
    assert await _allocations(cloud, server)
    await action(client, demo_headers, server, {"shelve": None})
    got = await wait_for(client, demo_headers, server, "SHELVED_OFFLOADED")
    assert got["OS-EXT-STS:power_state"] == 4
    assert await _allocations(cloud, server) == {}  # the host is free
    [image] = await _images_named(client, demo_headers, "shelf-shelved")
    assert image["status"] == "active"
    assert image["instance_uuid"] == server and image["image_type"] == "snapshot"
    assert image["base_image_ref"] == image_id and image["user_id"]
    assert image["owner_project_name"] == "demo" and image["owner_user_name"] == "demo"
    assert got["image"]["id"] == image_id  # the server still names its own image

    await action(client, demo_headers, server, {"unshelve": None})
    got = await wait_for(client, demo_headers, server, "ACTIVE")
    assert got["image"]["id"] == image_id
    assert await _allocations(cloud, server)
    r = await client.get(f"/image/v2/images/{image['id']}", headers=demo_headers)
    assert r.status_code == 404  # the snapshot is gone after unshelve
    names = [
        a["action"]
        for a in (
            await client.get(f"{API}/servers/{server}/os-instance-actions", headers=demo_headers)
        ).json()["instanceActions"]
    ]
    assert names[:2] == ["unshelve", "shelve"]


async def test_unshelve_boots_from_the_snapshot(
    client: httpx.AsyncClient,
    cloud,
    demo_headers: dict[str, str],
    admin_headers: dict[str, str],
    server: str,
    other_host: FakeDriver,
) -> None:
    await action(client, demo_headers, server, {"shelve": None})
    await wait_for(client, demo_headers, server, "SHELVED_OFFLOADED")
    [image] = await _images_named(client, demo_headers, "shelf-shelved")
    # 2.91: to a named host (admin only); a member may not
    body = {"unshelve": {"host": OTHER}}
    r = await action(client, demo_headers, server, body, expect=403, version="2.91")
    assert "forbidden" in r.json()
    await action(client, admin_headers, server, body, expect=400, version="2.90")
    await action(client, admin_headers, server, body, version="2.91")
    got = await wait_for(client, demo_headers, server, "ACTIVE")
    admin_view = await show(client, admin_headers, server)
    assert admin_view["OS-EXT-SRV-ATTR:host"] == OTHER
    assert other_host.guests[server].spec.image_ref == image["id"]
    assert got["image"]["id"] != image["id"]
    assert list(await _allocations(cloud, server))  # claimed on the new host


async def test_shelved_keeps_host_until_offloaded(
    client: httpx.AsyncClient,
    cloud,
    demo_headers: dict[str, str],
    admin_headers: dict[str, str],
    server: str,
    keep_on_host: None,
) -> None:
    await action(client, demo_headers, server, {"shelve": None})
    await wait_for(client, demo_headers, server, "SHELVED")
    held = await _allocations(cloud, server)
    assert held
    # only an offloaded server unshelves to a zone (2.77) or a host (2.91)
    zone = {"unshelve": {"availability_zone": "nova"}}
    await action(client, demo_headers, server, zone, expect=409, version="2.77")
    await action(client, demo_headers, server, {"shelveOffload": None}, expect=403)
    await action(client, admin_headers, server, {"shelveOffload": None})
    await wait_for(client, demo_headers, server, "SHELVED_OFFLOADED")
    assert await _allocations(cloud, server) == {}
    assert (await show(client, admin_headers, server))["OS-EXT-SRV-ATTR:host"] is None
    await action(client, demo_headers, server, zone, expect=400, version="2.76")
    await action(client, demo_headers, server, zone, version="2.77")
    got = await wait_for(client, demo_headers, server, "ACTIVE")
    assert got["OS-EXT-AZ:availability_zone"] == "nova"


async def test_unshelve_in_place_and_delete_while_shelved(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    image_id: str,
    server: str,
    keep_on_host: None,
) -> None:
    await action(client, demo_headers, server, {"shelve": None})
    await wait_for(client, demo_headers, server, "SHELVED")
    [image] = await _images_named(client, demo_headers, "shelf-shelved")
    await action(client, demo_headers, server, {"unshelve": None})
    await wait_for(client, demo_headers, server, "ACTIVE")
    r = await client.get(f"/image/v2/images/{image['id']}", headers=demo_headers)
    assert r.status_code == 404
    # deleting a shelved server deletes its snapshot too
    created = await boot(client, demo_headers, image_id, name="gone")
    other = created["server"]["id"]
    await wait_for(client, demo_headers, other, "ACTIVE")
    await action(client, demo_headers, other, {"shelve": None})
    await wait_for(client, demo_headers, other, "SHELVED")
    [snap] = await _images_named(client, demo_headers, "gone-shelved")
    await client.delete(f"{API}/servers/{other}", headers=demo_headers)
    await wait_gone(client, demo_headers, other)
    r = await client.get(f"/image/v2/images/{snap['id']}", headers=demo_headers)
    assert r.status_code == 404


async def test_volume_backed_shelve_skips_the_snapshot(
    client: httpx.AsyncClient, cloud, demo_headers: dict[str, str], server: str
) -> None:
    from onestack.compute import instances

    core = SharedCore.get(cloud.platform)
    async with core.write() as session:  # as a server booted from a volume: no image
        await instances.set_state(session, server, image_ref="")
    await action(client, demo_headers, server, {"shelve": None})
    await wait_for(client, demo_headers, server, "SHELVED_OFFLOADED")
    assert await _images_named(client, demo_headers, "shelf-shelved") == []
    await action(client, demo_headers, server, {"unshelve": None})
    await wait_for(client, demo_headers, server, "ACTIVE")


async def test_bad_unshelve(
    client: httpx.AsyncClient, demo_headers: dict[str, str], server: str
) -> None:
    for body, version in (
        ({"unshelve": {"availability_zone": None}}, "2.90"),
        ({"unshelve": {"availability_zone": 5}}, "2.91"),
        ({"unshelve": {"host": ""}}, "2.91"),
        ({"unshelve": {"flavor": "x"}}, "2.91"),
        ({"unshelve": "x"}, "2.91"),
    ):
        r = await action(client, demo_headers, server, body, expect=400, version=version)
        assert "badRequest" in r.json()
    await action(client, demo_headers, server, {"unshelve": None}, expect=409)
