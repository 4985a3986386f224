"""The multi-process model with real processes and the real clients: an API process and an image
worker process talking over RabbitMQ (casts wait in the durable queue while no worker runs),
the Image API alone (``onestack serve image``) validating tokens through another process's
Identity API, and ``/metrics`` counting both sides.

Every test runs on a RabbitMQ vhost of its own (made with ``rabbitmqctl``, deleted afterwards;
the default vhost when ``rabbitmqctl`` is not usable), so no other worker takes its casts.
Fails (not skips) without RabbitMQ unless ONESTACK_TEST_NO_RABBIT=1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import BIN, RunningCloud, free_port, image_of, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
RABBIT = ("127.0.0.1", 5672)


def require_rabbit() -> None:
    try:
        with socket.create_connection(RABBIT, 2):
            return
    except OSError:
        pass
    if os.environ.get("ONESTACK_TEST_NO_RABBIT") == "1":
        pytest.skip("ONESTACK_TEST_NO_RABBIT=1: RabbitMQ tests not run")
    pytest.fail("RabbitMQ is not reachable at 127.0.0.1:5672 (set ONESTACK_TEST_NO_RABBIT=1)")


def rabbitmqctl(*args: str) -> str | None:
    """``rabbitmqctl ARGS`` output, or None when it cannot be run here."""
    try:
        proc = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[tuple[str, str | None]]:
    """(transport URL, vhost name or None when the default vhost is used)."""
    require_rabbit()
    vhost = f"onestack-e2e-{uuid.uuid4().hex[:8]}"
    made = rabbitmqctl("add_vhost", vhost) is not None and (
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*") is not None
    )
    if not made:
        yield "rabbit://guest:guest@127.0.0.1:5672/", None
        return
    try:
        yield f"rabbit://guest:guest@127.0.0.1:5672/{vhost}", vhost
    finally:
        rabbitmqctl("delete_vhost", vhost)


def queued(vhost: str | None, queue: str) -> int | None:
    """Messages ready in ``queue`` (None when the broker cannot be asked)."""
    if vhost is None:
        return None
    out = rabbitmqctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name",
                      "messages_ready")
    if out is None:
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


class Process:
    """One ``onestack`` process of the test, its output in a log file next to the data dir."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.args = args
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                [str(BIN / "onestack"), *args], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after 15 s)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def procs() -> Iterator[list[Process]]:
    """Processes a test starts; all stopped at the end, whatever happened."""
    started: list[Process] = []
    yield started
    for proc in reversed(started):
        proc.stop()


def start_agent(procs: list[Process], cloud: RunningCloud, transport: str, host: str) -> Process:
    """An image worker on ``host``, sharing ``cloud``'s data dir and finding its Identity."""
    data_dir = cloud.data_dir
    proc = Process(
        ["agent", "image", "--host", host, "--data-dir", str(data_dir), "--transport", transport,
         "--identity-url", f"{cloud.url}/identity"],
        data_dir.parent / f"agent-{host}-{len(procs)}.log",
    )
    procs.append(proc)
    return proc


