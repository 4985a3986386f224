"""Virt drivers: the only code that touches a hypervisor. ``fake`` simulates hosts."""

from __future__ import annotations

from typing import Any


def virt_driver_of(conf: Any) -> str:
    """``qemu`` or ``fake``: ``auto`` is qemu where qemu-system-x86_64 is installed (a lookup
    on PATH only: the driver itself, and its KVM probe, load with the compute agent)."""
    if conf.virt_driver != "auto":
        return str(conf.virt_driver)
    import shutil

    return "qemu" if shutil.which("qemu-system-x86_64") else "fake"
