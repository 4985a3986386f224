"""Real guests: onestack-tiny booted by the QEMU driver (KVM where a probe guest boots, else
TCG) in a real onestack driven by the ``openstack`` CLI. Root and QEMU are required; a
machine without them fails here with what to install, never skips to green."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import BIN, RunningCloud, cli_zygote, start_cloud, stop_cloud

__all__ = ["cli_zygote"]  # the e2e tests' warmed-up ``openstack`` CLI, for these tests too
QEMU_ENV = {"ONESTACK_COMPUTE__VIRT_DRIVER": "qemu"}
BOOT_MARKER = "=== onestack-tiny: boot finished"
#: a TCG boot takes 2 s on an idle core and far longer on a busy shared machine
BOOT_TIMEOUT = float(os.environ.get("ONESTACK_TEST_BOOT_TIMEOUT", "240"))


def require_host() -> None:
    missing = [
        t
        for t in ("qemu-system-x86_64", "qemu-img", "apt-get", "lz4", "dnsmasq", "nft", "ping")
        if not shutil.which(t)
    ]
    if missing:
        pytest.fail(
            f"the dataplane tests need {', '.join(missing)}: apt-get install qemu-system-x86 "
            "qemu-utils lz4 dnsmasq-base nftables iputils-ping (scripts/setup.sh --test does)"
        )
    if os.geteuid() != 0:
        pytest.fail("the dataplane tests run as root (guests' taps and namespaces)")


@pytest.fixture(scope="session")
def tiny_built() -> None:
    """onestack-tiny in the package cache (built once per machine, a minute the first time)."""
    require_host()
    subprocess.run([str(BIN / "onestack"), "image", "build", "tiny"], check=True, timeout=900)


@pytest.fixture(scope="session")
def qemu_cloud(
    tiny_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("dataplane") / "data"
    cloud = start_cloud(data_dir, free_port(), {**QEMU_ENV, **console_proxies_env()})
    try:
        wait_for(lambda: _tiny_active(cloud), 120, "onestack-tiny registered and active")
        yield cloud
    finally:
        stop_cloud(cloud)
        kill_guests(data_dir)
        network_cleanup()


def network_cleanup() -> None:
    """``onestack network cleanup`` after a cloud: its dnsmasqs outlive it by design; then
    nothing of onestack's may be left on the host."""
    subprocess.run([str(BIN / "onestack"), "network", "cleanup"], check=True, timeout=60)
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "onestack-" not in names, names
    left = [d.name for d in Path("/sys/class/net").iterdir() if d.name.startswith(("osbr", "osdh"))]
    assert not left, left


def console_proxies_env() -> dict[str, str]:
    """The noVNC and serial console proxies on free ports (the URLs the API gives name them)."""
    return {
        "ONESTACK_COMPUTE__CONSOLE_PROXIES": "true",
        "ONESTACK_COMPUTE__NOVNCPROXY_PORT": str(free_port()),
        "ONESTACK_COMPUTE__SERIALPROXY_PORT": str(free_port()),
    }


def _tiny_active(cloud: RunningCloud) -> bool:
    images = cloud.osc("image", "list", "--name", "onestack-tiny", "--status", "active")
    return bool(images)


def kill_guests(data_dir: Path) -> None:
    """The QEMUs a test cloud leaves behind (they outlive the agent by design), and its
    dataplane: dnsmasqs, namespaces and bridges (only this cloud's, not another's)."""
    from onestack.compute.virt.qemu.driver import Paths

    for pidfile in (data_dir / "instances").glob("*/qemu.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), 9)
        shutil.rmtree(Paths(pidfile.parent.parent, pidfile.parent.name).sockets, True)
    state = data_dir / "network"
    for d in (state / "dhcp").glob("*"):
        pid = dnsmasq_pid(data_dir, d.name)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        subprocess.run(["ip", "netns", "delete", f"onestack-dhcp-{d.name}"], capture_output=True)
    routers = state / "routers"
    for router in routers.read_text().split() if routers.exists() else []:
        subprocess.run(["ip", "netns", "delete", f"onestack-qrouter-{router}"], capture_output=True)
    bridges = state / "bridges"
    for name in bridges.read_text().split() if bridges.exists() else []:
        subprocess.run(["ip", "link", "delete", name], capture_output=True)


def dnsmasq_pid(data_dir: Path, network_id: str) -> int | None:
    try:
        return int((data_dir / "network" / "dhcp" / network_id / "pid").read_text())
    except (OSError, ValueError):
        return None


def wait_for(check, timeout: float, what: str, interval: float = 1.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
