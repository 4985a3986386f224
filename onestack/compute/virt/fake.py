"""The fake virt driver: guests are entries in memory, operations take ``delay`` seconds.

One process can run thousands of these (``onestack agent compute --fake --hosts 1000``), each
a host of its own. ``fail_spawn`` makes every build on the host fail (to test rescheduling).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from onestack.compute.virt import driver
from onestack.compute.virt.driver import (
    ConsoleInfo,
    GuestInfo,
    GuestSpec,
    HostResources,
    VirtError,
)

FAKE_CONSOLE_PORTS = {"vnc": 5900, "spice": 5901, "rdp": 3389, "serial": 10000, "mks": 8902}


@dataclass
class _LiveMigration:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    aborted: bool = False


@dataclass
class _Guest:
    spec: GuestSpec
    power_state: int = driver.RUNNING
    rescued: bool = False
    console: list[str] = field(default_factory=list)
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeDriver(driver.VirtDriver):
    def __init__(
        self,
        nodename: str,
        *,
        vcpus: int = 16,
        memory_mb: int = 32768,
        local_gb: int = 1000,
        delay: float = 0.0,
        fail_spawn: bool = False,
        migration_time: float = 0.0,
    ):
        super().__init__(nodename)
        self.vcpus, self.memory_mb, self.local_gb = vcpus, memory_mb, local_gb
        self.delay = delay
        self.fail_spawn = fail_spawn
        #: seconds a live migration to this host runs (long enough to abort or force it)
        self.migration_time = migration_time
        self.guests: dict[str, _Guest] = {}
        self._migrations: dict[str, _LiveMigration] = {}

    async def _work(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)

    def _guest(self, uuid: str) -> _Guest:
        guest = self.guests.get(uuid)
        if guest is None:
            raise VirtError(f"Instance {uuid} could not be found on {self.nodename}.")
        return guest

    def host_resources(self) -> HostResources:
        return HostResources(
            vcpus=self.vcpus,
            memory_mb=self.memory_mb,
            local_gb=self.local_gb,
            hypervisor_type="fake",
            hypervisor_version=1000,
            hypervisor_hostname=self.nodename,
            cpu_info={
                "arch": "x86_64",
                "model": "fake",
                "vendor": "onestack",
                "topology": {"sockets": 1, "cores": self.vcpus, "threads": 1},
            },
            traits=("COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_VOLUME_ATTACH"),
        )

    async def list_instances(self) -> list[str]:
        return list(self.guests)

    async def get_info(self, uuid: str) -> GuestInfo:
        guest = self._guest(uuid)
        return GuestInfo(guest.power_state, guest.spec.vcpus, guest.spec.memory_mb)

    async def spawn(self, guest: GuestSpec) -> None:
        await self._work()
        if self.fail_spawn:
            raise VirtError(f"The fake host {self.nodename} is set to fail every build.")
        if guest.uuid not in self.guests:
            self.guests[guest.uuid] = _Guest(
                guest,
                console=[f"{guest.name} login: "],
                interfaces={str(p["id"]): dict(p) for p in guest.network_info},
                volumes={str(b["device"]): dict(b["connection_info"]) for b in guest.block_devices},
            )

    async def destroy(self, uuid: str) -> None:
        await self._work()
        self.guests.pop(uuid, None)

    async def _set(self, uuid: str, state: int) -> None:
        await self._work()
        self._guest(uuid).power_state = state

    async def reboot(self, uuid: str, hard: bool) -> None:
        await self._set(uuid, driver.RUNNING)
        self._guest(uuid).console.append("reboot: Restarting system")

    async def power_off(self, uuid: str) -> None:
        await self._set(uuid, driver.SHUTDOWN)

    async def power_on(self, uuid: str) -> None:
        await self._set(uuid, driver.RUNNING)

    async def pause(self, uuid: str) -> None:
        await self._set(uuid, driver.PAUSED)

    async def unpause(self, uuid: str) -> None:
        await self._set(uuid, driver.RUNNING)

    async def suspend(self, uuid: str) -> None:
        await self._set(uuid, driver.SUSPENDED)

    async def resume(self, uuid: str) -> None:
        await self._set(uuid, driver.RUNNING)

    async def rescue(self, uuid: str, rescue_image_ref: str | None) -> None:
        await self._set(uuid, driver.RUNNING)
        self._guest(uuid).rescued = True

    async def unrescue(self, uuid: str) -> None:
        await self._set(uuid, driver.RUNNING)
        self._guest(uuid).rescued = False

    async def snapshot(self, uuid: str) -> bytes:
        await self._work()
        return f"fake disk of {self._guest(uuid).spec.name}\n".encode()

    async def migrate_disk_and_power_off(self, uuid: str, dest_host: str, guest: GuestSpec) -> None:
        await self._set(uuid, driver.SHUTDOWN)

    async def finish_migration(self, guest: GuestSpec, power_on: bool) -> None:
        await self._work()
        state = driver.RUNNING if power_on else driver.SHUTDOWN
        old = self.guests.get(guest.uuid)
        self.guests[guest.uuid] = _Guest(guest, state, console=old.console if old else [])

    async def finish_revert_migration(self, guest: GuestSpec, power_on: bool) -> None:
        await self.finish_migration(guest, power_on)

    async def live_migration(self, guest: GuestSpec) -> bool:
        """Runs ``migration_time`` s unless aborted or forced (an abort may come first)."""
        state = self._migrations.setdefault(guest.uuid, _LiveMigration())
        try:
            if not state.done.is_set() and self.migration_time:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.done.wait(), self.migration_time)
            return not state.aborted
        finally:
            self._migrations.pop(guest.uuid, None)

    async def live_migration_abort(self, uuid: str) -> None:
        state = self._migrations.setdefault(uuid, _LiveMigration())
        state.aborted = True
        state.done.set()

    async def live_migration_force_complete(self, uuid: str) -> None:
        state = self._migrations.get(uuid)
        if state is not None:
            state.done.set()

    async def get_console_output(self, uuid: str) -> str:
        return "\n".join(self._guest(uuid).console) + "\n"

    async def get_console(self, uuid: str, console_type: str) -> ConsoleInfo:
        """Fake connection info, as Nova's fake driver gives (nothing listens there)."""
        self._guest(uuid)
        port = FAKE_CONSOLE_PORTS.get(console_type)
        if port is None:
            return await super().get_console(uuid, console_type)
        path = "/fake-webmks" if console_type == "mks" else None
        return ConsoleInfo("127.0.0.1", port, path)

    async def set_admin_password(self, uuid: str, password: str) -> None:
        self._guest(uuid)

    async def attach_interface(self, uuid: str, port: dict[str, Any]) -> None:
        self._guest(uuid).interfaces[str(port["id"])] = port

    async def detach_interface(self, uuid: str, port_id: str) -> None:
        self._guest(uuid).interfaces.pop(port_id, None)

    async def attach_volume(self, uuid: str, connection_info: dict[str, Any], device: str) -> None:
        self._guest(uuid).volumes[device] = connection_info

    async def detach_volume(self, uuid: str, connection_info: dict[str, Any], device: str) -> None:
        self._guest(uuid).volumes.pop(device, None)

    async def inject_nmi(self, uuid: str) -> None:
        self._guest(uuid).console.append("Kernel panic - not syncing: NMI: Not continuing")

    def adopt(self, guest: GuestSpec, power_state: int) -> None:
        """Take back a guest the database records after the agent restarted (a fake host
        keeps its guests in memory only)."""
        if guest.uuid not in self.guests:
            self.guests[guest.uuid] = _Guest(guest, power_state)
