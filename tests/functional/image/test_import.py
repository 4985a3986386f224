"""The interoperable import: stage + glance-direct, web-download, copy-image; tasks."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest

from tests.functional.image.conftest import IMG, WEB_DATA, create_image, new_project_user, upload
from tests.functional.image.test_data import files_of, show

Party = tuple[str, dict[str, str]]


@pytest.fixture
async def party(api: httpx.AsyncClient, admin: dict[str, str]) -> Party:
    return await new_project_user(api, admin)


async def wait_for(api: httpx.AsyncClient, h: dict[str, str], image_id: str,
                   statuses: tuple[str, ...] = ("active", "queued")) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30  # generous: CI machines are shared
    while asyncio.get_running_loop().time() < deadline:
        img = await show(api, h, image_id)
        if img["status"] in statuses and "os_glance_import_task" not in img:
            return img
        await asyncio.sleep(0.02)
    raise AssertionError(f"image {image_id} stuck in {img['status']}")


async def do_import(api: httpx.AsyncClient, h: dict[str, str], image_id: str,
                    **body: Any) -> httpx.Response:
    return await api.post(f"{IMG}/images/{image_id}/import", headers=h, json=body)


async def test_stage_and_glance_direct(api: httpx.AsyncClient, party: Party, mgr: Any) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    data = b"staged data" * 1000
    r = await api.put(f"{IMG}/images/{img['id']}/stage", content=data,
                      headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    staged = await show(api, h, img["id"])
    assert staged["status"] == "uploading" and staged["size"] == len(data)
    # staging twice, or uploading to a staged image, is a conflict
    r = await api.put(f"{IMG}/images/{img['id']}/stage", content=b"x",
                      headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 409
    r = await do_import(api, h, img["id"], method={"name": "glance-direct"})
    assert r.status_code == 202, r.text
    out = await wait_for(api, h, img["id"])
    assert out["status"] == "active"
    assert out["checksum"] == hashlib.md5(data).hexdigest()
    assert out["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert out["stores"] == "file"
    r = await api.get(f"{IMG}/images/{img['id']}/file", headers=h)
    assert r.content == data
    # the staged copy is gone
    assert [p for p in files_of(mgr, img["id"]) if p.parent == mgr.staging.path] == []
    tasks = (await api.get(f"{IMG}/images/{img['id']}/tasks", headers=h)).json()["tasks"]
    assert len(tasks) == 1
    assert tasks[0]["status"] == "success" and tasks[0]["type"] == "api_image_import"
    assert tasks[0]["result"] == {"image_id": img["id"]}


async def test_glance_direct_to_all_stores(api: httpx.AsyncClient, party: Party) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    await api.put(f"{IMG}/images/{img['id']}/stage", content=b"abc" * 100,
                  headers={**h, "Content-Type": "application/octet-stream"})
    r = await do_import(api, h, img["id"], method={"name": "glance-direct"}, all_stores=True)
    assert r.status_code == 202
    out = await wait_for(api, h, img["id"])
    assert out["status"] == "active" and out["stores"] == "file,backup"


async def test_glance_direct_refused_data(api: httpx.AsyncClient, party: Party, tmp_path: Any
                                          ) -> None:
    """Format inspection applies to imports too: the image goes back to queued."""
    _, h = party
    img = await create_image(api, h, disk_format="qcow2", container_format="bare")
    await api.put(f"{IMG}/images/{img['id']}/stage", content=b"not a qcow2" * 100,
                  headers={**h, "Content-Type": "application/octet-stream"})
    r = await do_import(api, h, img["id"], method={"name": "glance-direct"})
    assert r.status_code == 202
    out = await wait_for(api, h, img["id"])
    assert out["status"] == "queued"
    assert out["os_glance_failed_import"] == "file"
    task = (await api.get(f"{IMG}/images/{img['id']}/tasks", headers=h)).json()["tasks"][0]
    assert task["status"] == "failure" and task["message"]


async def test_import_checks(api: httpx.AsyncClient, party: Party) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    iid = img["id"]
    assert (await do_import(api, h, iid)).status_code == 400
    assert (await do_import(api, h, iid, method={})).status_code == 400
    assert (await do_import(api, h, iid, method={"name": "magic"})).status_code == 400
    r = await do_import(api, h, iid, method={"name": "glance-direct"}, all_stores="yes")
    assert r.status_code == 400
    r = await do_import(api, h, iid, method={"name": "glance-direct"})
    assert r.status_code == 409  # not staged
    r = await do_import(api, h, iid, method={"name": "copy-image"})
    assert r.status_code in (403, 409)  # not active (and admin only)
    r = await do_import(api, h, iid, method={"name": "web-download"})
    assert r.status_code == 400  # no uri
    r = await do_import(api, h, iid, method={"name": "web-download", "uri": "ftp://x/y"})
    assert r.status_code == 400
    r = await do_import(api, h, iid, method={"name": "web-download",
                                             "uri": "http://127.0.0.1:22/x"})
    assert r.status_code == 400  # port not allowed
    no_formats = await create_image(api, h)
    r = await do_import(api, h, no_formats["id"],
                        method={"name": "web-download", "uri": "http://127.0.0.1/x"})
    assert r.status_code == 409
    r = await do_import(api, h, iid, method={"name": "glance-direct"}, stores=["nowhere"])
    assert r.status_code in (409,)


async def test_web_download(api: httpx.AsyncClient, party: Party, web_server: str) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    r = await do_import(api, h, img["id"],
                        method={"name": "web-download", "uri": f"{web_server}/image.raw"})
    assert r.status_code == 202, r.text
    out = await wait_for(api, h, img["id"])
    assert out["status"] == "active"
    assert out["size"] == len(WEB_DATA)
    assert out["checksum"] == hashlib.md5(WEB_DATA).hexdigest()
    # a URL that answers 404: the task fails and the image is queued again
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    r = await do_import(api, h, img["id"],
                        method={"name": "web-download", "uri": f"{web_server}/missing"})
    assert r.status_code == 202
    out = await wait_for(api, h, img["id"])
    assert out["status"] == "queued"


async def test_web_download_unreachable(api: httpx.AsyncClient, party: Party) -> None:
    """No route to the URL's host (no outside network): answered at once, image untouched."""
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    r = await do_import(api, h, img["id"], method={"name": "web-download",
                                                   "uri": "http://127.0.0.1:443/image.raw"})
    assert r.status_code == 400
    assert "unavailable" in r.json()["message"]
    assert (await show(api, h, img["id"]))["status"] == "queued"


