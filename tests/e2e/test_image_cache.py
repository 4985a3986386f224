"""The image cache driven by openstacksdk's image proxy against ``onestack up`` whose images
live in Object Storage (the swift store), so the cache is on by default: a download cached,
queueing and the prefetcher, deleting and clearing, the admin-only policy; a SIGKILL while a
download is being cached leaves no half image in the cache."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from openstack.config import loader

from tests.e2e.conftest import RunningCloud, free_port, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
ENV = {
    "ONESTACK_SERVICES": '["identity", "image", "object"]',
    "ONESTACK_IMAGE__STORES": json.dumps({"objects": {"type": "swift"}}),
    "ONESTACK_IMAGE__DEFAULT_STORE": "objects",
    "ONESTACK_IMAGE__CACHE_PREFETCHER_INTERVAL": "0.5",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e-image-cache") / "data"
    running = start_cloud(data_dir, free_port(), extra_env=ENV)
    yield running
    stop_cloud(running)


def connect(cloud: RunningCloud, name: str) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=name))


def cached_ids(conn: openstack.connection.Connection) -> dict[str, Any]:
    cache = conn.image.get_image_cache()
    return {c.image_id: c for c in cache.cached_images}


def test_cache_with_openstacksdk(cloud: RunningCloud) -> None:
    admin, demo = connect(cloud, "onestack"), connect(cloud, "onestack-demo")
    data = os.urandom(300_000)
    image = demo.image.create_image(name="cached", data=data, disk_format="raw",
                                    container_format="bare", wait=True)
    image = demo.image.get_image(image.id)
    assert image.status == "active" and image.properties.get("stores") == "objects"
    assert image.id not in cached_ids(admin)
    # a member may not see or manage the cache
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.image.get_image_cache()
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.image.queue_image(image.id)
    # a download is cached on its way out, then served from the cache (a hit)
    got = demo.image.download_image(image)
    assert hashlib.md5(got.content).hexdigest() == hashlib.md5(data).hexdigest()
    entry = cached_ids(admin)[image.id]
    assert entry.size == len(data) and entry.hits == 0
    assert demo.image.download_image(image).content == data
    assert cached_ids(admin)[image.id].hits == 1
    # queue another image: the prefetcher caches it
    other = demo.image.create_image(name="queued", data=b"q" * 5000, disk_format="raw",
                                    container_format="bare", wait=True)
    admin.image.queue_image(other.id)
    deadline = time.monotonic() + 20
    while other.id not in cached_ids(admin) and time.monotonic() < deadline:
        time.sleep(0.2)
    cache = admin.image.get_image_cache()
    assert other.id in {c.image_id for c in cache.cached_images}
    assert other.id not in cache.queued_images
    # deleting an entry, deleting an image, clearing
    admin.image.cache_delete_image(image.id)
    assert image.id not in cached_ids(admin)
    demo.image.download_image(image)
    assert image.id in cached_ids(admin)
    demo.image.delete_image(image)
    assert image.id not in cached_ids(admin)
    admin.image.clear_cache("both")
    cache = admin.image.get_image_cache()
    assert cache.cached_images == [] and cache.queued_images == []
    demo.image.delete_image(other)


def test_sigkill_while_caching_leaves_no_half_image(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("e2e-image-cache-kill") / "data"
    port = free_port()
    cache_dir: Path = data_dir / "image-cache"
    running = start_cloud(data_dir, port, extra_env=ENV)
    try:
        demo = connect(running, "onestack-demo")
        image = demo.image.create_image(name="big", data=os.urandom(24 << 20),
                                        disk_format="raw", container_format="bare", wait=True)
        token = demo.session.get_token()
        url = f"{running.url}/image"
        with httpx.stream("GET", f"{url}/v2/images/{image.id}/file", timeout=30,
                          headers={"X-Auth-Token": token}) as response:
            assert response.status_code == 200
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received >= 2 << 20:
                    break
            assert list((cache_dir / "incomplete").iterdir()) != []  # being cached
            os.kill(running.process.pid, signal.SIGKILL)
        running.process.wait(timeout=10)
    finally:
        stop_cloud(running)
    running = start_cloud(data_dir, port, extra_env=ENV)
    try:
        assert list((cache_dir / "incomplete").iterdir()) == []
        assert list((cache_dir / "data").iterdir()) == []
        admin, demo = connect(running, "onestack"), connect(running, "onestack-demo")
        assert cached_ids(admin) == {}
        assert len(demo.image.download_image(image).content) == 24 << 20  # now cached whole
        assert cached_ids(admin)[image.id].size == 24 << 20
    finally:
        stop_cloud(running)
