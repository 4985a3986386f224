"""The QEMU driver's consoles, rescue and resize as files and command lines (QEMU itself
is stood in for; qemu-img is real): the dataplane suite boots the real thing."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import orjson
import pytest

from onestack.compute.virt.driver import ConsoleUnavailable, GuestSpec, VirtError
from onestack.compute.virt.qemu import consoles, moves
from onestack.compute.virt.qemu.driver import Paths, QemuDriver, _virtual_size

GUEST = GuestSpec(uuid="6d1f0d7e-1c1a-4a7e-9a55-3b1d2e4f5a6b", name="g", vcpus=1,
                  memory_mb=256, root_gb=1, image_ref="img")


class Driver(QemuDriver):
    """QEMU's process stood in for: launches and stops are recorded."""

    def __init__(self, root: Path):
        super().__init__("h", root)
        self.calls: list[str] = []

    async def _launch(self, guest: GuestSpec, incoming: bool = False) -> None:
        self.calls.append(f"launch {guest.memory_mb}")

    async def power_off(self, uuid: str) -> None:
        self.calls.append("power_off")

    async def _kill(self, p: Paths) -> None:
        self.calls.append("kill")


def _guest(root: Path) -> tuple[Driver, Paths]:
    drv = Driver(root)
    p = drv._paths(GUEST.uuid)
    p.dir.mkdir(parents=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(p.disk), "1G"], check=True)
    (p.dir / "disk.format").write_text("qcow2")
    p.spec.write_bytes(orjson.dumps(asdict(GUEST)))
    return drv, p


def test_command_line_has_vnc_on_a_socket_and_the_rescue_disk_first(tmp_path: Path) -> None:
    drv, p = _guest(tmp_path)
    cmd = drv.command(GUEST, p)
    assert cmd[cmd.index("-vnc") + 1] == f"unix:{p.sockets / 'vnc.sock'}"
    assert "VGA" in cmd and not any(":59" in arg for arg in cmd)  # no TCP VNC port
    drives = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-drive"]
    assert drives[0].startswith(f"file={p.disk},")
    (p.dir / "disk.rescue").write_bytes(b"")
    cmd = drv.command(GUEST, p)
    drives = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-drive"]
    assert drives[0].startswith(f"file={p.dir / 'disk.rescue'},")
    assert drives[1].startswith(f"file={p.disk},")


def test_console_info_is_the_guest_socket(tmp_path: Path) -> None:
    p = Paths(tmp_path, GUEST.uuid)
    with pytest.raises(ConsoleUnavailable):
        consoles.info(p, "spice")
    with pytest.raises(VirtError, match="not listening"):
        consoles.info(p, "vnc")
    p.sockets.mkdir(exist_ok=True)
    try:
        consoles.vnc_socket(p).write_bytes(b"")
        p.serial.write_bytes(b"")
        vnc, serial = consoles.info(p, "vnc"), consoles.info(p, "serial")
        assert (vnc.port, vnc.internal_access_path) == (0, str(consoles.vnc_socket(p)))
        assert serial.internal_access_path == str(p.serial)
    finally:
        for sock in (consoles.vnc_socket(p), p.serial):
            sock.unlink(missing_ok=True)
        p.sockets.rmdir()


async def test_resize_keeps_a_backup_revert_restores_it_confirm_drops_it(tmp_path: Path) -> None:
    drv, p = _guest(tmp_path)
    bigger = replace(GUEST, vcpus=2, memory_mb=768, root_gb=2)
    await moves.finish_migration(drv, bigger, power_on=True)
    assert drv.calls == ["power_off", "launch 768"]
    assert _virtual_size(p.disk, "qcow2") == 2 * 1024**3
    assert _virtual_size(p.dir / "resize" / "disk", "qcow2") == 1024**3
    assert drv._spec(GUEST.uuid).memory_mb == 768
    await moves.finish_migration(drv, bigger, power_on=False)  # a retry keeps the first backup
    assert _virtual_size(p.dir / "resize" / "disk", "qcow2") == 1024**3
    await moves.finish_revert_migration(drv, GUEST, power_on=True)
    assert _virtual_size(p.disk, "qcow2") == 1024**3 and not (p.dir / "resize").exists()
    assert drv._spec(GUEST.uuid).memory_mb == 256 and drv.calls[-2:] == ["kill", "launch 256"]
    await moves.finish_migration(drv, bigger, power_on=False)
    moves.confirm_migration(drv, GUEST.uuid)
    assert _virtual_size(p.disk, "qcow2") == 2 * 1024**3 and not (p.dir / "resize").exists()


async def test_resize_elsewhere_is_a_clear_fault(tmp_path: Path) -> None:
    with pytest.raises(VirtError, match="own host"):
        await moves.finish_migration(Driver(tmp_path), GUEST, power_on=True)
