"""Volumes through the API, the scheduler and the agent on the file backend (qcow2 files)."""

from __future__ import annotations

import json
import subprocess

import httpx

from tests.functional.volume.conftest import create_volume, mv, wait_for, wait_gone


async def test_version_discovery(client: httpx.AsyncClient) -> None:
    r = await client.get("/volume/")
    assert r.status_code == 300
    (v3,) = r.json()["versions"]
    assert v3["id"] == "v3.0" and v3["version"] == "3.70" and v3["min_version"] == "3.0"
    r = await client.get("/volume/v3/")
    assert r.status_code == 200 and r.json()["versions"][0]["status"] == "CURRENT"


async def test_microversions(client: httpx.AsyncClient, demo_api: str,
                             demo_headers: dict[str, str]) -> None:
    r = await client.get(f"{demo_api}/volumes", headers=demo_headers)
    assert r.headers["OpenStack-API-Version"] == "volume 3.0"
    r = await client.get(f"{demo_api}/volumes", headers=mv(demo_headers, "latest"))
    assert r.headers["OpenStack-API-Version"] == "volume 3.70"
    r = await client.get(f"{demo_api}/volumes", headers=mv(demo_headers, "3.71"))
    assert r.status_code == 406
    r = await client.get(f"{demo_api}/volumes/summary", headers=mv(demo_headers, "3.11"))
    assert r.status_code == 404 and "itemNotFound" in r.json()


async def test_catalog_has_both_types(client: httpx.AsyncClient,
                                      demo_headers: dict[str, str]) -> None:
    r = await client.get("/identity/v3/auth/catalog", headers=demo_headers)
    entries = {e["type"]: e for e in r.json()["catalog"]}
    for kind in ("block-storage", "volumev3"):
        assert entries[kind]["name"] == "cinder"
        url = entries[kind]["endpoints"][0]["url"]
        assert "/volume/v3/" in url and "$(" not in url


async def test_lifecycle_on_the_file_backend(cloud, client: httpx.AsyncClient, demo_api: str,
                                             demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, demo_api, demo_headers, size=1, name="v1",
                              metadata={"k": "v"})
    assert vol["status"] == "creating" and vol["volume_type"] == "__DEFAULT__"
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    assert vol["bootable"] == "false" and vol["metadata"] == {"k": "v"}
    path = cloud.settings.data_dir / "volumes" / "file" / f"volume-{vol['id']}.qcow2"
    info = json.loads(subprocess.check_output(["qemu-img", "info", "--output", "json", str(path)]))
    assert info["format"] == "qcow2" and info["virtual-size"] == 1024**3
    # extend
    r = await client.post(f"{demo_api}/volumes/{vol['id']}/action", headers=mv(demo_headers),
                          json={"os-extend": {"new_size": 2}})
    assert r.status_code == 202, r.text
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    assert vol["size"] == 2
    info = json.loads(subprocess.check_output(["qemu-img", "info", "--output", "json", str(path)]))
    assert info["virtual-size"] == 2 * 1024**3
    r = await client.post(f"{demo_api}/volumes/{vol['id']}/action", headers=mv(demo_headers),
                          json={"os-extend": {"new_size": 1}})
    assert r.status_code == 400 and "badRequest" in r.json()
    # update, bootable, read-only
    r = await client.put(f"{demo_api}/volumes/{vol['id']}", headers=mv(demo_headers),
                         json={"volume": {"name": "renamed", "description": "d"}})
    assert r.status_code == 200 and r.json()["volume"]["name"] == "renamed"
    r = await client.post(f"{demo_api}/volumes/{vol['id']}/action", headers=mv(demo_headers),
                          json={"os-set_bootable": {"bootable": True}})
    assert r.status_code == 200
    r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=mv(demo_headers))
    assert r.json()["volume"]["bootable"] == "true"
    # delete
    r = await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.status_code == 202
    await wait_gone(client, demo_api, demo_headers, "volumes", vol["id"])
    assert not path.exists()


async def test_list_filters_sort_and_pages(client: httpx.AsyncClient, demo_api: str,
                                           demo_headers: dict[str, str]) -> None:
    ids = []
    for i in range(3):
        vol = await create_volume(client, demo_api, demo_headers, name=f"page-{i}",
                                  metadata={"group": "paged"})
        ids.append(vol["id"])
    for vid in ids:
        await wait_for(client, demo_api, demo_headers, "volumes", vid, "available")
    r = await client.get(f"{demo_api}/volumes/detail", headers=mv(demo_headers),
                         params={"metadata": "{'group': 'paged'}", "sort": "name:asc",
                                 "limit": 2, "with_count": "true"})
    body = r.json()
    assert [v["name"] for v in body["volumes"]] == ["page-0", "page-1"]
    assert body["count"] == 3 and body["volumes_links"][0]["rel"] == "next"
    r = await client.get(body["volumes_links"][0]["href"].split("testserver")[-1],
                         headers=mv(demo_headers))
    assert [v["name"] for v in r.json()["volumes"]] == ["page-2"]
    r = await client.get(f"{demo_api}/volumes", headers=demo_headers, params={"name": "page-1"})
    assert [v["id"] for v in r.json()["volumes"]] == [ids[1]]
    assert set(r.json()["volumes"][0]) == {"id", "name", "links"}
    r = await client.get(f"{demo_api}/volumes", headers=demo_headers, params={"sort_key": "nope"})
    assert r.status_code == 400
    for vid in ids:
        await client.delete(f"{demo_api}/volumes/{vid}", headers=demo_headers)


