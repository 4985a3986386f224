"""Volumes of QEMU guests: the root disk of a guest booted from a volume, volumes given at
boot (``-blockdev`` + ``-device virtio-blk-pci``) and hot-plug through QMP (``blockdev-add`` +
``device_add``; detach: ``device_del``, wait until the guest let the device go, then
``blockdev-del``).

Only local connections are understood: Block Storage's file backend answers
``{"driver_volume_type": "file", "data": {"path", "format", "access_mode"}}``, the file on
this host. The guest sees each volume's id (its first 20 characters) as the disk's serial
(``/sys/block/vdX/serial``, ``/dev/disk/by-id/virtio-<serial>``).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

import orjson

from onestack.compute.virt.driver import GuestSpec, VirtError
from onestack.compute.virt.qemu import qmp

if TYPE_CHECKING:
    from onestack.compute.virt.qemu.driver import Paths

LOCAL_TYPES = ("file", "local")
DETACH_TIMEOUT = 30.0


def _local(connection_info: dict[str, Any]) -> tuple[str, str, bool]:
    """(path, format, read only) of a volume on this host; VirtError for anything else."""
    kind = connection_info.get("driver_volume_type")
    data = connection_info.get("data") or {}
    if kind not in LOCAL_TYPES or not data.get("path"):
        raise VirtError(f"the QEMU driver cannot connect volumes of type {kind!r}")
    fmt = str(data.get("format") or "raw")
    if fmt not in ("raw", "qcow2"):
        raise VirtError(f"the QEMU driver cannot use volumes in format {fmt!r}")
    return str(data["path"]), fmt, data.get("access_mode") == "ro"


def _ids(volume_id: str) -> tuple[str, str]:
    """(block node name, qdev id) of a volume: QEMU ids start with a letter, nodes < 32."""
    flat = volume_id.replace("-", "")
    return f"vol{flat[:28]}", f"disk-{volume_id}"


def _blockdev(volume_id: str, connection_info: dict[str, Any]) -> dict[str, Any]:
    path, fmt, read_only = _local(connection_info)
    node, _ = _ids(volume_id)
    return {
        "node-name": node,
        "driver": fmt,
        "read-only": read_only,
        "discard": "unmap",
        "file": {"driver": "file", "filename": path, "read-only": read_only},
    }


def _device(volume_id: str) -> dict[str, Any]:
    node, dev = _ids(volume_id)
    return {"driver": "virtio-blk-pci", "id": dev, "drive": node, "serial": volume_id[:20]}


def root_of(guest: GuestSpec) -> dict[str, Any] | None:
    return next((b for b in guest.block_devices if b.get("boot_index") == 0), None)


def use_root_volume(p: Paths, root: dict[str, Any]) -> None:
    """The guest's disk is the volume's file itself (no overlay, no copy)."""
    path, fmt, _ = _local(root["connection_info"])
    p.disk.unlink(missing_ok=True)
    os.symlink(path, p.disk)
    (p.dir / "disk.format").write_text(fmt)


def launch_args(guest: GuestSpec) -> list[str]:
    """The command line of the volumes (but the root) a guest starts with."""
    args: list[str] = []
    for bdm in guest.block_devices:
        if bdm.get("boot_index") == 0:
            continue
        volume_id = str(bdm["volume_id"])
        device = ",".join(f"{k}={v}" for k, v in _device(volume_id).items())
        args += ["-blockdev", orjson.dumps(_blockdev(volume_id, bdm["connection_info"])).decode()]
        args += ["-device", device]
    return args


def _remember(p: Paths, volume_id: str, entry: dict[str, Any] | None) -> None:
    """Keep guest.json's volumes current, so a restarted guest comes back with them."""
    if not p.spec.exists():
        return
    spec = orjson.loads(p.spec.read_bytes())
    devices = [b for b in spec.get("block_devices") or [] if b.get("volume_id") != volume_id]
    if entry is not None:
        devices.append(entry)
    spec["block_devices"] = devices
    p.spec.write_bytes(orjson.dumps(spec))


async def _attached(p: Paths, dev: str) -> bool:
    blocks = await qmp.execute(p.qmp, "query-block")
    return any(dev in str(b.get("qdev", "")) for b in blocks or [])


async def attach(p: Paths, connection_info: dict[str, Any], device: str, running: bool) -> None:
    """Hot-plug the volume into the running guest (idempotent); a guest that is off gets it
    when it starts."""
    volume_id = str((connection_info.get("data") or {}).get("volume_id") or "")
    if not volume_id:
        raise VirtError("the connection info names no volume")
    _local(connection_info)
    node, dev = _ids(volume_id)
    if running and not await _attached(p, dev):
        nodes = await qmp.execute(p.qmp, "query-named-block-nodes")
        if not any(n.get("node-name") == node for n in nodes or []):
            await qmp.execute(p.qmp, "blockdev-add", _blockdev(volume_id, connection_info))
        try:
            await qmp.execute(p.qmp, "device_add", _device(volume_id))
        except VirtError:
            await qmp.execute(p.qmp, "blockdev-del", {"node-name": node})
            raise
    entry = {
        "volume_id": volume_id,
        "device": device,
        "boot_index": None,
        "connection_info": connection_info,
    }
    _remember(p, volume_id, entry)


async def detach(
    p: Paths, connection_info: dict[str, Any], running: bool, timeout: float = DETACH_TIMEOUT
) -> None:
    """Unplug the volume: the guest must release the device before its node goes."""
    volume_id = str((connection_info.get("data") or {}).get("volume_id") or "")
    node, dev = _ids(volume_id)
    if not running:
        _remember(p, volume_id, None)
        return
    if await _attached(p, dev):
        try:
            await qmp.execute(p.qmp, "device_del", {"id": dev})
        except VirtError as exc:
            if "not found" not in str(exc).lower():
                raise
        deadline = time.monotonic() + timeout
        while await _attached(p, dev):  # DEVICE_DELETED: the device is gone from query-block
            if time.monotonic() > deadline:
                raise VirtError(f"the guest did not release volume {volume_id} in {timeout:.0f} s")
            await asyncio.sleep(0.2)
    nodes = await qmp.execute(p.qmp, "query-named-block-nodes")
    if any(n.get("node-name") == node for n in nodes or []):
        await qmp.execute(p.qmp, "blockdev-del", {"node-name": node})
    _remember(p, volume_id, None)
