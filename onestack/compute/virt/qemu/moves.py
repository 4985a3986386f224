"""Rescue and resize of a QEMU guest on its host, all in the instance's directory.

Rescue: the guest boots a fresh overlay of the rescue image (``disk.rescue``) as its first
disk with its own disk second, until unrescue throws the overlay away. Resize: the guest's
disk and description are copied to ``resize/`` (what a revert restores, what a confirm
deletes), the disk grown to the new flavor and the guest started with its new CPUs and memory.
Both are files, so an agent restarted midway finds the state again, as for any guest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson

from onestack.compute.virt.driver import GuestSpec, VirtError
from onestack.compute.virt.qemu import images

if TYPE_CHECKING:
    from onestack.compute.virt.qemu.driver import Paths, QemuDriver


def root_disks(p: Paths, fmt: str) -> list[str]:
    """The ``-drive`` arguments of the boot disk(s): the rescue disk first while rescued."""
    own = ["-drive", f"file={p.disk},if=virtio,format={fmt},discard=unmap"]
    rescue = p.dir / "disk.rescue"
    if rescue.exists():
        return ["-drive", f"file={rescue},if=virtio,format=qcow2,discard=unmap", *own]
    return own


async def rescue(drv: QemuDriver, uuid: str, image_ref: str | None) -> None:
    """Stop the guest (ACPI, then hard) and boot the rescue image (default: its own image)
    with the guest's disk attached second; the kernel and ramdisk stay the guest's."""
    from onestack.compute.virt.qemu.driver import _run

    spec = drv._spec(uuid)
    p = drv._paths(uuid)
    if drv.fetch_image is None:
        raise VirtError("the QEMU driver has no way to fetch images")
    await drv.power_off(uuid)
    target = p.dir / "disk.rescue"
    if not target.exists():
        base, fmt = await images.cached(
            drv.root / "_base", image_ref or spec.image_ref, drv.fetch_image
        )
        part = f"{target}.part"
        await _run("qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", fmt, part)
        os.replace(part, target)
    await drv._launch(spec)


async def unrescue(drv: QemuDriver, uuid: str) -> None:
    """The rescue guest stopped hard, its disk thrown away, the guest booted from its own."""
    spec = drv._spec(uuid)
    p = drv._paths(uuid)
    await drv._kill(p)
    (p.dir / "disk.rescue").unlink(missing_ok=True)
    await drv._launch(spec)


async def finish_migration(drv: QemuDriver, guest: GuestSpec, power_on: bool) -> None:
    """Resize on this host: stop, keep the old disk and description, grow, start."""
    from onestack.compute.virt.qemu.driver import _run, _virtual_size

    p = drv._paths(guest.uuid)
    if not p.spec.exists():
        raise VirtError(
            "the QEMU driver resizes a guest on its own host only (cold migration to "
            "another host is not supported yet)"
        )
    await drv.power_off(guest.uuid)
    backup = p.dir / "resize"
    if not (backup / "guest.json").exists():  # a retried finish keeps the first backup
        shutil.rmtree(backup, ignore_errors=True)
        part = p.dir / "resize.part"
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        await _run("cp", "--reflink=auto", "--sparse=always", str(p.disk), str(part / "disk"))
        shutil.copy2(p.spec, part / "guest.json")
        os.replace(part, backup)
    fmt_file = p.dir / "disk.format"
    fmt = fmt_file.read_text().strip() if fmt_file.exists() else "qcow2"
    size = guest.root_gb * 1024**3
    if size > await asyncio.to_thread(_virtual_size, p.disk, fmt):
        await _run("qemu-img", "resize", "-q", "-f", fmt, str(p.disk), str(size))
    p.spec.write_bytes(orjson.dumps(asdict(guest)))
    if power_on:
        await drv._launch(guest)


async def finish_revert_migration(drv: QemuDriver, guest: GuestSpec, power_on: bool) -> None:
    """Back to the old flavor: the resized guest stopped hard, the kept disk restored."""
    p = drv._paths(guest.uuid)
    if not p.dir.exists():
        raise VirtError(f"Instance {guest.uuid} could not be found on {drv.nodename}.")
    await drv._kill(p)
    backup = p.dir / "resize"
    if (backup / "disk").exists():
        os.replace(backup / "disk", p.disk)
    shutil.rmtree(backup, ignore_errors=True)
    p.spec.write_bytes(orjson.dumps(asdict(guest)))
    if power_on:
        await drv._launch(guest)


def confirm_migration(drv: QemuDriver, uuid: str) -> None:
    """The resize is kept: its backup goes."""
    shutil.rmtree(drv._paths(uuid).dir / "resize", ignore_errors=True)
