"""onestack-tiny through the ``openstack`` CLI: boot, console, key, user data, lifecycle,
snapshot and a boot from it, and guests that survive a SIGKILLed agent."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.dataplane.conftest import BOOT_MARKER, BOOT_TIMEOUT, QEMU_ENV, kill_guests, wait_for
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud

pytestmark = pytest.mark.dataplane
USER_DATA = """#!/bin/sh
echo "user data ran on $(hostname)"
echo before-snapshot > /data/written-before-snapshot
sync
"""


@pytest.fixture(scope="module")
def keypair(qemu_cloud: RunningCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    key = tmp_path_factory.mktemp("key") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    qemu_cloud.osc("keypair", "create", "--public-key", f"{key}.pub", "dp-key")
    blob = key.with_suffix(".pub").read_text().split()[1]
    digest = hashlib.sha256(base64.b64decode(blob)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def console(cloud: RunningCloud, server: str) -> str:
    return str(cloud.osc("console", "log", "show", server, parse=False))


def boots(cloud: RunningCloud, server: str) -> int:
    return console(cloud, server).count(BOOT_MARKER)


def wait_boots(cloud: RunningCloud, server: str, count: int) -> str:
    wait_for(lambda: boots(cloud, server) >= count, BOOT_TIMEOUT, f"boot {count} of {server}", 2)
    return console(cloud, server)


def status(cloud: RunningCloud, server: str) -> str:
    return str(cloud.osc("server", "show", server)["status"])


def wait_status(cloud: RunningCloud, server: str, wanted: str) -> None:
    wait_for(lambda: status(cloud, server) == wanted, 300, f"{server} {wanted}", 1)


def create(cloud: RunningCloud, name: str, image: str, tmp: Path, **extra: str) -> dict:
    user_data = tmp / f"{name}.sh"
    user_data.write_text(USER_DATA)
    args = ["server", "create", "--image", image, "--flavor", "m1.tiny", "--nic", "none"]
    args += ["--key-name", "dp-key", "--user-data", str(user_data), "--config-drive", "true"]
    return dict(cloud.osc(*args, "--wait", name))


def test_boot_console_key_and_user_data(
    qemu_cloud: RunningCloud, keypair: str, tmp_path: Path
) -> None:
    server = create(qemu_cloud, "dp-boot", "onestack-tiny", tmp_path)
    assert server["status"] == "ACTIVE"
    log = wait_boots(qemu_cloud, "dp-boot", 1)
    assert f"instance {server['id']} ===" in log  # the config drive's meta_data.json
    assert f"| ssh-ed25519 | {keypair} |" in log
    assert "-----BEGIN SSH HOST KEY FINGERPRINTS-----" in log
    assert "user-data: user data ran on dp-boot" in log
    assert "dp-boot login:" in log
    tail = qemu_cloud.osc("console", "log", "show", "--lines", "3", "dp-boot", parse=False)
    assert len(str(tail).strip().splitlines()) <= 3
    qemu_cloud.osc("server", "delete", "--wait", "dp-boot", parse=False)


def test_lifecycle_observed_in_the_guest(
    qemu_cloud: RunningCloud, keypair: str, tmp_path: Path
) -> None:
    create(qemu_cloud, "dp-life", "onestack-tiny", tmp_path)
    wait_boots(qemu_cloud, "dp-life", 1)
    qemu_cloud.osc("server", "stop", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "SHUTOFF")
    assert "reboot: Power down" in console(qemu_cloud, "dp-life")  # ACPI, the guest's own
    qemu_cloud.osc("server", "start", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "ACTIVE")
    wait_boots(qemu_cloud, "dp-life", 2)
    qemu_cloud.osc("server", "reboot", "--hard", "--wait", "dp-life", parse=False)
    wait_boots(qemu_cloud, "dp-life", 3)
    qemu_cloud.osc("server", "reboot", "--soft", "--wait", "dp-life", parse=False)
    wait_boots(qemu_cloud, "dp-life", 4)
    qemu_cloud.osc("server", "pause", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "PAUSED")
    qemu_cloud.osc("server", "unpause", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "ACTIVE")
    qemu_cloud.osc("server", "suspend", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "SUSPENDED")
    qemu_cloud.osc("server", "resume", "dp-life", parse=False)
    wait_status(qemu_cloud, "dp-life", "ACTIVE")
    assert boots(qemu_cloud, "dp-life") == 4  # resumed, not booted again
    qemu_cloud.osc("server", "delete", "--wait", "dp-life", parse=False)


def test_snapshot_then_boot_from_it(qemu_cloud: RunningCloud, keypair: str, tmp_path: Path) -> None:
    create(qemu_cloud, "dp-snap", "onestack-tiny", tmp_path)
    wait_boots(qemu_cloud, "dp-snap", 1)
    image = qemu_cloud.osc(
        "server", "image", "create", "--wait", "--name", "dp-snap-image", "dp-snap"
    )
    shown = qemu_cloud.osc("image", "show", image["id"])
    assert shown["status"] == "active" and shown["disk_format"] == "qcow2"
    create(qemu_cloud, "dp-from-snap", "dp-snap-image", tmp_path)
    log = wait_boots(qemu_cloud, "dp-from-snap", 1)
    held = [line for line in log.splitlines() if "/data holds:" in line]
    assert held and "written-before-snapshot" in held[0]
    for name in ("dp-snap", "dp-from-snap"):
        qemu_cloud.osc("server", "delete", "--wait", name, parse=False)


def test_guests_survive_a_killed_agent(tiny_built: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cloud = start_cloud(data_dir, _port(), QEMU_ENV)
    try:
        wait_for(
            lambda: cloud.osc("image", "list", "--name", "onestack-tiny", "--status", "active"),
            120,
            "onestack-tiny registered",
        )
        cloud.osc(
            "server",
            "create",
            "--image",
            "onestack-tiny",
            "--flavor",
            "m1.tiny",
            "--nic",
            "none",
            "--wait",
            "dp-adopt",
        )
        pidfile = next((data_dir / "instances").glob("*/qemu.pid"))
        qemu = int(pidfile.read_text())
        cloud.process.send_signal(signal.SIGKILL)
        cloud.process.wait(10)
        os.kill(qemu, 0)  # the guest still runs without its agent
        cloud = start_cloud(data_dir, _port(), QEMU_ENV)
        assert status(cloud, "dp-adopt") == "ACTIVE"
        assert int(pidfile.read_text()) == qemu
        wait_boots(cloud, "dp-adopt", 1)
        cloud.osc("server", "stop", "dp-adopt", parse=False)  # the restarted agent drives it
        wait_status(cloud, "dp-adopt", "SHUTOFF")
        wait_for(lambda: not _alive(qemu), 60, "the adopted QEMU to exit")
    finally:
        stop_cloud(cloud)
        kill_guests(data_dir)


def _port() -> int:
    from tests.conftest import free_port

    return free_port()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
