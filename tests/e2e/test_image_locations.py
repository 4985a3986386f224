"""The location API (Image API 2.17) through openstacksdk, as a service uses it: the glance
service user registers data it wrote into the file store as a demo image's location."""

from __future__ import annotations

import hashlib
import time
import uuid

import openstack
import pytest
from openstack import exceptions

from tests.e2e.conftest import RunningCloud
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e


def as_service(cloud: RunningCloud) -> openstack.connection.Connection:
    password = (cloud.data_dir / "service-password").read_text().strip()
    return openstack.connect(
        auth_url=f"{cloud.url}/identity", username="glance", password=password,
        project_name="service", user_domain_id="default", project_domain_id="default",
        region_name="RegionOne",
    )


def test_a_service_adds_and_reads_a_location(running_cloud: RunningCloud) -> None:
    demo = connect(running_cloud, "onestack-demo")
    service = as_service(running_cloud)
    image = demo.image.create_image(name=f"loc-{uuid.uuid4().hex[:8]}", disk_format="raw",
                                    container_format="bare", allow_duplicates=True)
    data = b"written by the service " * 4096
    store_dir = running_cloud.data_dir / "images"
    store_dir.mkdir(exist_ok=True)
    path = store_dir / f"svc-{uuid.uuid4().hex}"
    path.write_bytes(data)
    # an end user may not (no http store here)
    with pytest.raises(exceptions.ForbiddenException):
        demo.image.add_image_location(image, path.as_uri())
    service.image.add_image_location(
        image.id, path.as_uri(),
        validation_data={"os_hash_algo": "sha256",
                         "os_hash_value": hashlib.sha256(data).hexdigest()},
    )
    deadline = time.monotonic() + 30
    while (shown := demo.image.get_image(image.id)).status != "active":
        assert shown.status in ("queued", "importing") and time.monotonic() < deadline
        time.sleep(0.1)
    assert shown.hash_algo == "sha256" and shown.hash_value == hashlib.sha256(data).hexdigest()
    assert shown.checksum == hashlib.md5(data).hexdigest() and shown.size == len(data)
    locations = list(service.image.image_locations(image.id))
    assert [(loc.url, loc.metadata) for loc in locations] == [(path.as_uri(), {"store": "file"})]
    with pytest.raises(exceptions.ForbiddenException):
        list(demo.image.image_locations(image.id))
    assert b"".join(demo.image.download_image(image.id, stream=True).iter_content(65536)) == data
    demo.image.delete_image(image.id)
    assert not path.exists()
