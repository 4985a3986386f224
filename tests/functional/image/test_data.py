"""Image data: upload, download, checksums, Range, size caps, quotas, format checks, failures."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from onestack.server import Cloud
from tests.functional.image.conftest import IMG, create_image, new_project_user, upload

Party = tuple[str, dict[str, str]]


def store_files(mgr: Any) -> list[Path]:
    """Every file (finished or partial) in every store and the staging area."""
    found: list[Path] = []
    for store in [*mgr.stores.values(), mgr.staging]:
        if store.path.exists():
            found.extend(p for p in store.path.iterdir() if p.is_file())
    return found


def files_of(mgr: Any, image_id: str) -> list[Path]:
    return [p for p in store_files(mgr) if image_id in p.name]


@pytest.fixture
async def party(api: httpx.AsyncClient, admin: dict[str, str]) -> Party:
    return await new_project_user(api, admin)


async def raw_image(api: httpx.AsyncClient, h: dict[str, str], **extra: Any) -> dict[str, Any]:
    return await create_image(api, h, disk_format="raw", container_format="bare", **extra)


async def show(api: httpx.AsyncClient, h: dict[str, str], image_id: str) -> dict[str, Any]:
    r = await api.get(f"{IMG}/images/{image_id}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_upload_and_download(api: httpx.AsyncClient, party: Party, mgr: Any) -> None:
    _, h = party
    data = bytes(range(256)) * 40_000  # ~10 MB, several pipeline blocks
    img = await raw_image(api, h)
    r = await upload(api, h, img["id"], data)
    assert r.status_code == 204, r.text
    out = await show(api, h, img["id"])
    assert out["status"] == "active"
    assert out["size"] == len(data) and out["virtual_size"] == len(data)
    assert out["checksum"] == hashlib.md5(data).hexdigest()
    assert out["os_hash_algo"] == "sha512"
    assert out["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert out["stores"] == "file"
    r = await api.get(f"{IMG}/images/{img['id']}/file", headers=h)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-MD5"] == out["checksum"]
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert int(r.headers["Content-Length"]) == len(data)
    # the data is in the default store, one file
    assert len(files_of(mgr, img["id"])) == 1
    # a second upload is refused
    r = await upload(api, h, img["id"], b"again")
    assert r.status_code == 409
    # deleting removes the data
    assert (await api.delete(f"{IMG}/images/{img['id']}", headers=h)).status_code == 204
    assert files_of(mgr, img["id"]) == []


async def test_range_requests(api: httpx.AsyncClient, party: Party) -> None:
    _, h = party
    data = b"0123456789" * 10
    img = await raw_image(api, h)
    await upload(api, h, img["id"], data)
    url = f"{IMG}/images/{img['id']}/file"
    r = await api.get(url, headers={**h, "Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/100"
    assert "Content-MD5" not in r.headers
    r = await api.get(url, headers={**h, "Range": "bytes=95-"})
    assert r.status_code == 206 and r.content == data[95:]
    r = await api.get(url, headers={**h, "Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = await api.get(url, headers={**h, "Range": "bytes=90-500"})
    assert r.status_code == 206 and r.content == data[90:]
    r = await api.get(url, headers={**h, "Range": "bytes=200-300"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */100"
    r = await api.get(url, headers={**h, "Range": "bytes=5-2"})
    assert r.status_code == 416
    r = await api.get(url, headers={**h, "Range": "lines=1-2"})
    assert r.status_code == 400
    r = await api.get(url, headers={**h, "Range": "bytes=0-1,5-6"})
    assert r.status_code == 400


async def test_download_without_data(api: httpx.AsyncClient, party: Party) -> None:
    _, h = party
    img = await raw_image(api, h)
    r = await api.get(f"{IMG}/images/{img['id']}/file", headers=h)
    assert r.status_code == 204 and r.content == b""


async def test_upload_checks(api: httpx.AsyncClient, party: Party) -> None:
    _, h = party
    img = await create_image(api, h)  # no formats yet
    r = await upload(api, h, img["id"], b"x")
    assert r.status_code == 400 and "disk_format" in r.json()["message"]
    assert (await show(api, h, img["id"]))["status"] == "queued"
    img = await raw_image(api, h)
    r = await api.put(f"{IMG}/images/{img['id']}/file", content=b"x",
                      headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 415
    r = await upload(api, h, "00000000-0000-0000-0000-000000000000", b"x")
    assert r.status_code == 404


async def test_store_header(api: httpx.AsyncClient, party: Party, mgr: Any) -> None:
    _, h = party
    img = await raw_image(api, h)
    r = await api.put(f"{IMG}/images/{img['id']}/file", content=b"abc",
                      headers={**h, "Content-Type": "application/octet-stream",
                               "X-Image-Meta-Store": "backup"})
    assert r.status_code == 204
    assert (await show(api, h, img["id"]))["stores"] == "backup"
    img2 = await raw_image(api, h)
    r = await api.put(f"{IMG}/images/{img2['id']}/file", content=b"abc",
                      headers={**h, "Content-Type": "application/octet-stream",
                               "X-Image-Meta-Store": "nowhere"})
    assert r.status_code == 400


async def test_size_cap(api: httpx.AsyncClient, party: Party, mgr: Any,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, h = party
    monkeypatch.setattr(mgr.conf, "image_size_cap", 1000)
    img = await raw_image(api, h)
    r = await upload(api, h, img["id"], b"x" * 1001)  # declared too big: refused up front
    assert r.status_code == 413
    assert (await show(api, h, img["id"]))["status"] == "queued"

    async def body() -> AsyncIterator[bytes]:  # no length: refused mid-stream
        for _ in range(3):
            yield b"x" * 600

    r = await upload(api, h, img["id"], body())
    assert r.status_code == 413
    assert (await show(api, h, img["id"]))["status"] == "queued"
    assert files_of(mgr, img["id"]) == []
    r = await upload(api, h, img["id"], b"x" * 1000)
    assert r.status_code == 204


async def test_format_inspection(api: httpx.AsyncClient, party: Party, mgr: Any,
                                 tmp_path: Path) -> None:
    _, h = party
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(qcow), "64M"], check=True,
                   capture_output=True)
    data = qcow.read_bytes()
    # declared raw but is qcow2: refused, back to queued, nothing stored
    img = await raw_image(api, h)
    r = await upload(api, h, img["id"], data)
    assert r.status_code == 415, r.text
    assert (await show(api, h, img["id"]))["status"] == "queued"
    assert files_of(mgr, img["id"]) == []
    # declared qcow2 and is: virtual size from the header
    img = await create_image(api, h, disk_format="qcow2", container_format="bare")
    r = await upload(api, h, img["id"], data)
    assert r.status_code == 204, r.text
    out = await show(api, h, img["id"])
    assert out["virtual_size"] == 64 * 1024 * 1024 and out["size"] == len(data)
    # a qcow2 with a backing file is refused
    child = tmp_path / "child.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-b", str(qcow), "-F", "qcow2",
                    str(child)], check=True, capture_output=True)
    img = await create_image(api, h, disk_format="qcow2", container_format="bare")
    r = await upload(api, h, img["id"], child.read_bytes())
    assert r.status_code == 415
    assert "backing" in r.json()["message"].lower()
    # not qcow2 at all
    img = await create_image(api, h, disk_format="qcow2", container_format="bare")
    r = await upload(api, h, img["id"], b"plain bytes" * 100)
    assert r.status_code == 415


async def test_vmdk_and_vhd_virtual_size(api: httpx.AsyncClient, party: Party,
                                          tmp_path: Path) -> None:
    _, h = party
    for fmt, qemu_fmt in (("vmdk", "vmdk"), ("vhd", "vpc"), ("vhdx", "vhdx"), ("vdi", "vdi")):
        path = tmp_path / f"disk.{fmt}"
        subprocess.run(["qemu-img", "create", "-f", qemu_fmt, str(path), "32M"], check=True,
                       capture_output=True)
        img = await create_image(api, h, disk_format=fmt, container_format="bare")
        r = await upload(api, h, img["id"], path.read_bytes())
        assert r.status_code == 204, (fmt, r.text)
        size = (await show(api, h, img["id"]))["virtual_size"]
        assert size is not None and abs(size - 32 * 1024 * 1024) < 1024 * 1024, (fmt, size)


async def asgi_upload(cloud: Cloud, headers: dict[str, str], image_id: str,
                      chunks: list[bytes], *, disconnect: bool) -> int:
    """Drive the app with a raw ASGI request whose client goes away after ``chunks``."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    if disconnect:
        messages.append({"type": "http.disconnect"})

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = f"/image/v2/images/{image_id}/file"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/octet-stream"),
                    (b"content-length", b"100000000"),
                    *[(k.lower().encode(), v.encode()) for k, v in headers.items()]],
    }
    await cloud.app(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


async def test_interrupted_upload_is_killed(api: httpx.AsyncClient, party: Party, mgr: Any,
                                            image_cloud: Cloud) -> None:
    _, h = party
    img = await raw_image(api, h)
    before = set(store_files(mgr))
    status = await asgi_upload(image_cloud, h, img["id"], [b"x" * 5_000_000] * 2,
                               disconnect=True)
    assert status == 400
    assert (await show(api, h, img["id"]))["status"] == "killed"
    assert set(store_files(mgr)) == before  # no stray file, partial or not
    r = await upload(api, h, img["id"], b"again")
    assert r.status_code == 409  # a killed image takes no more data
    assert (await api.delete(f"{IMG}/images/{img['id']}", headers=h)).status_code == 204


async def test_image_deleted_during_upload(api: httpx.AsyncClient, party: Party, mgr: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _, h = party
    img = await raw_image(api, h)

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        r = await api.delete(f"{IMG}/images/{img['id']}", headers=h)
        assert r.status_code == 204
        yield b"second"

    r = await upload(api, h, img["id"], body())
    assert r.status_code == 410
    assert files_of(mgr, img["id"]) == []


async def test_quota_on_upload(api: httpx.AsyncClient, admin: dict[str, str], mgr: Any) -> None:
    project, h = await new_project_user(api, admin)
    await set_limit(api, admin, mgr, project, "image_size_total", 1)  # 1 MiB
    img = await raw_image(api, h)
    before = set(store_files(mgr))
    r = await upload(api, h, img["id"], b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.json()["title"] == "Request Entity Too Large"
    assert (await show(api, h, img["id"]))["status"] == "queued"
    assert set(store_files(mgr)) == before
    r = await upload(api, h, img["id"], b"x" * (1024 * 1024))
    assert r.status_code == 204
    # now at the limit: the next upload is refused before any data is read
    img2 = await raw_image(api, h)
    r = await upload(api, h, img2["id"], b"y")
    assert r.status_code == 413
    usage = (await api.get(f"{IMG}/info/usage", headers=h)).json()["usage"]
    assert usage["image_size_total"] == {"limit": 1, "usage": 1}


async def test_quota_on_image_count(api: httpx.AsyncClient, admin: dict[str, str], mgr: Any
                                    ) -> None:
    project, h = await new_project_user(api, admin)
    await set_limit(api, admin, mgr, project, "image_count_total", 2)
    await create_image(api, h)
    await create_image(api, h)
    r = await api.post(f"{IMG}/images", headers=h, json={"name": "third"})
    assert r.status_code == 413
    assert "image_count_total" in r.json()["message"]


async def set_limit(api: httpx.AsyncClient, admin: dict[str, str], mgr: Any, project: str,
                    resource: str, value: int) -> None:
    services = (await api.get("/identity/v3/services", headers=admin,
                              params={"type": "image"})).json()["services"]
    service_id = services[0]["id"]
    r = await api.post("/identity/v3/limits", headers=admin, json={"limits": [{
        "service_id": service_id, "project_id": project, "resource_name": resource,
        "resource_limit": value}]})
    if r.status_code == 403 or r.status_code == 400:  # a registered limit must exist first
        reg = await api.post("/identity/v3/registered_limits", headers=admin, json={
            "registered_limits": [{"service_id": service_id, "resource_name": resource,
                                   "default_limit": -1}]})
        assert reg.status_code in (201, 409), reg.text
        r = await api.post("/identity/v3/limits", headers=admin, json={"limits": [{
            "service_id": service_id, "project_id": project, "resource_name": resource,
            "resource_limit": value}]})
    assert r.status_code == 201, r.text
    mgr.quotas.unified.invalidate()
