"""Volumes in Compute on the fake driver and the file backend: attach / detach / list / show
(``os-volume_attachments`` with their microversion fields), boot from volume (image, volume,
snapshot and blank sources), delete_on_termination, bad input and another project's volume."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from onestack.compute.manager import ComputeAgent
from tests.functional.compute.conftest import API, action, boot, mv, show, wait_for, wait_gone
from tests.functional.volume.conftest import create_volume, project_of
from tests.functional.volume.conftest import mv as vmv
from tests.functional.volume.conftest import wait_for as vwait
from tests.functional.volume.conftest import wait_gone as vgone


def guest_volumes(cloud: Any, server_id: str) -> dict[str, Any]:
    agent = next(a for a in cloud.agents if isinstance(a, ComputeAgent))
    return dict(agent.drivers[cloud.platform.host].guests[server_id].volumes)  # type: ignore[attr-defined]


async def volume_of(client: httpx.AsyncClient, api: str, headers: dict[str, str],
                    size: int = 1, **extra: Any) -> str:
    vol = await create_volume(client, api, headers, size=size, **extra)
    await vwait(client, api, headers, "volumes", vol["id"], "available")
    return str(vol["id"])


@pytest.fixture(scope="module")
async def demo_api(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> str:
    return f"/volume/v3/{await project_of(client, demo_headers)}"


@pytest.fixture(scope="module")
async def admin_api(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    return f"/volume/v3/{await project_of(client, admin_headers)}"


@pytest.fixture
async def server(client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str):
    created = await boot(client, demo_headers, image_id, name="vol-vm")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


def attachments_url(server_id: str, volume_id: str = "") -> str:
    url = f"{API}/servers/{server_id}/os-volume_attachments"
    return f"{url}/{volume_id}" if volume_id else url


async def attach(client: httpx.AsyncClient, headers: dict[str, str], server_id: str,
                 body: dict[str, Any], version: str = "2.96", expect: int = 200) -> dict[str, Any]:
    r = await client.post(attachments_url(server_id), headers=mv(headers, version),
                          json={"volumeAttachment": body})
    assert r.status_code == expect, r.text
    return dict(r.json())


async def test_attach_list_show_detach(cloud, client: httpx.AsyncClient, demo_api: str,
                                       demo_headers: dict[str, str], server: str) -> None:
    vid = await volume_of(client, demo_api, demo_headers)
    att = (await attach(client, demo_headers, server,
                        {"volumeId": vid, "tag": "data", "delete_on_termination": False}))
    att = att["volumeAttachment"]
    assert att["volumeId"] == vid and att["serverId"] == server and att["device"] == "/dev/vdb"
    assert att["tag"] == "data" and att["delete_on_termination"] is False
    assert att["attachment_id"] and att["bdm_uuid"] and "id" not in att  # 2.89
    vol = await vwait(client, demo_api, demo_headers, "volumes", vid, "in-use")
    (cinder_att,) = vol["attachments"]
    assert cinder_att["server_id"] == server
    info = guest_volumes(cloud, server)["/dev/vdb"]
    assert info["driver_volume_type"] == "file" and vid in info["data"]["path"]
    assert info["data"]["format"] == "qcow2"

    r = await client.get(attachments_url(server), headers=mv(demo_headers, "2.1"))
    (old,) = r.json()["volumeAttachments"]
    assert old == {"id": vid, "volumeId": vid, "serverId": server, "device": "/dev/vdb"}
    r = await client.get(attachments_url(server, vid), headers=mv(demo_headers, "2.79"))
    shown = r.json()["volumeAttachment"]
    assert shown["tag"] == "data" and shown["delete_on_termination"] is False
    assert "bdm_uuid" not in shown
    server_body = await show(client, demo_headers, server, "2.3")
    assert server_body["os-extended-volumes:volumes_attached"] == [
        {"id": vid, "delete_on_termination": False}
    ]
    assert (await show(client, demo_headers, server, "2.1"))[
        "os-extended-volumes:volumes_attached"] == [{"id": vid}]
    r = await client.get(f"{API}/servers/detail", headers=mv(demo_headers))
    mine = next(s for s in r.json()["servers"] if s["id"] == server)
    assert mine["os-extended-volumes:volumes_attached"][0]["id"] == vid

    # attached already: to this server and (not multiattach) to another
    await attach(client, demo_headers, server, {"volumeId": vid}, expect=400)
    r = await client.delete(attachments_url(server, vid), headers=demo_headers)
    assert r.status_code == 202, r.text
    await vwait(client, demo_api, demo_headers, "volumes", vid, "available")
    assert guest_volumes(cloud, server) == {}
    r = await client.get(attachments_url(server), headers=demo_headers)
    assert r.json()["volumeAttachments"] == []
    r = await client.delete(attachments_url(server, vid), headers=demo_headers)
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = await client.get(attachments_url(server, vid), headers=demo_headers)
    assert r.status_code == 404
    await client.delete(f"{demo_api}/volumes/{vid}", headers=vmv(demo_headers))


async def test_attach_refusals(client: httpx.AsyncClient, demo_api: str, admin_api: str,
                               demo_headers: dict[str, str], admin_headers: dict[str, str],
                               image_id: str, server: str) -> None:
    vid = await volume_of(client, demo_api, demo_headers)
    for body, version in (
        ({"volumeId": "not-a-uuid"}, "2.96"),
        ({}, "2.96"),
        ({"volumeId": vid, "tag": "t"}, "2.48"),
        ({"volumeId": vid, "delete_on_termination": True}, "2.78"),
        ({"volumeId": vid, "delete_on_termination": "maybe"}, "2.96"),
        ({"volumeId": vid, "bogus": 1}, "2.96"),
    ):
        await attach(client, demo_headers, server, body, version, expect=400)
    missing = "8f0c2a5e-0000-4000-8000-000000000000"
    r = await client.post(attachments_url(server), headers=mv(demo_headers),
                          json={"volumeAttachment": {"volumeId": missing}})
    assert r.status_code == 404 and "itemNotFound" in r.json()
    # another project's volume is not there for the caller
    theirs = await volume_of(client, admin_api, admin_headers)
    await attach(client, demo_headers, server, {"volumeId": theirs}, expect=404)
    r = await client.get(f"{admin_api}/volumes/{theirs}", headers=vmv(admin_headers))
    assert r.json()["volume"]["status"] == "available"
    # a volume attached to another server (not multiattach)
    other = (await boot(client, demo_headers, image_id, name="vol-other"))["server"]["id"]
    await wait_for(client, demo_headers, other, "ACTIVE")
    await attach(client, demo_headers, other, {"volumeId": vid})
    r = await client.post(attachments_url(server), headers=mv(demo_headers),
                          json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 400 and "badRequest" in r.json(), r.text
    # a server in a state that does not allow it
    await action(client, demo_headers, server, {"suspend": None})
    await wait_for(client, demo_headers, server, "SUSPENDED")
    r = await client.post(attachments_url(server), headers=mv(demo_headers),
                          json={"volumeAttachment": {"volumeId": theirs}})
    assert r.status_code == 409 and "conflictingRequest" in r.json(), r.text
    # the other server's delete detaches the volume (it stays: not delete_on_termination)
    await client.delete(f"{API}/servers/{other}", headers=demo_headers)
    await wait_gone(client, demo_headers, other)
    await vwait(client, demo_api, demo_headers, "volumes", vid, "available")
    await client.delete(f"{demo_api}/volumes/{vid}", headers=vmv(demo_headers))
    await client.delete(f"{admin_api}/volumes/{theirs}", headers=vmv(admin_headers))


async def boot_from(client: httpx.AsyncClient, headers: dict[str, str],
                    bdms: list[dict[str, Any]], expect: int = 202, **server: Any) -> dict[str, Any]:
    body = {"server": {"name": "bfv", "flavorRef": "42", "networks": "none",
                       "block_device_mapping_v2": bdms, **server}}
    r = await client.post(f"{API}/servers", headers=mv(headers), json=body)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def test_boot_from_image_volume_delete_on_termination(
    cloud, client: httpx.AsyncClient, demo_api: str, demo_headers: dict[str, str], image_id: str,
    admin_headers: dict[str, str],
) -> None:
    created = await boot_from(client, demo_headers, [
        {"source_type": "image", "uuid": image_id, "destination_type": "volume",
         "boot_index": 0, "volume_size": 1, "delete_on_termination": True},
        {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
         "delete_on_termination": True},
    ])
    sid = created["server"]["id"]
    server = await wait_for(client, demo_headers, sid, "ACTIVE")
    assert server["image"] == ""
    attached = server["os-extended-volumes:volumes_attached"]
    assert len(attached) == 2 and all(a["delete_on_termination"] for a in attached)
    root, extra = (a["id"] for a in attached)
    vol = await vwait(client, demo_api, demo_headers, "volumes", root, "in-use")
    assert vol["bootable"] == "true" and vol["volume_image_metadata"]["image_id"] == image_id
    assert set(guest_volumes(cloud, sid)) == {"/dev/vda", "/dev/vdb"}
    r = await client.get(f"/placement/allocations/{sid}", headers=admin_headers)
    (alloc,) = r.json()["allocations"].values()
    assert "DISK_GB" not in alloc["resources"] and alloc["resources"]["VCPU"]
    r = await client.delete(attachments_url(sid, root), headers=demo_headers)
    assert r.status_code == 400 and "root" in r.text
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)
    for vid in (root, extra):
        await vgone(client, demo_api, demo_headers, "volumes", vid)


async def test_boot_from_volume_and_snapshot_kept(
    client: httpx.AsyncClient, demo_api: str, demo_headers: dict[str, str], image_id: str
) -> None:
    vid = await volume_of(client, demo_api, demo_headers, imageRef=image_id)
    r = await client.post(f"{demo_api}/snapshots", headers=vmv(demo_headers),
                          json={"snapshot": {"volume_id": vid}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]["id"]
    await vwait(client, demo_api, demo_headers, "snapshots", snap, "available")
    first = (await boot_from(client, demo_headers, [
        {"source_type": "volume", "uuid": vid, "destination_type": "volume", "boot_index": 0},
    ]))["server"]["id"]
    second = (await boot_from(client, demo_headers, [
        {"source_type": "snapshot", "uuid": snap, "destination_type": "volume",
         "boot_index": "0", "delete_on_termination": False},
    ]))["server"]["id"]
    one = await wait_for(client, demo_headers, first, "ACTIVE")
    two = await wait_for(client, demo_headers, second, "ACTIVE")
    assert one["os-extended-volumes:volumes_attached"] == [
        {"id": vid, "delete_on_termination": False}]
    (made,) = two["os-extended-volumes:volumes_attached"]
    await vwait(client, demo_api, demo_headers, "volumes", made["id"], "in-use")
    # the attached root volume is not free for another boot
    await boot_from(client, demo_headers, [
        {"source_type": "volume", "uuid": vid, "destination_type": "volume", "boot_index": 0},
    ], expect=400)
    for sid in (first, second):
        await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
        await wait_gone(client, demo_headers, sid)
    await vwait(client, demo_api, demo_headers, "volumes", vid, "available")
    await vwait(client, demo_api, demo_headers, "volumes", made["id"], "available")
    for volume in (made["id"],):
        await client.delete(f"{demo_api}/volumes/{volume}", headers=vmv(demo_headers))
    await client.delete(f"{demo_api}/snapshots/{snap}", headers=vmv(demo_headers))
    await vgone(client, demo_api, demo_headers, "snapshots", snap)
    await client.delete(f"{demo_api}/volumes/{vid}", headers=vmv(demo_headers))


async def test_boot_refusals(client: httpx.AsyncClient, demo_headers: dict[str, str],
                             admin_api: str, admin_headers: dict[str, str], image_id: str) -> None:
    theirs = await volume_of(client, admin_api, admin_headers)
    missing = "8f0c2a5e-0000-4000-8000-000000000000"
    for bdms in (
        [{"source_type": "volume", "uuid": theirs, "destination_type": "volume", "boot_index": 0}],
        [{"source_type": "volume", "uuid": missing, "destination_type": "volume", "boot_index": 0}],
        [{"source_type": "snapshot", "uuid": missing, "boot_index": 0}],
        [{"source_type": "blank", "destination_type": "volume", "boot_index": 0}],
        [{"source_type": "volume", "destination_type": "local", "uuid": theirs}],
        [{"source_type": "floppy", "uuid": theirs}],
        [{"source_type": "image", "uuid": image_id, "destination_type": "volume",
          "boot_index": 0, "volume_size": 0}],
        "not-a-list",
    ):
        body = await boot_from(client, demo_headers, bdms, expect=400)  # type: ignore[arg-type]
        assert "badRequest" in body
    await boot_from(client, demo_headers, [
        {"source_type": "volume", "uuid": theirs, "destination_type": "volume", "boot_index": 0},
    ], expect=400, min_count=2)
    r = await client.get(f"{admin_api}/volumes/{theirs}", headers=vmv(admin_headers))
    assert r.json()["volume"]["status"] == "available"
    await client.delete(f"{admin_api}/volumes/{theirs}", headers=vmv(admin_headers))


async def test_failed_build_frees_its_volume(cloud, client: httpx.AsyncClient, admin_api: str,
                                             admin_headers: dict[str, str]) -> None:
    vid = await volume_of(client, admin_api, admin_headers)
    agent = next(a for a in cloud.agents if isinstance(a, ComputeAgent))
    driver = agent.drivers[cloud.platform.host]
    driver.fail_spawn = True  # type: ignore[attr-defined]
    try:
        sid = (await boot_from(client, admin_headers, [
            {"source_type": "volume", "uuid": vid, "destination_type": "volume", "boot_index": 0},
        ], availability_zone=f"nova:{cloud.platform.host}"))["server"]["id"]
        server = await wait_for(client, admin_headers, sid, "ERROR")
    finally:
        driver.fail_spawn = False  # type: ignore[attr-defined]
    assert "fail" in server["fault"]["message"]
    vol = await vwait(client, admin_api, admin_headers, "volumes", vid, "available")
    assert vol["attachments"] == []
    await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
    await wait_gone(client, admin_headers, sid)
    await vwait(client, admin_api, admin_headers, "volumes", vid, "available")
    await client.delete(f"{admin_api}/volumes/{vid}", headers=vmv(admin_headers))
