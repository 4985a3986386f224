"""A real ``onestack up`` on a free port, driven by the real ``openstack`` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@dataclass
class RunningCloud:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        return env

    def osc(self, *args: str, cloud: str = "onestack", check: bool = True,
            parse: bool = True) -> Any:
        """Run ``openstack --os-cloud CLOUD ARGS`` (JSON output when the command has any)."""
        cmd = [str(BIN / "openstack"), "--os-cloud", cloud, *args]
        if parse:
            cmd += ["-f", "json"]
        proc = run_cli(cmd, self.env())
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        if not check:
            return proc
        return json.loads(proc.stdout) if parse and proc.stdout.strip() else proc.stdout


def run_cli(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a client command with stdin on a terminal, as typed (otherwise ``openstack image
    create`` reads image data from stdin)."""
    master, tty = os.openpty()
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180,
                              stdin=tty)
    finally:
        os.close(master)
        os.close(tty)


def image_of(image_url: str, token: str, image_id: str) -> dict[str, Any]:
    """GET ``{image_url}/v2/images/{image_id}`` (must answer 200)."""
    resp = httpx.get(f"{image_url}/v2/images/{image_id}", headers={"X-Auth-Token": token},
                     timeout=10)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def start_cloud(data_dir: Path, port: int, extra_env: dict[str, str] | None = None
                ) -> RunningCloud:
    env = {**os.environ, **(extra_env or {})}
    log = open(data_dir.parent / f"onestack-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "onestack"), "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    limit = float(os.environ.get("ONESTACK_TEST_START_TIMEOUT", "60"))  # a busy machine
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"onestack up exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                return RunningCloud(url, data_dir, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"onestack up did not become healthy in {limit:g} s")


def stop_cloud(cloud: RunningCloud) -> None:
    cloud.process.terminate()
    try:
        cloud.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        cloud.process.kill()


@pytest.fixture(scope="session")
def running_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    cloud = start_cloud(data_dir, free_port())
    yield cloud
    stop_cloud(cloud)
