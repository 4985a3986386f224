"""KVM or TCG: KVM only where a guest really boots under it.

``/dev/kvm`` opening, or even KVM_CREATE_VM succeeding, proves nothing (a PVM-only host runs
no stock guest kernel), so the verdict comes from booting a probe guest (the tiny image's
kernel and initramfs) once per host kernel, cached in ``INSTANCES/kvm-probe.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import signal
import tempfile
from pathlib import Path

import orjson

LOG = logging.getLogger(__name__)
MARKER = b"onestack-tiny: init started"
PROBE_TIMEOUT = 30.0


def cached_verdict(root: Path) -> str | None:
    try:
        saved = orjson.loads((root / "kvm-probe.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return str(saved["accel"]) if saved.get("kernel") == platform.release() else None


def kvm_openable() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


async def probe(kernel: Path, ramdisk: Path, timeout: float = PROBE_TIMEOUT) -> bool:
    """Does the probe guest reach its /init under KVM within ``timeout`` s?"""
    with tempfile.TemporaryDirectory(prefix="onestack-kvm-probe-") as tmp:
        log = Path(tmp) / "console.log"
        # ``timeout`` bounds the probe even if this process dies before its ``finally``
        proc = await asyncio.create_subprocess_exec(
            "timeout", "-s", "KILL", str(int(timeout) + 5),
            "qemu-system-x86_64", "-M", "pc", "-accel", "kvm", "-cpu", "host", "-m", "128",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", f"file:{log}",
            "-kernel", str(kernel), "-initrd", str(ramdisk), "-append", "console=ttyS0 quiet",
            "-no-reboot",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline and proc.returncode is None:
                with contextlib.suppress(FileNotFoundError):
                    if MARKER in log.read_bytes():
                        return True
                await asyncio.sleep(0.2)
            return False
        finally:
            if proc.returncode is None:  # its own session: the group holds timeout and QEMU
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def choose(mode: str, root: Path, kernel: Path | None, ramdisk: Path | None) -> str:
    """``kvm`` or ``tcg`` for ``mode`` (``kvm``, ``tcg`` or ``auto``: the cached probe)."""
    if mode in ("kvm", "tcg"):
        return mode
    verdict = cached_verdict(root)
    if verdict:
        return verdict
    if not kvm_openable() or kernel is None or ramdisk is None:
        return "tcg"  # nothing cached: a later start with a probe kernel decides
    usable = await probe(kernel, ramdisk)
    verdict = "kvm" if usable else "tcg"
    LOG.info("KVM probe on kernel %s: %s", platform.release(), verdict)
    (root / "kvm-probe.json").write_bytes(
        orjson.dumps({"kernel": platform.release(), "accel": verdict})
    )
    return verdict
