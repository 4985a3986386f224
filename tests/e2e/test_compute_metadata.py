"""The metadata API of a running ``onestack up``: a server booted with the SDK, its
meta_data.json, user data and EC2 instance id asked as Networking's metadata proxy asks
(signed headers, the secret from the data dir), a bad signature refused, the password the
guest posts read and cleared through the SDK (``os-server-password``); and the same API
served alone by ``onestack serve compute-metadata`` over the same database."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from onestack.common.metadata_proxy import SECRET_FILE, sign
from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud
from tests.e2e.test_compute import _image
from tests.e2e.test_process_model import Process
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


def test_serve_compute_metadata_alone(running_cloud: RunningCloud, tmp_path) -> None:
    conn = connect(running_cloud, "onestack-demo")
    server = conn.compute.create_server(name="md-alone", image_id=_image(connect(running_cloud)),
                                        flavor_id="42", networks="none")  # fmt: skip
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
    port = free_port()
    alone = Process(["serve", "compute-metadata", "--data-dir", str(running_cloud.data_dir),
                     "--port", str(port), "--identity-url", f"{running_cloud.url}/identity"],
                    tmp_path / "metadata.log")  # fmt: skip
    try:
        secret = (running_cloud.data_dir / SECRET_FILE).read_text().strip()
        headers = {"X-Instance-ID": server.id, "X-Tenant-ID": server.project_id,
                   "X-Instance-ID-Signature": sign(secret, server.id)}  # fmt: skip
        url = f"http://127.0.0.1:{port}/compute-metadata/openstack/latest/meta_data.json"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(url, headers=headers, timeout=2)
                break
            except httpx.TransportError:
                assert alone.popen.poll() is None, alone.output()
                assert time.monotonic() < deadline, alone.output()
                time.sleep(0.1)
        assert r.status_code == 200, r.text
        assert r.json()["uuid"] == server.id
        assert httpx.get(f"http://127.0.0.1:{port}/compute/v2.1", timeout=5).status_code == 404
    finally:
        assert alone.stop() == 0, alone.output()
    catalog = {s["Type"] for s in running_cloud.osc("catalog", "list")}
    assert "" not in catalog and "compute" in catalog
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60, interval=0.2)
