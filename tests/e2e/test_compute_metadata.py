"""The metadata API of a running ``onestack up``: a server booted with the SDK, its
meta_data.json, user data and EC2 instance id asked as Networking's metadata proxy asks
(signed headers, the secret from the data dir), a bad signature refused, and the password the
guest posts read and cleared through the SDK (``os-server-password``)."""

from __future__ import annotations

import base64

import httpx
import pytest

from onestack.common.metadata_proxy import SECRET_FILE, sign
from tests.e2e.conftest import RunningCloud
from tests.e2e.test_compute import _image
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e


def test_metadata_api_as_the_proxy_asks(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud, "onestack-demo")
    image = _image(connect(running_cloud))
    server = conn.compute.create_server(
        name="md-e2e", image_id=image, flavor_id="42", networks="none",
        user_data=base64.b64encode(b"#!/bin/sh\necho e2e\n").decode(), metadata={"k": "v"},
    )  # fmt: skip
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
    secret = (running_cloud.data_dir / SECRET_FILE).read_text().strip()
    headers = {
        "X-Instance-ID": server.id,
        "X-Tenant-ID": server.project_id,
        "X-Instance-ID-Signature": sign(secret, server.id),
    }
    base = f"{running_cloud.url}/compute-metadata"
    with httpx.Client(base_url=base, headers=headers, timeout=10) as md:
        meta = md.get("/openstack/latest/meta_data.json")
        assert meta.status_code == 200, meta.text
        assert meta.json()["uuid"] == server.id and meta.json()["meta"] == {"k": "v"}
        assert md.get("/openstack/latest/user_data").content == b"#!/bin/sh\necho e2e\n"
        assert md.get("/latest/meta-data/instance-id").text == server.id
        bad = md.get("/openstack/latest/meta_data.json",
                     headers={"X-Instance-ID-Signature": sign("wrong", server.id)})  # fmt: skip
        assert bad.status_code == 403
        assert md.post("/openstack/latest/password", content=b"ZW5jcnlwdGVk").status_code == 200
        assert md.post("/openstack/latest/password", content=b"again").status_code == 409
    assert conn.compute.get_server_password(server) == "ZW5jcnlwdGVk"
    conn.compute.clear_server_password(server)
    assert not conn.compute.get_server_password(server)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60, interval=0.2)
