"""The QEMU driver: one QEMU process per instance, started daemonized (its own session,
pidfile, QMP socket, serial log in ``INSTANCES/UUID/``), so guests outlive the agent and a
restarted agent finds them again from the files alone.

A stopped guest is its directory without a process; a suspended one also has ``state.bin``
(its memory, written by a migration to a file; the process is gone and its memory freed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from onestack.compute.virt import driver as virt
from onestack.compute.virt.driver import GuestInfo, GuestSpec, HostResources, VirtError
from onestack.compute.virt.qemu import accel, consoles, host, images, moves, qmp, vifs
from onestack.compute.virt.qemu import volumes as qvolumes

LOG = logging.getLogger(__name__)
QEMU = "qemu-system-x86_64"
KERNEL_ARGS = "console=ttyS0 quiet panic=-1"
STATES = {"running": virt.RUNNING, "paused": virt.PAUSED, "shutdown": virt.SHUTDOWN}


class Paths:
    """The files of one instance."""

    def __init__(self, root: Path, uuid: str):
        self.dir = root / uuid
        self.spec = self.dir / "guest.json"
        self.disk = self.dir / "disk"
        self.config = self.dir / "disk.config"
        self.pid = self.dir / "qemu.pid"
        # UNIX socket paths must stay under 108 bytes: the sockets live in a short directory
        # named after the instance's (the same on every start of the agent)
        digest = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:16]
        self.sockets = Path(tempfile.gettempdir()) / f"onestack-qemu-{digest}"
        self.qmp = self.sockets / "qmp.sock"
        self.serial = self.sockets / "serial.sock"
        self.console = self.dir / "console.log"
        self.state = self.dir / "state.bin"
        self.kernel = self.dir / "kernel"
        self.ramdisk = self.dir / "ramdisk"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child) counts as gone
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


class QemuDriver(virt.VirtDriver):
    snapshot_format = "qcow2"

    def __init__(
        self,
        nodename: str,
        instances_path: Path,
        *,
        fetch_image: images.Fetch | None = None,
        accel_mode: str = "auto",
        shutdown_timeout: float = 60.0,
        force_config_drive: bool = False,
        probe_image: tuple[Path, Path] | None = None,
    ):
        super().__init__(nodename)
        self.root = instances_path
        self.fetch_image = fetch_image
        self.accel_mode = accel_mode
        self.shutdown_timeout = shutdown_timeout
        self.force_config_drive = force_config_drive
        self.probe_image = probe_image
        self.accel = "tcg"
        self._probe: asyncio.Task[None] | None = None

    # -- host ---------------------------------------------------------------------------
    async def init_host(self) -> None:
        """The instances directory; KVM or TCG (an uncached probe runs in the background,
        guests started meanwhile use TCG)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.accel_mode != "auto":
            self.accel = self.accel_mode
            return
        cached = accel.cached_verdict(self.root)
        if cached:
            self.accel = cached
        elif self._probe is None and self.probe_image and accel.kvm_openable():
            self._probe = asyncio.create_task(self._probe_kvm(), name="kvm-probe")

    async def _probe_kvm(self) -> None:
        kernel, ramdisk = self.probe_image or (None, None)
        self.accel = await accel.choose("auto", self.root, kernel, ramdisk)

    def host_resources(self) -> HostResources:
        return host.resources(self.nodename, self.root, self.accel)

    # -- helpers ------------------------------------------------------------------------
    def _paths(self, uuid: str) -> Paths:
        return Paths(self.root, uuid)

    def _spec(self, uuid: str) -> GuestSpec:
        p = self._paths(uuid)
        try:
            return GuestSpec(**orjson.loads(p.spec.read_bytes()))
        except FileNotFoundError:
            raise VirtError(f"Instance {uuid} could not be found on {self.nodename}.") from None

    def _pid(self, p: Paths) -> int | None:
        try:
            pid = int(p.pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    async def _wait_gone(self, pid: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while _alive(pid):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def command(self, guest: GuestSpec, p: Paths, incoming: bool = False) -> list[str]:
        """QEMU's command line for ``guest`` (no shell: every value is one argument)."""
        accel_args = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else ["-accel", "tcg"]
        fmt = (p.dir / "disk.format").read_text().strip() if p.disk.exists() else "qcow2"
        cmd = [
            QEMU,
            "-name", f"guest=instance-{guest.uuid},process=qemu-{guest.uuid}",
            "-uuid", guest.uuid,
            "-M", "pc",
            *accel_args,
            "-m", str(max(guest.memory_mb, 64)),
            "-smp", str(max(guest.vcpus, 1)),
            "-nodefaults", "-no-user-config",
            "-display", "none",
            *consoles.args(p),
            "-chardev",
            f"socket,id=serial0,path={p.serial},server=on,wait=off,logfile={p.console},logappend=on",
            "-serial", "chardev:serial0",
            "-qmp", f"unix:{p.qmp},server=on,wait=off",
            "-device", "virtio-rng-pci",
            *moves.root_disks(p, fmt),
            "-daemonize", "-pidfile", str(p.pid),
        ]  # fmt: skip
        if p.kernel.exists():
            cmd += ["-kernel", str(p.kernel), "-append", KERNEL_ARGS]
            if p.ramdisk.exists():
                cmd += ["-initrd", str(p.ramdisk)]
        if p.config.exists():
            cmd += ["-drive", f"file={p.config},if=virtio,format=raw,readonly=on"]
        for i, port in enumerate(guest.network_info):
            tap = vifs.devname(port)
            if not Path("/sys/class/net", tap).exists():
                LOG.warning("instance %s: no tap %s for port %s", guest.uuid, tap, port.get("id"))
                continue
            cmd += ["-netdev", f"tap,id=net{i},ifname={tap},script=no,downscript=no"]
            mac = port.get("mac_address")
            cmd += ["-device", f"virtio-net-pci,netdev=net{i}" + (f",mac={mac}" if mac else "")]
        cmd += qvolumes.launch_args(guest)
        if incoming:
            cmd += ["-incoming", "defer"]
        return cmd

    async def _launch(self, guest: GuestSpec, incoming: bool = False) -> None:
        p = self._paths(guest.uuid)
        p.sockets.mkdir(mode=0o700, exist_ok=True)
        for sock in (p.qmp, p.serial, consoles.vnc_socket(p)):
            sock.unlink(missing_ok=True)
        if guest.network_info:
            await asyncio.to_thread(vifs.plug, guest.network_info)
        log = p.dir / "qemu.log"
        # stderr to a file, not a pipe: the daemonized QEMU would hold a pipe open (uvloop
        # lets children inherit descriptors), and its parent's exit is what says "running"
        with log.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                *self.command(guest, p, incoming),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        if await proc.wait() != 0:
            text = log.read_bytes()[-500:].decode(errors="replace").strip()
            raise VirtError(f"QEMU failed to start: {text}")

    async def _prepare_disks(self, guest: GuestSpec) -> None:
        p = self._paths(guest.uuid)
        if self.fetch_image is None:
            raise VirtError("the QEMU driver has no way to fetch images")
        base_dir = self.root / "_base"
        props = guest.image_properties
        for key, target in (("kernel_id", p.kernel), ("ramdisk_id", p.ramdisk)):
            if props.get(key):
                src, _ = await images.cached(base_dir, str(props[key]), self.fetch_image)
                _link(src, target)
        if (root := qvolumes.root_of(guest)) is not None:  # booted from a volume
            qvolumes.use_root_volume(p, root)
            return
        base, fmt = await images.cached(base_dir, guest.image_ref, self.fetch_image)
        size = max(guest.root_gb * 1024**3, _virtual_size(base, fmt))
        await _run(
            "qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", fmt,
            str(p.disk) + ".part", str(size),
        )  # fmt: skip
        os.replace(str(p.disk) + ".part", p.disk)
        (p.dir / "disk.format").write_text("qcow2")

    # -- the interface ------------------------------------------------------------------
    async def list_instances(self) -> list[str]:
        if not self.root.exists():
            return []
        return [d.name for d in self.root.iterdir() if (d / "guest.json").exists()]

    async def get_info(self, uuid: str) -> GuestInfo:
        spec = self._spec(uuid)
        p = self._paths(uuid)
        pid = self._pid(p)
        if pid is None:
            state = virt.SUSPENDED if p.state.exists() else virt.SHUTDOWN
        else:
            try:
                status = (await qmp.execute(p.qmp, "query-status"))["status"]
            except VirtError:
                status = "running"  # QEMU is there but busy (another monitor client)
            state = STATES.get(status, virt.RUNNING if status == "running" else virt.PAUSED)
            if status in ("internal-error", "guest-panicked"):
                state = virt.CRASHED
        return GuestInfo(state, spec.vcpus, spec.memory_mb)

    async def spawn(self, guest: GuestSpec) -> None:
        p = self._paths(guest.uuid)
        if p.spec.exists() and self._pid(p):
            return
        p.dir.mkdir(parents=True, exist_ok=True)
        if not p.disk.exists():
            await self._prepare_disks(guest)
        if guest.config_drive or self.force_config_drive:
            from onestack.compute.virt.qemu import configdrive  # pycdlib, only when needed

            await asyncio.to_thread(configdrive.write, guest, p.config)
        p.spec.write_bytes(orjson.dumps(asdict(guest)))
        await self._launch(guest)

    async def destroy(self, uuid: str) -> None:
        p = self._paths(uuid)
        await self._kill(p)
        if p.spec.exists():
            await asyncio.to_thread(vifs.unplug, self._spec(uuid).network_info)
        await asyncio.to_thread(shutil.rmtree, p.dir, True)
        await asyncio.to_thread(shutil.rmtree, p.sockets, True)

    async def _kill(self, p: Paths) -> None:
        pid = self._pid(p)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not await self._wait_gone(pid, 5):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await self._wait_gone(pid, 5)
        p.pid.unlink(missing_ok=True)

    async def power_off(self, uuid: str) -> None:
        """The ACPI power button, then (after ``shutdown_timeout`` s) the plug."""
        self._spec(uuid)
        p = self._paths(uuid)
        pid = self._pid(p)
        if pid is None:
            return
        with contextlib.suppress(VirtError):
            await qmp.execute(p.qmp, "system_powerdown")
            if await self._wait_gone(pid, self.shutdown_timeout):
                p.pid.unlink(missing_ok=True)
                return
            LOG.warning("instance %s ignored the ACPI power button; stopping it hard", uuid)
        await self._kill(p)

    async def power_on(self, uuid: str) -> None:
        spec = self._spec(uuid)
        p = self._paths(uuid)
        if self._pid(p) is None:
            if p.state.exists():
                await self.resume(uuid)
            else:
                await self._launch(spec)
        elif (await self.get_info(uuid)).power_state == virt.PAUSED:
            await qmp.execute(p.qmp, "cont")

    async def reboot(self, uuid: str, hard: bool) -> None:
        p = self._paths(uuid)
        if hard or self._pid(p) is None:
            await self._kill(p)
            p.state.unlink(missing_ok=True)
            await self._launch(self._spec(uuid))
            return
        await self.power_off(uuid)
        await self._launch(self._spec(uuid))

    async def pause(self, uuid: str) -> None:
        await self._running(uuid)
        await qmp.execute(self._paths(uuid).qmp, "stop")

    async def unpause(self, uuid: str) -> None:
        await self._running(uuid)
        await qmp.execute(self._paths(uuid).qmp, "cont")

    async def _running(self, uuid: str) -> int:
        self._spec(uuid)
        pid = self._pid(self._paths(uuid))
        if pid is None:
            raise VirtError(f"Instance {uuid} is not running.")
        return pid

    async def suspend(self, uuid: str) -> None:
        """Memory to ``state.bin`` (a migration to a file), then QEMU exits."""
        pid = await self._running(uuid)
        p = self._paths(uuid)
        await qmp.execute(p.qmp, "stop")
        tmp = p.state.with_suffix(".part")
        await qmp.execute(p.qmp, "migrate", {"uri": f"exec:cat > {tmp}"})
        await self._wait_migration(p)
        tmp.replace(p.state)
        await qmp.execute(p.qmp, "quit")
        await self._wait_gone(pid, 10)
        p.pid.unlink(missing_ok=True)

    async def _wait_migration(self, p: Paths, timeout: float = 300) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            info = await qmp.execute(p.qmp, "query-migrate")
            status = info.get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled") or loop.time() > deadline:
                raise VirtError(f"saving the guest's state {status}: {info.get('error-desc', '')}")
            await asyncio.sleep(0.05)

    async def resume(self, uuid: str) -> None:
        spec = self._spec(uuid)
        p = self._paths(uuid)
        if self._pid(p) is not None:
            await qmp.execute(p.qmp, "cont")
            return
        if not p.state.exists():
            raise VirtError(f"Instance {uuid} has no saved state to resume.")
        await self._launch(spec, incoming=True)
        await qmp.execute(p.qmp, "migrate-incoming", {"uri": f"exec:cat {p.state}"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 300
        while (await qmp.execute(p.qmp, "query-status"))["status"] == "inmigrate":
            if loop.time() > deadline:
                raise VirtError("loading the guest's saved state timed out")
            await asyncio.sleep(0.05)
        await qmp.execute(p.qmp, "cont")
        p.state.unlink(missing_ok=True)

    async def snapshot(self, uuid: str) -> bytes:
        """The disk as one qcow2 (base and overlay merged); the guest paused meanwhile."""
        self._spec(uuid)
        p = self._paths(uuid)
        out = p.dir / "snapshot.qcow2"
        running = self._pid(p) is not None
        was_running = running and (await self.get_info(uuid)).power_state == virt.RUNNING
        if was_running:
            await qmp.execute(p.qmp, "stop")
        try:
            await _run("qemu-img", "convert", "-U", "-O", "qcow2", str(p.disk), str(out))
        finally:
            if was_running:
                await qmp.execute(p.qmp, "cont")
        try:
            return await asyncio.to_thread(out.read_bytes)
        finally:
            out.unlink(missing_ok=True)

    async def get_console_output(self, uuid: str) -> str:
        self._spec(uuid)
        try:
            data = self._paths(uuid).console.read_bytes()
        except FileNotFoundError:
            return ""
        return data[-1024 * 1024 :].decode(errors="replace").replace("\r\n", "\n")

    async def get_console(self, uuid: str, console_type: str) -> virt.ConsoleInfo:
        await self._running(uuid)
        return consoles.info(self._paths(uuid), console_type)

    async def inject_nmi(self, uuid: str) -> None:
        await self._running(uuid)
        await qmp.execute(self._paths(uuid).qmp, "inject-nmi")

    async def prune_images(self, max_age: float) -> list[str]:
        """Remove the cached bases no instance here uses (older than ``max_age`` s)."""
        in_use: set[str] = set()
        for uuid in await self.list_instances():
            with contextlib.suppress(VirtError):
                spec = self._spec(uuid)
                in_use.add(spec.image_ref)
                in_use.update(
                    str(spec.image_properties[k])
                    for k in ("kernel_id", "ramdisk_id")
                    if spec.image_properties.get(k)
                )
        return await asyncio.to_thread(images.prune, self.root / "_base", in_use, max_age)

    def adopt(self, guest: GuestSpec, power_state: int) -> None:
        """Nothing to load: a guest is its directory and its process."""

    # -- rescue and resize (moves.py) --------------------------------------------------------
    async def rescue(self, uuid: str, rescue_image_ref: str | None) -> None:
        await moves.rescue(self, uuid, rescue_image_ref)

    async def unrescue(self, uuid: str) -> None:
        await moves.unrescue(self, uuid)

    async def migrate_disk_and_power_off(self, uuid: str, dest_host: str, guest: GuestSpec) -> None:
        await self.power_off(uuid)

    async def finish_migration(self, guest: GuestSpec, power_on: bool) -> None:
        await moves.finish_migration(self, guest, power_on)

    async def finish_revert_migration(self, guest: GuestSpec, power_on: bool) -> None:
        await moves.finish_revert_migration(self, guest, power_on)

    async def confirm_migration(self, uuid: str) -> None:
        moves.confirm_migration(self, uuid)

    # -- not yet on this driver (each a clear fault, never a half-done change) ------------
    async def set_admin_password(self, uuid: str, password: str) -> None:
        raise VirtError("the QEMU driver has no guest agent to set a password with")

    async def attach_interface(self, uuid: str, port: dict[str, Any]) -> None:
        raise VirtError("interface hot-plug is not supported by the QEMU driver yet")

    async def detach_interface(self, uuid: str, port_id: str) -> None:
        raise VirtError("interface hot-plug is not supported by the QEMU driver yet")

    async def attach_volume(self, uuid: str, connection_info: dict[str, Any], device: str) -> None:
        p = self._paths(uuid)
        if not p.spec.exists():
            raise VirtError(f"instance {uuid} is not on this host")
        await qvolumes.attach(p, connection_info, device, self._pid(p) is not None)

    async def detach_volume(self, uuid: str, connection_info: dict[str, Any], device: str) -> None:
        p = self._paths(uuid)
        if p.spec.exists():
            await qvolumes.detach(p, connection_info, self._pid(p) is not None)


def _link(src: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(src, target)
    except OSError:
        shutil.copyfile(src, target)


def _virtual_size(path: Path, fmt: str) -> int:
    done = subprocess.run(
        ["qemu-img", "info", "--output=json", "-f", fmt, str(path)],
        capture_output=True,
        check=True,
    )
    return int(orjson.loads(done.stdout)["virtual-size"])


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise VirtError(f"{args[0]} {args[1]} failed: {err.decode(errors='replace').strip()}")