def wait_healthy(url: str, proc: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.args} exited {proc.popen.returncode}: {proc.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{proc.args} not healthy in {timeout} s: {proc.output()}")


def token(cloud: RunningCloud) -> str:
    issued = cloud.osc("token", "issue")
    return str(issued["id"])


def image_file(tmp: Path, size: int = 300_000) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp / f"img-{uuid.uuid4().hex[:8]}.raw"
    path.write_bytes(data)
    return path, data


def create_by_import(cloud: RunningCloud, path: Path) -> str:
    """``openstack image create --import``: create, stage, import glance-direct."""
    image = cloud.osc("image", "create", f"imp-{uuid.uuid4().hex[:8]}", "--disk-format", "raw",
                "--container-format", "bare", "--file", str(path), "--import")
    return str(image["id"])


def wait_status(image_url: str, tok: str, image_id: str, want: str,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = image_of(image_url, tok, image_id)
        if image["status"] == want:
            return image
        assert time.monotonic() < deadline, f"image {image_id} still {image['status']}"
        time.sleep(0.2)


def assert_data(image: dict[str, Any], data: bytes) -> None:
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert image["size"] == len(data)


def metric_samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


# -- API process + worker process over RabbitMQ ------------------------------------------------


class ApiOnly:
    """``onestack up`` on RabbitMQ without its in-process image worker; restartable."""

    def __init__(self, data_dir: Path, transport: str, vhost: str | None):
        self.data_dir, self.transport, self.vhost = data_dir, transport, vhost
        self.port = free_port()
        self.cloud = self._start()

    def _start(self) -> RunningCloud:
        return start_cloud(self.data_dir, self.port, extra_env={
            "ONESTACK_SERVICES": '["identity", "image"]',
            "ONESTACK_TRANSPORT_URL": self.transport,
            "ONESTACK_RUN_AGENTS": "false",
        })

    def restart(self) -> None:
        stop_cloud(self.cloud)
        self.cloud = self._start()


@pytest.fixture(scope="module")
def api_only() -> Iterator[ApiOnly]:
    with rabbit_vhost() as (transport, vhost):
        data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"e2e-procs-{uuid.uuid4().hex[:8]}"
        data_dir.mkdir(parents=True)
        api = ApiOnly(data_dir / "data", transport, vhost)
        try:
            yield api
        finally:
            stop_cloud(api.cloud)


def test_imports_run_on_a_worker_process_and_wait_for_it(
    api_only: ApiOnly, procs: list[Process], tmp_path: Path
) -> None:
    cloud, transport, vhost = api_only.cloud, api_only.transport, api_only.vhost
    image_url = f"{cloud.url}/image"
    tok = token(cloud)

    worker = start_agent(procs, cloud, transport, "w1")
    path, data = image_file(tmp_path)
    first = create_by_import(cloud, path)
    assert_data(wait_status(image_url, tok, first, "active"), data)
    assert cloud.osc("image", "show", first)["status"] == "active"

    # no worker: the API accepts the import, the cast waits on the broker, nothing runs it
    assert worker.stop() == 0
    path2, data2 = image_file(tmp_path, 123_457)
    second = create_by_import(cloud, path2)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert image_of(image_url, tok, second)["status"] == "importing"
        time.sleep(0.3)
    waiting = queued(vhost, "image-worker")
    assert waiting in (1, None), waiting

    # the API process restarts meanwhile: the waiting import is the broker's, not undone
    api_only.restart()
    cloud = api_only.cloud
    assert image_of(image_url, tok, second)["status"] == "importing"

    # a worker on another host starts and takes the cast that waited for it
    start_agent(procs, cloud, transport, "w2")
    assert_data(wait_status(image_url, tok, second, "active"), data2)
    assert queued(vhost, "image-worker") in (0, None)


def test_metrics_count_the_casts_and_image_requests(api_only: ApiOnly, tmp_path: Path) -> None:
    cloud = api_only.cloud
    image_url = f"{cloud.url}/image"
    tok = token(cloud)

    def casts() -> float:
        return sum(
            value
            for labels, value in metric_samples(cloud.url, "onestack_rpc_messages_total")
            if labels.get("topic") == "image-worker" and labels.get("side") == "client"
            and labels.get("kind") == "cast" and labels.get("method") == "run_import"
            and labels.get("outcome") == "ok"
        )

    before = casts()
    headers = {"X-Auth-Token": tok}
    created = httpx.post(f"{image_url}/v2/images", headers=headers, timeout=10, json={
        "name": "metered", "disk_format": "raw", "container_format": "bare"})
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    staged = httpx.put(f"{image_url}/v2/images/{image_id}/stage", content=b"x" * 1000,
                       headers={**headers, "Content-Type": "application/octet-stream"},
                       timeout=10)
    assert staged.status_code == 204, staged.text
    imported = httpx.post(f"{image_url}/v2/images/{image_id}/import", headers=headers,
                          json={"method": {"name": "glance-direct"}}, timeout=10)
    assert imported.status_code == 202, imported.text
    assert casts() == before + 1

    http = metric_samples(cloud.url, "onestack_http_requests_total")
    routes = {(labels["method"], labels["route"], labels["status"])
              for labels, value in http if labels["service"] == "image" and value >= 1}
    assert ("POST", "/v2/images/{image_id}/import", "202") in routes, routes
    assert ("PUT", "/v2/images/{image_id}/stage", "204") in routes, routes
    assert any(labels["service"] == "identity" for labels, _ in http)


# -- the Image API alone, Identity in another process ------------------------------------------


def test_image_api_alone_validates_tokens_through_identity(
    procs: list[Process], tmp_path: Path
) -> None:
    with rabbit_vhost() as (transport, _):
        data_dir = tmp_path / "data"
        port, image_port = free_port(), free_port()
        image_base = f"http://127.0.0.1:{image_port}"
        cloud = start_cloud(data_dir, port, extra_env={
            "ONESTACK_SERVICES": '["identity"]',
            "ONESTACK_REMOTE_SERVICES": json.dumps({"image": image_base}),
            "ONESTACK_TRANSPORT_URL": transport,
        })
        try:
            api = Process(
                ["serve", "image", "--data-dir", str(data_dir), "--port", str(image_port),
                 "--transport", transport, "--identity-url", f"{cloud.url}/identity"],
                tmp_path / "serve-image.log",
            )
            procs.append(api)
            wait_healthy(image_base, api)
            start_agent(procs, cloud, transport, "w1")
            check_image_api_alone(cloud, image_base, tmp_path)
        finally:
            for proc in reversed(procs):
                proc.stop()
            stop_cloud(cloud)


def check_image_api_alone(cloud: RunningCloud, image_base: str, tmp_path: Path) -> None:
    image_url = f"{image_base}/image"
    # the catalog sends clients to the other process; this one does not serve images
    endpoints = cloud.osc("endpoint", "list", "--service", "image")
    assert {e["URL"] for e in endpoints} == {image_url}
    assert httpx.get(f"{cloud.url}/").json()["services"].keys() == {"identity"}
    assert httpx.get(f"{image_base}/").json()["services"].keys() == {"image"}

    # the CLI through the catalog: upload, import (by the worker process), list, show, delete
    path, data = image_file(tmp_path)
    uploaded = cloud.osc("image", "create", "uploaded", "--disk-format", "raw",
                   "--container-format", "bare", "--file", str(path))
    assert uploaded["status"] == "active"
    tok = token(cloud)
    assert_data(image_of(image_url, tok, uploaded["id"]), data)
    path2, data2 = image_file(tmp_path, 77_777)
    imported = create_by_import(cloud, path2)
    assert_data(wait_status(image_url, tok, imported, "active"), data2)
    listed = {i["ID"] for i in cloud.osc("image", "list")}
    assert {uploaded["id"], imported} <= listed
    assert cloud.osc("image", "show", "uploaded")["id"] == uploaded["id"]
    cloud.osc("image", "delete", uploaded["id"], imported, parse=False)
    gone = cloud.osc("image", "show", uploaded["id"], check=False, parse=False)
    assert gone.returncode != 0

    # tokens are checked by Identity in the other process
    for headers in ({}, {"X-Auth-Token": "not-a-token"},
                    {"X-Auth-Token": "gAAAAA" + "A" * 180}):
        resp = httpx.get(f"{image_url}/v2/images", headers=headers, timeout=10)
        assert resp.status_code == 401, (headers, resp.text)
    assert httpx.get(f"{image_url}/v2/images", headers={"X-Auth-Token": tok},
                     timeout=10).status_code == 200
    revoked = token(cloud)
    cloud.osc("token", "revoke", revoked, parse=False)
    resp = httpx.get(f"{image_url}/v2/images", headers={"X-Auth-Token": revoked}, timeout=10)
    assert resp.status_code == 401, resp.text

    # each API process counts its own requests
    image_http = [labels for labels, _ in
                  metric_samples(image_base, "onestack_http_requests_total")]
    assert any(labels["service"] == "image" and labels["status"] == "401"
               for labels in image_http)
    assert not any(labels["service"] == "identity" for labels in image_http)
    assert not any(labels["service"] == "image" for labels, _ in
                   metric_samples(cloud.url, "onestack_http_requests_total"))