async def test_bad_input(client: httpx.AsyncClient, demo_api: str,
                         demo_headers: dict[str, str]) -> None:
    for size in (0, -1, "x", 1.5, True, None):
        body = await create_volume(client, demo_api, demo_headers, expect=400, size=size)
        assert body["badRequest"]["code"] == 400
    r = await client.post(f"{demo_api}/volumes", headers=demo_headers,
                          json={"volume": {"size": 1, "volume_type": "nope"}})
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = await client.post(f"{demo_api}/volumes", headers=demo_headers,
                          json={"volume": {"size": 1, "availability_zone": "nowhere"}})
    assert r.status_code == 400
    r = await client.post(f"{demo_api}/volumes", headers=demo_headers, content=b"{not json")
    assert r.status_code == 400
    r = await client.get(f"{demo_api}/volumes/nope", headers=demo_headers)
    assert r.status_code == 404
    assert r.json() == {"itemNotFound": {"code": 404, "message": "Volume nope could not be found."}}


async def test_snapshot_clone_and_cascade(cloud, client: httpx.AsyncClient, demo_api: str,
                                          demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, demo_api, demo_headers)
    await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{demo_api}/snapshots", headers=mv(demo_headers),
                          json={"snapshot": {"volume_id": vol["id"], "name": "s1",
                                             "metadata": {"a": "b"}}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]
    snap = await wait_for(client, demo_api, demo_headers, "snapshots", snap["id"], "available")
    assert snap["size"] == 1 and snap["metadata"] == {"a": "b"}
    root = cloud.settings.data_dir / "volumes" / "file"
    top = root / f"volume-{vol['id']}.qcow2"
    info = json.loads(subprocess.check_output(["qemu-img", "info", "--output", "json", str(top)]))
    assert info["full-backing-filename"] == str(root / f"snapshot-{snap['id']}.qcow2")
    # a volume from the snapshot and a clone of the volume
    from_snap = await create_volume(client, demo_api, demo_headers, snapshot_id=snap["id"],
                                    size=None)
    clone = await create_volume(client, demo_api, demo_headers, source_volid=vol["id"], size=2)
    from_snap = await wait_for(client, demo_api, demo_headers, "volumes", from_snap["id"],
                               "available")
    clone = await wait_for(client, demo_api, demo_headers, "volumes", clone["id"], "available")
    assert from_snap["snapshot_id"] == snap["id"] and from_snap["size"] == 1
    assert clone["source_volid"] == vol["id"] and clone["size"] == 2
    # without cascade the volume with a snapshot stays
    r = await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.status_code == 400 and "snapshots" in r.json()["badRequest"]["message"]
    r = await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers,
                            params={"cascade": "true"})
    assert r.status_code == 202
    await wait_gone(client, demo_api, demo_headers, "volumes", vol["id"])
    await wait_gone(client, demo_api, demo_headers, "snapshots", snap["id"])
    assert not top.exists() and not (root / f"snapshot-{snap['id']}.qcow2").exists()
    for other in (from_snap, clone):
        await client.delete(f"{demo_api}/volumes/{other['id']}", headers=demo_headers)


async def test_fields_by_microversion(client: httpx.AsyncClient, demo_api: str,
                                      demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, demo_api, demo_headers)
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")

    async def shown(version: str) -> dict[str, object]:
        r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=mv(demo_headers, version))
        return dict(r.json()["volume"])

    assert "group_id" not in await shown("3.12") and "group_id" in await shown("3.13")
    assert "shared_targets" not in await shown("3.47")
    assert "shared_targets" in await shown("3.48")
    assert "volume_type_id" not in await shown("3.62")
    assert (await shown("3.63"))["volume_type_id"]
    assert "consumes_quota" in await shown("3.65")
    assert "os-vol-host-attr:host" not in await shown("3.70")  # admin only
    r = await client.get(f"{demo_api}/volumes", headers=mv(demo_headers, "3.44"),
                         params={"with_count": "true"})
    assert "count" not in r.json()
    r = await client.get(f"{demo_api}/volumes", headers=mv(demo_headers, "3.45"),
                         params={"with_count": "true"})
    assert r.json()["count"] >= 1
    r = await client.get(f"{demo_api}/volumes/summary", headers=mv(demo_headers, "3.36"))
    summary = r.json()["volume-summary"]
    assert summary["total_count"] >= 1 and "metadata" in summary
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
