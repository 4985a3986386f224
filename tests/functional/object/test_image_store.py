"""The Image service's object store: image data kept in Object Storage, in a container of the
Image service's project, as the default store."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS, issue, password_auth, password_of


@pytest.fixture(scope="module")
async def cloud_with_swift(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("image-swift"), port=8997,
        services=["identity", "image", "object"],
        identity={"password_hash_rounds": TEST_ROUNDS},
        image={"stores": {"objects": {"type": "swift", "chunk_size": 65536}},
               "default_store": "objects"},
        object={"run_daemons": False},
    )
    cloud = Cloud(settings)
    await cloud.start()
    yield cloud
    await cloud.stop()


async def test_images_live_in_object_storage(cloud_with_swift: Cloud) -> None:
    cloud = cloud_with_swift
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cloud.app),
                                 base_url="http://testserver") as client:
        token = await issue(client, password_auth("demo", password_of(cloud, "demo"),
                                                  project="demo"))
        headers = {"X-Auth-Token": token}
        r = await client.post("/image/v2/images", headers=headers, json={
            "name": "in-swift", "disk_format": "raw", "container_format": "bare"})
        assert r.status_code == 201, r.text
        image_id = r.json()["id"]
        data = os.urandom(200_000)
        r = await client.put(f"/image/v2/images/{image_id}/file", content=data, headers={
            **headers, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        image = (await client.get(f"/image/v2/images/{image_id}", headers=headers)).json()
        assert image["status"] == "active" and image["stores"] == "objects"
        assert image["checksum"] == hashlib.md5(data).hexdigest()
        r = await client.get(f"/image/v2/images/{image_id}/file", headers=headers)
        assert r.content == data  # read back in 64 KiB ranges
        r = await client.get(f"/image/v2/images/{image_id}/file", headers={
            **headers, "Range": "bytes=70000-70009"})
        assert r.content == data[70000:70010]
        # the object is in the glance container of the service project's account
        glance = await issue(client, password_auth("glance", password_of(cloud, "service"),
                                                   project="service"))
        r = await client.get("/identity/v3/auth/catalog", headers={"X-Auth-Token": glance})
        url = next(e["url"] for s in r.json()["catalog"] if s["type"] == "object-store"
                   for e in s["endpoints"] if e["interface"] == "public")
        path = url.split("/object-store", 1)[1]
        r = await client.head(f"/object-store{path}/glance/{image_id}",
                              headers={"X-Auth-Token": glance})
        assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
        # the demo user cannot reach the service's container directly
        r = await client.get(f"/object-store{path}/glance/{image_id}", headers=headers)
        assert r.status_code == 403
        assert (await client.delete(f"/image/v2/images/{image_id}", headers=headers)
                ).status_code == 204
        r = await client.head(f"/object-store{path}/glance/{image_id}",
                              headers={"X-Auth-Token": glance})
        assert r.status_code == 404
