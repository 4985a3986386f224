"""A real ``onestack up`` on a free port, driven by the real ``openstack`` CLI."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
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


def run_cli(cmd: list[str], env: dict[str, str], timeout: float = 180
            ) -> subprocess.CompletedProcess[str]:
    """Run a client command with stdin on a terminal, as typed (otherwise ``openstack image
    create`` reads image data from stdin). ``openstack`` runs forked from the session's
    warmed-up client process (tests/e2e/cli_zygote.py), other commands as processes."""
    master, tty = os.openpty()
    try:
        if Path(cmd[0]).name == "openstack" and _ZYGOTE.socket is not None:
            return _ZYGOTE.run(cmd, env, tty, timeout)
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=tty)
    finally:
        os.close(master)
        os.close(tty)


class _Zygote:
    """The session's ``openstack`` fork server (started by the ``cli_zygote`` fixture)."""

    def __init__(self) -> None:
        self.socket: Path | None = None

    def run(self, cmd: list[str], env: dict[str, str], stdin: int, timeout: float
            ) -> subprocess.CompletedProcess[str]:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = None
        try:
            conn.connect(str(self.socket))
            request = {"argv": cmd[1:], "env": env, "cwd": os.getcwd()}
            socket.send_fds(conn, [json.dumps(request).encode() + b"\n"],
                            [stdin, out_w, err_w])
            os.close(out_w)
            os.close(err_w)
            out_w = err_w = -1
            chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
            answers = b""
            deadline = time.monotonic() + timeout
            with selectors.DefaultSelector() as sel:
                sel.register(out_r, selectors.EVENT_READ)
                sel.register(err_r, selectors.EVENT_READ)
                sel.register(conn, selectors.EVENT_READ)
                while len(sel.get_map()) > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise subprocess.TimeoutExpired(cmd, timeout)
                    for key, _ in sel.select(left):
                        if key.fileobj is conn:
                            data = conn.recv(65536)
                            answers += data
                            for line in answers.splitlines():
                                pid = json.loads(line).get("pid", pid)
                        else:
                            data = os.read(key.fd, 65536)
                            chunks[key.fd].append(data)
                        if not data:
                            sel.unregister(key.fileobj)
            status = None
            for line in answers.splitlines():
                status = json.loads(line).get("status", status)
            if status is None:
                raise AssertionError(f"the CLI child of {cmd[1:]} died without a status")
            pid = None
            return subprocess.CompletedProcess(
                cmd, status, b"".join(chunks[out_r]).decode(errors="replace"),
                b"".join(chunks[err_r]).decode(errors="replace"))
        finally:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for fd in (out_r, err_r, out_w, err_w):
                if fd >= 0:
                    os.close(fd)
            conn.close()


_ZYGOTE = _Zygote()


@pytest.fixture(scope="session", autouse=True)
def cli_zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Start the ``openstack`` fork server once for the session."""
    path = tmp_path_factory.mktemp("cli") / "openstack.sock"
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_zygote.py")),
                             str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the openstack CLI fork server did not start")
    _ZYGOTE.socket = path
    yield
    _ZYGOTE.socket = None
    proc.kill()
    proc.wait()


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
