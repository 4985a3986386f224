"""The glance-download import method across two regions: RegionOne's onestack copies an image
from the Image API of RegionTwo (another process with its own database and stores, validating
tokens through RegionOne's Identity), found through the catalog, with the user's own token."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud
from tests.e2e.test_process_model import Process, wait_healthy

pytestmark = pytest.mark.e2e
METHODS = ["glance-direct", "web-download", "copy-image", "glance-download"]


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCloud, str]]:
    """RegionOne (the whole cloud) and the Image URL of RegionTwo (``serve image``)."""
    root = tmp_path_factory.mktemp("regions")
    one = start_cloud(root / "one", free_port(), {
        "ONESTACK_IMAGE__ENABLED_IMPORT_METHODS": json.dumps(METHODS)})
    two_base = f"http://127.0.0.1:{free_port()}"
    two = Process(
        ["serve", "image", "--data-dir", str(root / "two"), "--port", two_base.rsplit(":", 1)[1],
         "--identity-url", f"{one.url}/identity"],
        root / "two.log",
        env={"ONESTACK_SERVICE_PASSWORD": (one.data_dir / "service-password").read_text().strip(),
             "ONESTACK_REGION": "RegionTwo"},
    )
    try:
        wait_healthy(two_base, two)
        admin = headers(one, "admin", "admin")
        r = httpx.post(f"{one.url}/identity/v3/regions", headers=admin,
                       json={"region": {"id": "RegionTwo"}}, timeout=10)
        assert r.status_code == 201, r.text
        services = httpx.get(f"{one.url}/identity/v3/services?type=image", headers=admin,
                             timeout=10).json()["services"]
        for interface in ("public", "internal"):
            r = httpx.post(f"{one.url}/identity/v3/endpoints", headers=admin, timeout=10, json={
                "endpoint": {"service_id": services[0]["id"], "interface": interface,
                             "region_id": "RegionTwo", "url": f"{two_base}/image"}})
            assert r.status_code == 201, r.text
        yield one, f"{two_base}/image"
    finally:
        two.stop()
        stop_cloud(one)


def headers(cloud: RunningCloud, user: str, project: str) -> dict[str, str]:
    password = (cloud.data_dir / f"{user}-password").read_text().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json=body, timeout=10)
    assert r.status_code == 201, r.text
    return {"X-Auth-Token": r.headers["X-Subject-Token"]}


def wait_image(url: str, h: dict[str, str], image_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        image: dict[str, Any] = httpx.get(f"{url}/v2/images/{image_id}", headers=h,
                                          timeout=10).json()
        if image["status"] in ("active", "queued") and "os_glance_import_task" not in image:
            return image
        time.sleep(0.1)
    raise AssertionError(f"import of {image_id} did not end: {image}")


def test_an_image_is_copied_from_another_region(regions: tuple[RunningCloud, str]) -> None:
    one, two = regions
    demo = headers(one, "demo", "demo")
    data = os.urandom(200_000)
    # the image in RegionTwo, uploaded there by the demo user
    r = httpx.post(f"{two}/v2/images", headers=demo, timeout=10, json={
        "name": "remote", "disk_format": "raw", "container_format": "bare",
        "hw_disk_bus": "scsi", "os_distro": "debian", "not_copied": "x"})
    assert r.status_code == 201, r.text
    remote_id = r.json()["id"]
    r = httpx.put(f"{two}/v2/images/{remote_id}/file", content=data, timeout=30,
                  headers={**demo, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    # the import in RegionOne
    local = f"{one.url}/image"
    assert "glance-download" in httpx.get(f"{local}/v2/info/import", headers=demo,
                                          timeout=10).json()["import-methods"]["value"]
    r = httpx.post(f"{local}/v2/images", headers=demo, json={"name": "copy"}, timeout=10)
    image_id = r.json()["id"]
    method = {"name": "glance-download", "glance_image_id": remote_id,
              "glance_region": "RegionTwo", "glance_service_interface": "public"}
    r = httpx.post(f"{local}/v2/images/{image_id}/import", headers=demo, timeout=30,
                   json={"method": method})
    assert r.status_code == 202, r.text
    copied = wait_image(local, demo, image_id)
    assert copied["status"] == "active", copied
    assert copied["disk_format"] == "raw" and copied["container_format"] == "bare"
    assert copied["hw_disk_bus"] == "scsi" and copied["os_distro"] == "debian"
    assert "not_copied" not in copied
    assert copied["os_hash_value"] == hashlib.sha512(data).hexdigest()
    r = httpx.get(f"{local}/v2/images/{image_id}/file", headers=demo, timeout=30)
    assert r.content == data


def test_what_glance_download_refuses(regions: tuple[RunningCloud, str]) -> None:
    one, two = regions
    demo = headers(one, "demo", "demo")
    local = f"{one.url}/image"

    def attempt(**method: Any) -> httpx.Response:
        image_id = httpx.post(f"{local}/v2/images", headers=demo, json={"name": "x"},
                              timeout=10).json()["id"]
        return httpx.post(f"{local}/v2/images/{image_id}/import", headers=demo, timeout=30,
                          json={"method": {"name": "glance-download", **method}})

    # another project's private image in RegionTwo is not there for demo
    admin = headers(one, "admin", "admin")
    private = httpx.post(f"{two}/v2/images", headers=admin, timeout=10, json={
        "name": "private", "disk_format": "raw", "container_format": "bare"}).json()["id"]
    httpx.put(f"{two}/v2/images/{private}/file", content=b"secret", timeout=10,
              headers={**admin, "Content-Type": "application/octet-stream"})
    r = attempt(glance_image_id=private, glance_region="RegionTwo")
    assert r.status_code == 400 and "not found" in r.json()["message"]
    r = attempt(glance_image_id=private, glance_region="Atlantis")
    assert r.status_code == 400 and "Atlantis" in r.json()["message"]
    r = attempt(glance_image_id=private, glance_region="RegionOne")
    assert r.status_code == 400
    assert attempt(glance_image_id="nope", glance_region="RegionTwo").status_code == 400
    assert attempt(glance_region="RegionTwo").status_code == 400
    r = attempt(glance_image_id=private, glance_region="RegionTwo",
                glance_service_interface="sideways")
    assert r.status_code == 400
    # a queued (empty) remote image cannot be copied
    empty = httpx.post(f"{two}/v2/images", headers=demo, timeout=10,
                       json={"name": "empty"}).json()["id"]
    assert attempt(glance_image_id=empty, glance_region="RegionTwo").status_code == 409


