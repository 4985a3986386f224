"""``onestack up`` killed with SIGKILL in the middle of an upload and of a stage: after a restart
on the same data dir the images are reconciled (killed / back to queued), no partial file is
left in the stores or the staging area, and the image service works as before."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningCloud, free_port, image_of, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
#: A short lease, so that the restarted process finds the dead one's work lapsed quickly.
ENV = {"ONESTACK_SERVICES": '["identity", "image"]', "ONESTACK_WORK_LEASE": "2"}
OCTETS = "application/octet-stream"


def token(cloud: RunningCloud) -> str:
    return str(cloud.osc("token", "issue")["id"])


def new_image(cloud: RunningCloud, tok: str) -> str:
    r = httpx.post(f"{cloud.url}/image/v2/images", headers={"X-Auth-Token": tok}, timeout=10,
                   json={"name": f"crash-{uuid.uuid4().hex[:6]}", "disk_format": "raw",
                         "container_format": "bare"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def show(cloud: RunningCloud, tok: str, image_id: str) -> dict[str, Any]:
    return image_of(f"{cloud.url}/image", tok, image_id)


def files_of(data_dir: Path, image_id: str) -> list[Path]:
    return [p for folder in ("images", "image-staging") if (data_dir / folder).exists()
            for p in (data_dir / folder).iterdir() if image_id in p.name]


@contextlib.contextmanager
def endless_upload(url: str, tok: str) -> Iterator[threading.Event]:
    """PUT ``url`` with a body that never ends (1 MiB, then a trickle) from a thread; the
    event is set once the first MiB went out."""
    sent = threading.Event()
    stop = threading.Event()

    def body() -> Iterator[bytes]:
        yield os.urandom(1024 * 1024)
        sent.set()
        while not stop.is_set():
            time.sleep(0.05)
            yield b"x" * 1024

    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.put(url, content=body(), timeout=30,
                      headers={"X-Auth-Token": tok, "Content-Type": OCTETS})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(10)


def wait_for(cloud: RunningCloud, tok: str, image_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        image = show(cloud, tok, image_id)
        if image["status"] == wanted:
            return image
        assert time.monotonic() < deadline, f"{image_id} still {image['status']}"
        time.sleep(0.2)


def test_sigkill_mid_upload_and_mid_stage(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cloud = start_cloud(data_dir, free_port(), extra_env=ENV)
    try:
        tok = token(cloud)
        uploading, staging = new_image(cloud, tok), new_image(cloud, tok)
        base = f"{cloud.url}/image/v2/images"
        with (endless_upload(f"{base}/{uploading}/file", tok) as up,
              endless_upload(f"{base}/{staging}/stage", tok) as st):
            assert up.wait(30) and st.wait(30)
            deadline = time.monotonic() + 10
            while show(cloud, tok, staging)["status"] != "uploading" or show(
                    cloud, tok, uploading)["status"] != "saving":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(0.5)  # data is being written
            assert any(p.name.endswith(".part") for p in files_of(data_dir, uploading))
            cloud.process.send_signal(signal.SIGKILL)
            cloud.process.wait(10)
    finally:
        stop_cloud(cloud)

    cloud = start_cloud(data_dir, free_port(), extra_env=ENV)
    try:
        tok = token(cloud)
        assert wait_for(cloud, tok, uploading, "killed")["size"] is None
        staged = wait_for(cloud, tok, staging, "queued")
        assert staged["size"] is None
        assert files_of(data_dir, uploading) == []
        assert files_of(data_dir, staging) == []
        # the service goes on: the queued image takes data again, a new image uploads
        r = httpx.put(f"{cloud.url}/image/v2/images/{staging}/file", content=b"after the crash",
                      headers={"X-Auth-Token": tok, "Content-Type": OCTETS}, timeout=10)
        assert r.status_code == 204, r.text
        assert show(cloud, tok, staging)["status"] == "active"
    finally:
        stop_cloud(cloud)
