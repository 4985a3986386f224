"""The data path on the file backend: a volume from an image (format inspected, image
properties copied), backup (full and incremental) and restore to a new and an existing volume,
export / import of the record, upload to an image, all byte-compared."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.functional.volume.conftest import create_volume, mv, wait_for, wait_gone

MiB = 1024 * 1024


def raw_bytes(path: Path, tmp: Path, length: int) -> bytes:
    out = tmp / f"{path.stem}.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), str(out)], check=True)
    with out.open("rb") as f:
        return f.read(length)


def volume_file(cloud, volume_id: str) -> Path:
    return cloud.settings.data_dir / "volumes" / "file" / f"volume-{volume_id}.qcow2"


@pytest.fixture(scope="module")
async def image(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> tuple[str, bytes]:
    data = os.urandom(2 * MiB)
    r = await client.post("/image/v2/images", headers=admin_headers, json={
        "name": "volume-source", "disk_format": "raw", "container_format": "bare",
        "visibility": "public", "os_distro": "debian", "hw_disk_bus": "virtio"})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    r = await client.put(f"/image/v2/images/{image_id}/file", content=data, headers={
        **admin_headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return image_id, data


async def test_volume_from_image(cloud, client: httpx.AsyncClient, demo_api: str,
                                 demo_headers: dict[str, str], image: tuple[str, bytes],
                                 tmp_path: Path) -> None:
    image_id, data = image
    vol = await create_volume(client, demo_api, demo_headers, imageRef=image_id, size=None)
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    assert vol["size"] == 1 and vol["bootable"] == "true"
    meta = vol["volume_image_metadata"]
    assert meta["image_id"] == image_id and meta["os_distro"] == "debian"
    assert meta["disk_format"] == "raw" and meta["hw_disk_bus"] == "virtio"
    assert raw_bytes(volume_file(cloud, vol["id"]), tmp_path, len(data)) == data
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)


async def test_qcow2_image_and_missing_image(client: httpx.AsyncClient, demo_api: str,
                                             admin_headers: dict[str, str],
                                             demo_headers: dict[str, str],
                                             tmp_path: Path) -> None:
    """A qcow2 image is inspected and converted; an image that does not exist is a 400."""
    qcow = tmp_path / "x.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "1M"], check=True)
    r = await client.post("/image/v2/images", headers=admin_headers, json={
        "name": "qcow2-source", "disk_format": "qcow2", "container_format": "bare",
        "visibility": "public"})
    image_id = r.json()["id"]
    r = await client.put(f"/image/v2/images/{image_id}/file", content=qcow.read_bytes(),
                         headers={**admin_headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204
    vol = await create_volume(client, demo_api, demo_headers, imageRef=image_id, size=1)
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{demo_api}/volumes", headers=demo_headers,
                          json={"volume": {"size": 1, "imageRef": "no-such-image"}})
    assert r.status_code == 400 and "badRequest" in r.json()
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)


async def test_backup_incremental_restore_export(cloud, client: httpx.AsyncClient,
                                                 demo_api: str, admin_api: str,
                                                 admin_headers: dict[str, str],
                                                 demo_headers: dict[str, str],
                                                 image: tuple[str, bytes],
                                                 tmp_path: Path) -> None:
    image_id, data = image
    vol = await create_volume(client, demo_api, demo_headers, imageRef=image_id, size=1)
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{demo_api}/backups", headers=demo_headers,
                          json={"backup": {"volume_id": vol["id"], "name": "full"}})
    assert r.status_code == 202, r.text
    full = await wait_for(client, demo_api, demo_headers, "backups", r.json()["backup"]["id"],
                          "available")
    # 1 GiB in 32 MiB chunks: the image's 2 MiB in the first, 31 holes stored as nothing
    assert full["object_count"] == 1 and full["is_incremental"] is False
    root = cloud.settings.data_dir / "volume-backups" / "volumebackups" / f"backup-{full['id']}"
    assert [p.name for p in root.iterdir()] == ["chunk-000000"]
    r = await client.post(f"{demo_api}/backups", headers=demo_headers,
                          json={"backup": {"volume_id": vol["id"], "incremental": True}})
    incr = await wait_for(client, demo_api, demo_headers, "backups", r.json()["backup"]["id"],
                          "available")
    assert incr["is_incremental"] is True and incr["object_count"] == 0  # nothing changed
    r = await client.delete(f"{demo_api}/backups/{full['id']}", headers=demo_headers)
    assert r.status_code == 400  # the incremental depends on it
    # restore to a new volume, byte-compared
    r = await client.post(f"{demo_api}/backups/{incr['id']}/restore", headers=demo_headers,
                          json={"restore": {"name": "restored"}})
    assert r.status_code == 202, r.text
    new_id = r.json()["restore"]["volume_id"]
    await wait_for(client, demo_api, demo_headers, "volumes", new_id, "available")
    await wait_for(client, demo_api, demo_headers, "backups", incr["id"], "available")
    assert raw_bytes(volume_file(cloud, new_id), tmp_path, len(data)) == data
    # restore over an existing blank volume
    blank = await create_volume(client, demo_api, demo_headers, size=1)
    await wait_for(client, demo_api, demo_headers, "volumes", blank["id"], "available")
    r = await client.post(f"{demo_api}/backups/{full['id']}/restore", headers=demo_headers,
                          json={"restore": {"volume_id": blank["id"]}})
    assert r.status_code == 202 and r.json()["restore"]["volume_id"] == blank["id"]
    await wait_for(client, demo_api, demo_headers, "backups", full["id"], "available")
    await wait_for(client, demo_api, demo_headers, "volumes", blank["id"], "available")
    assert raw_bytes(volume_file(cloud, blank["id"]), tmp_path, len(data)) == data
    # export and import the record (admin)
    r = await client.get(f"{admin_api}/backups/{full['id']}/export_record",
                         headers=admin_headers)
    assert r.status_code == 200, r.text
    record = r.json()["backup-record"]
    r = await client.post(f"{admin_api}/backups/import_record", headers=admin_headers,
                          json={"backup-record": record})
    assert r.status_code == 400  # it exists already
    r = await client.post(f"{admin_api}/backups/import_record", headers=admin_headers,
                          json={"backup-record": {"backup_service": "x", "backup_url": "!!"}})
    assert r.status_code == 400
    for backup in (incr, full):
        r = await client.delete(f"{demo_api}/backups/{backup['id']}", headers=demo_headers)
        assert r.status_code == 202
        await wait_gone(client, demo_api, demo_headers, "backups", backup["id"])
    assert not root.exists()
    for vid in (vol["id"], new_id, blank["id"]):
        await client.delete(f"{demo_api}/volumes/{vid}", headers=demo_headers)


async def test_upload_to_image(cloud, client: httpx.AsyncClient, demo_api: str,
                               demo_headers: dict[str, str], image: tuple[str, bytes],
                               tmp_path: Path) -> None:
    image_id, data = image
    vol = await create_volume(client, demo_api, demo_headers, imageRef=image_id, size=1)
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{demo_api}/volumes/{vol['id']}/action", headers=mv(demo_headers),
                          json={"os-volume_upload_image": {"image_name": "from-volume",
                                                           "disk_format": "qcow2"}})
    assert r.status_code == 202, r.text
    upload = r.json()["os-volume_upload_image"]
    assert upload["status"] == "uploading" and upload["disk_format"] == "qcow2"
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.get(f"/image/v2/images/{upload['image_id']}", headers=demo_headers)
    assert r.json()["status"] == "active" and r.json()["disk_format"] == "qcow2"
    r = await client.get(f"/image/v2/images/{upload['image_id']}/file", headers=demo_headers)
    assert r.content[:4] == b"QFI\xfb"
    uploaded = tmp_path / "uploaded.qcow2"
    uploaded.write_bytes(r.content)
    assert raw_bytes(uploaded, tmp_path, len(data)) == data
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)


async def test_transfer_between_projects(cloud, client: httpx.AsyncClient, demo_api: str,
                                         admin_api: str, admin_headers: dict[str, str],
                                         demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, demo_api, demo_headers, name="gift")
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{demo_api}/volume-transfers", headers=mv(demo_headers),
                          json={"transfer": {"volume_id": vol["id"], "name": "t"}})
    assert r.status_code == 202, r.text
    transfer = r.json()["transfer"]
    assert len(transfer["auth_key"]) == 16
    r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.json()["volume"]["status"] == "awaiting-transfer"
    r = await client.post(f"{admin_api}/os-volume-transfer/{transfer['id']}/accept",
                          headers=admin_headers, json={"accept": {"auth_key": "wrong"}})
    assert r.status_code == 400
    r = await client.post(f"{admin_api}/os-volume-transfer/{transfer['id']}/accept",
                          headers=admin_headers, json={"accept": {"auth_key":
                                                                  transfer["auth_key"]}})
    assert r.status_code == 202, r.text
    r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.status_code == 404
    r = await client.get(f"{admin_api}/volumes/{vol['id']}", headers=admin_headers)
    moved = r.json()["volume"]
    assert moved["status"] == "available"
    assert moved["os-vol-tenant-attr:tenant_id"] == admin_api.rsplit("/", 1)[-1]
    await client.delete(f"{admin_api}/volumes/{vol['id']}", headers=admin_headers)


async def test_attachments_api_and_legacy_actions(client: httpx.AsyncClient, demo_api: str,
                                                  demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, demo_api, demo_headers)
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    headers = mv(demo_headers, "3.44")
    r = await client.post(f"{demo_api}/attachments", headers=mv(demo_headers, "3.26"),
                          json={"attachment": {"volume_uuid": vol["id"]}})
    assert r.status_code == 404
    r = await client.post(f"{demo_api}/attachments", headers=headers, json={"attachment": {
        "volume_uuid": vol["id"], "instance_uuid": "11111111-2222-3333-4444-555555555555"}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    assert att["status"] == "reserved"
    r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.json()["volume"]["status"] == "reserved"
    r = await client.post(f"{demo_api}/attachments", headers=headers, json={"attachment": {
        "volume_uuid": vol["id"], "instance_uuid": "66666666-2222-3333-4444-555555555555"}})
    assert r.status_code == 400  # not multiattach
    r = await client.put(f"{demo_api}/attachments/{att['id']}", headers=headers,
                         json={"attachment": {"connector": {"host": "node1",
                                                            "initiator": "x"}}})
    assert r.status_code == 200, r.text
    info = r.json()["attachment"]["connection_info"]
    assert info["driver_volume_type"] == "file" and info["data"]["format"] == "qcow2"
    assert info["data"]["path"].endswith(f"volume-{vol['id']}.qcow2")
    r = await client.post(f"{demo_api}/attachments/{att['id']}/action", headers=headers,
                          json={"os-complete": None})
    assert r.status_code == 204
    vol = (await client.get(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)).json()
    assert vol["volume"]["status"] == "in-use"
    assert vol["volume"]["attachments"][0]["attachment_id"] == att["id"]
    r = await client.delete(f"{demo_api}/volumes/{vol['volume']['id']}", headers=demo_headers)
    assert r.status_code == 400  # attached
    r = await client.delete(f"{demo_api}/attachments/{att['id']}", headers=headers)
    assert r.status_code == 200
    vid = vol["volume"]["id"]
    r = await client.get(f"{demo_api}/volumes/{vid}", headers=demo_headers)
    assert r.json()["volume"]["status"] == "available"
    # the older actions Compute used
    act = f"{demo_api}/volumes/{vid}/action"
    r = await client.post(act, headers=demo_headers, json={"os-reserve": {}})
    assert r.status_code == 202
    r = await client.post(act, headers=demo_headers,
                          json={"os-initialize_connection": {"connector": {"host": "n"}}})
    assert r.status_code == 200 and r.json()["connection_info"]["driver_volume_type"] == "file"
    r = await client.post(act, headers=demo_headers, json={"os-attach": {
        "instance_uuid": "77777777-2222-3333-4444-555555555555", "mountpoint": "/dev/vdb"}})
    assert r.status_code == 202
    r = await client.get(f"{demo_api}/volumes/{vid}", headers=demo_headers)
    assert r.json()["volume"]["status"] == "in-use"
    assert r.json()["volume"]["attachments"][0]["device"] == "/dev/vdb"
    assert (await client.post(act, headers=demo_headers,
                              json={"os-begin_detaching": {}})).status_code == 202
    r = await client.post(act, headers=demo_headers, json={"os-detach": {}})
    assert r.status_code == 202
    r = await client.get(f"{demo_api}/volumes/{vid}", headers=demo_headers)
    assert r.json()["volume"]["status"] == "available"
    await client.delete(f"{demo_api}/volumes/{vid}", headers=demo_headers)


async def test_swift_backup_and_restore(cloud, client: httpx.AsyncClient, demo_api: str,
                                        demo_headers: dict[str, str], image: tuple[str, bytes],
                                        tmp_path: Path) -> None:
    """The swift backup driver: chunks as objects in the Object Storage service."""
    from onestack.volume.core import SharedCore

    core = SharedCore.get(cloud.platform)
    image_id, data = image
    vol = await create_volume(client, demo_api, demo_headers, imageRef=image_id, size=1)
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    core.conf.backup_driver = "swift"
    try:
        r = await client.post(f"{demo_api}/backups", headers=demo_headers,
                              json={"backup": {"volume_id": vol["id"]}})
        assert r.status_code == 202, r.text
    finally:
        core.conf.backup_driver = "posix"
    backup = await wait_for(client, demo_api, demo_headers, "backups", r.json()["backup"]["id"],
                            "available", timeout=60)
    assert backup["object_count"] == 1 and backup["container"] == "volumebackups"
    listing = await core.service_request("object-store", None, "GET", "/volumebackups")
    assert listing.status_code == 200
    assert listing.text.split() == [f"backup-{backup['id']}/chunk-000000"]
    r = await client.post(f"{demo_api}/backups/{backup['id']}/restore", headers=demo_headers,
                          json={"restore": {}})
    new_id = r.json()["restore"]["volume_id"]
    await wait_for(client, demo_api, demo_headers, "volumes", new_id, "available", timeout=60)
    assert raw_bytes(volume_file(cloud, new_id), tmp_path, len(data)) == data
    await wait_for(client, demo_api, demo_headers, "backups", backup["id"], "available")
    await client.delete(f"{demo_api}/backups/{backup['id']}", headers=demo_headers)
    await wait_gone(client, demo_api, demo_headers, "backups", backup["id"])
    listing = await core.service_request("object-store", None, "GET", "/volumebackups")
    assert listing.text.split() == []
    for vid in (vol["id"], new_id):
        await client.delete(f"{demo_api}/volumes/{vid}", headers=demo_headers)