async def test_copy_image(api: httpx.AsyncClient, party: Party, admin: dict[str, str],
                          mgr: Any) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    await upload(api, h, img["id"], b"copy me" * 1000)
    r = await do_import(api, h, img["id"], method={"name": "copy-image"}, stores=["backup"])
    assert r.status_code == 403  # copy-image is admin only
    r = await do_import(api, admin, img["id"], method={"name": "copy-image"},
                        stores=["backup"])
    assert r.status_code == 202, r.text
    for _ in range(200):
        out = await show(api, h, img["id"])
        if out.get("stores") == "file,backup":
            break
        await asyncio.sleep(0.02)
    assert out["stores"] == "file,backup" and out["status"] == "active"
    out = await wait_for(api, h, img["id"])
    # as Glance leaves them: clients wait for these to be empty, so they must stay
    assert out["os_glance_importing_to_stores"] == ""
    assert out["os_glance_failed_import"] == ""
    assert len(files_of(mgr, img["id"])) == 2
    r = await do_import(api, admin, img["id"], method={"name": "copy-image"},
                        stores=["backup"])
    assert r.status_code == 400  # already there
    r = await do_import(api, admin, img["id"], method={"name": "copy-image"}, all_stores=True)
    assert r.status_code == 202  # nothing left to do
    # drop one store's copy (admin), never the last one
    assert (await api.delete(f"{IMG}/stores/backup/{img['id']}", headers=h)).status_code == 403
    r = await api.delete(f"{IMG}/stores/backup/{img['id']}", headers=admin)
    assert r.status_code == 204
    assert (await show(api, h, img["id"]))["stores"] == "file"
    r = await api.delete(f"{IMG}/stores/file/{img['id']}", headers=admin)
    assert r.status_code == 403
    r = await api.delete(f"{IMG}/stores/nowhere/{img['id']}", headers=admin)
    assert r.status_code == 409
    assert len(files_of(mgr, img["id"])) == 1


async def test_tasks_api(api: httpx.AsyncClient, admin: dict[str, str], party: Party,
                         web_server: str) -> None:
    _, h = party
    assert (await api.get(f"{IMG}/tasks", headers=h)).status_code == 403
    r = await api.post(f"{IMG}/tasks", headers=admin, json={
        "type": "import",
        "input": {"import_from": f"{web_server}/image.raw", "import_from_format": "raw",
                  "image_properties": {"name": "from-task"}},
    })
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["type"] == "import" and task["status"] in ("pending", "processing", "success")
    for _ in range(200):
        task = (await api.get(f"{IMG}/tasks/{task['id']}", headers=admin)).json()
        if task["status"] in ("success", "failure"):
            break
        await asyncio.sleep(0.02)
    assert task["status"] == "success", task
    assert task["expires_at"] is not None
    image = await show(api, admin, task["result"]["image_id"])
    assert image["name"] == "from-task" and image["size"] == len(WEB_DATA)
    listed = (await api.get(f"{IMG}/tasks", headers=admin)).json()
    assert task["id"] in {t["id"] for t in listed["tasks"]}
    assert listed["schema"] == "/v2/schemas/tasks"
    assert "input" not in listed["tasks"][0]
    r = await api.get(f"{IMG}/tasks", headers=admin, params={"status": "bogus"})
    assert r.status_code == 400
    r = await api.get(f"{IMG}/tasks/00000000-0000-0000-0000-000000000000", headers=admin)
    assert r.status_code == 404
