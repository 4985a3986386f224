"""Boot time of onestack-tiny: raw QEMU against ``openstack server create --wait``.

Raw QEMU boots the same kernel, initramfs, overlay and config drive with the command line
the QEMU driver uses; onestack is timed to ACTIVE (the CLI returns) and to the guest's boot
marker in its serial log. Runs alternate, ``--runs`` each, under ``flock /tmp/bench.lock``.

    .venv/bin/python bench/qemu_boot.py --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from onestack.compute.guest import registry, tiny
from onestack.compute.virt.driver import GuestSpec
from onestack.compute.virt.qemu import configdrive
from onestack.compute.virt.qemu.driver import Paths, QemuDriver

BIN = Path(sys.executable).parent
MARKER = b"=== onestack-tiny: boot finished"


def wait_marker(log: Path, start: float, timeout: float = 300) -> float:
    while time.monotonic() - start < timeout:
        if log.exists() and MARKER in log.read_bytes():
            return time.monotonic() - start
        time.sleep(0.02)
    raise TimeoutError(f"no boot marker in {log}")


def raw_boot(image: tiny.TinyImage, work: Path) -> float:
    uuid = f"00000000-0000-4000-8000-{os.getpid():012d}"
    p = Paths(work, uuid)
    shutil.rmtree(p.dir, ignore_errors=True)
    p.dir.mkdir(parents=True)
    guest = GuestSpec(uuid=uuid, name="raw", vcpus=1, memory_mb=512, root_gb=1, config_drive=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.disk), "-F",
                    "qcow2", str(p.disk), "1G"], check=True)  # fmt: skip
    (p.dir / "disk.format").write_text("qcow2")
    os.link(image.kernel, p.kernel)
    os.link(image.ramdisk, p.ramdisk)
    configdrive.write(guest, p.config)
    start = time.monotonic()
    subprocess.run(QemuDriver("bench", work).command(guest, p), check=True)
    took = wait_marker(p.console, start)
    os.kill(int(p.pid.read_text()), 9)
    return took


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def onestack_boot(data: Path, env: dict[str, str], name: str) -> tuple[float, float]:
    start = time.monotonic()
    subprocess.run(
        [str(BIN / "openstack"), "--os-cloud", "onestack", "server", "create", "--image",
         "onestack-tiny", "--flavor", "m1.tiny", "--nic", "none", "--config-drive", "true",
         "--wait", name],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    active = time.monotonic() - start
    logs = [p.parent / "console.log" for p in (data / "instances").glob("*/guest.json")]
    marker = wait_marker(max(logs, key=lambda p: p.parent.stat().st_mtime), start)
    subprocess.run([str(BIN / "openstack"), "--os-cloud", "onestack", "server", "delete",
                    "--wait", name], check=True, env=env, capture_output=True)  # fmt: skip
    return active, marker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    image = tiny.build(registry.cache_dir())
    with open("/tmp/bench.lock", "w") as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = Path(tmp) / "data"
        port = free_port()
        env = {**os.environ, "ONESTACK_COMPUTE__VIRT_DRIVER": "qemu"}
        cloud = subprocess.Popen(
            [str(BIN / "onestack"), "up", "--data-dir", str(data), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        env["OS_CLIENT_CONFIG_FILE"] = str(data / "clouds.yaml")
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                out = subprocess.run(
                    [str(BIN / "openstack"), "--os-cloud", "onestack", "image", "list",
                     "--name", "onestack-tiny", "--status", "active", "-f", "value"],
                    env=env, capture_output=True, text=True,
                )  # fmt: skip
                if out.stdout.strip():
                    break
                time.sleep(1)
            raw, active, marker = [], [], []
            for run in range(args.runs):
                print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
                raw.append(raw_boot(image, Path(tmp) / "raw"))
                a, m = onestack_boot(data, env, f"bench-{run}")
                active.append(a)
                marker.append(m)
                print(f"run {run}: raw {raw[-1]:.2f} s, onestack ACTIVE {a:.2f} s, "
                      f"marker {m:.2f} s", flush=True)  # fmt: skip
            r, a, m = (statistics.median(x) for x in (raw, active, marker))
            print(f"median: raw QEMU to marker {r:.2f} s; onestack to ACTIVE {a:.2f} s "
                  f"({a - r:+.2f} s), to marker {m:.2f} s ({m - r:+.2f} s, x{m / r:.2f})")
        finally:
            cloud.terminate()
            cloud.wait(30)
            for pid in Path(tmp).glob("**/qemu.pid"):
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid.read_text()), 9)


if __name__ == "__main__":
    main()
