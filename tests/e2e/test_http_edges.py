"""A real ``onestack up`` over real sockets: a stalled request body gets 408 and the connection
closed, a client gone mid-body is no error, and every request has its access log line."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e-http") / "data"
    running = start_cloud(data_dir, free_port(),
                          {"ONESTACK_REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT)})
    yield running
    stop_cloud(running)


def log_of(cloud: RunningCloud) -> str:
    port = cloud.url.rsplit(":", 1)[1]
    return (cloud.data_dir.parent / f"onestack-{port}.log").read_text()


def connect(cloud: RunningCloud) -> socket.socket:
    host, port = cloud.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def partial_post(path: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 200\r\n\r\n{\"auth\": {").encode()


def wait_for_log(cloud: RunningCloud, pattern: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = log_of(cloud)
        if re.search(pattern, text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} never logged:\n{log_of(cloud)[-2000:]}")


def test_a_stalled_body_gets_408_and_the_connection_closed(cloud: RunningCloud) -> None:
    with connect(cloud) as sock:
        started = time.monotonic()
        sock.sendall(partial_post("/identity/v3/auth/tokens"))
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"code":408' in answer and b"not received in time" in answer
    assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + 5
    wait_for_log(cloud, r"POST /identity/v3/auth/tokens 408 ")
    # the server is still there for others
    assert httpx.get(f"{cloud.url}/identity/v3", timeout=5).status_code == 200


def test_a_client_gone_mid_body_is_no_error(cloud: RunningCloud) -> None:
    with connect(cloud) as sock:
        sock.sendall(partial_post("/identity/v3/auth/tokens"))
        time.sleep(0.2)
    text = wait_for_log(cloud, r"POST /identity/v3/auth/tokens 499 ")
    assert "unexpected error" not in text and "Traceback" not in text


def test_every_request_has_an_access_line_with_the_caller(cloud: RunningCloud) -> None:
    password = (cloud.data_dir / "demo-password").read_text().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    r = httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json=body, timeout=10)
    assert r.status_code == 201
    token = r.json()["token"]
    r = httpx.get(f"{cloud.url}/image/v2/images?limit=1",
                  headers={"X-Auth-Token": r.headers["X-Subject-Token"]}, timeout=10)
    assert r.status_code == 200
    request_id = r.headers["X-OpenStack-Request-ID"]
    line = next(
        line for line in wait_for_log(cloud, re.escape(request_id)).splitlines()
        if request_id in line
    )
    assert "INFO onestack.access" in line
    assert "GET /image/v2/images?limit=1 200 " in line
    assert f"user={token['user']['id']}" in line and f"project={token['project']['id']}" in line
    assert re.search(r" \d+\.\dms ", line)


def test_an_idle_connection_outlives_a_clients_polling_pause(cloud: RunningCloud) -> None:
    """`openstack server create --wait` polls every 5 s on one kept-alive connection: the
    server must not be closing it just then (a reset poll fails the whole command)."""
    request = b"GET /healthcheck HTTP/1.1\r\nHost: onestack\r\n\r\n"
    with connect(cloud) as sock:
        for _ in range(2):
            sock.sendall(request)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 "), answer
            assert b"connection: close" not in answer.lower()
            time.sleep(6)  # idle for longer than the client's polling pause
