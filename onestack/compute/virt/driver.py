"""The virt driver interface every hypervisor driver implements (QEMU/KVM, fake).

The compute agent calls these with plain descriptions of the instance (:class:`GuestSpec`)
and never touches the hypervisor itself. Every call is idempotent: spawning a guest that
exists, destroying one that is gone or powering off one that is off succeeds, so the agent's
reconcile loop can retry any of them safely.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

# Nova's power states (nova.compute.power_state)
NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED = 7


class VirtError(Exception):
    """The hypervisor could not do what was asked; the agent records a fault."""


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """What a driver needs to build or change one guest."""

    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image_ref: str = ""
    image_properties: dict[str, Any] = field(default_factory=dict)
    key_data: str | None = None
    user_data: str | None = None
    admin_password: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    config_drive: bool = False
    #: The guest's ports (Compute's network info cache): each a dict with ``id``,
    #: ``mac_address``, ``devname`` (``tap`` + port id[:11]), ``network`` {id, name, mtu},
    #: ``fixed_ips`` [{ip_address, subnet_id, version, subnet {cidr, gateway_ip, ...}}],
    #: ``binding:vif_type`` and ``binding:vif_details``.
    network_info: tuple[dict[str, Any], ...] = ()
    project_id: str = ""
    key_name: str | None = None
    availability_zone: str = ""
    flavor_name: str = ""
    reservation_id: str = ""
    #: The guest's volumes, in boot order: each a dict with ``volume_id``, ``device``
    #: (``/dev/vdb``), ``boot_index`` (0 for the root disk, else None), ``connection_info``
    #: (Block Storage's ``{"driver_volume_type", "data": {"path", "format", ...}}``).
    block_devices: tuple[dict[str, Any], ...] = ()


class ConsoleUnavailable(VirtError):
    """The driver offers no console of the asked kind for this guest."""


@dataclass(frozen=True, slots=True)
class ConsoleInfo:
    """Where a guest's console listens on its host (what the console proxy connects to)."""

    host: str
    port: int
    internal_access_path: str | None = None


@dataclass(frozen=True, slots=True)
class GuestInfo:
    power_state: int
    vcpus: int
    memory_mb: int
    cpu_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class HostResources:
    """What a host offers, reported to Placement as inventory."""

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_hostname: str
    cpu_info: dict[str, Any] = field(default_factory=dict)
    traits: tuple[str, ...] = ()


class VirtDriver(abc.ABC):
    """One hypervisor host (``nodename``). A process may hold many (the fake driver)."""

    def __init__(self, nodename: str):
        self.nodename = nodename

    async def init_host(self) -> None:  # noqa: B027 - optional hook
        """Prepare the host (connect to the hypervisor, create directories)."""

    @abc.abstractmethod
    def host_resources(self) -> HostResources: ...

    @abc.abstractmethod
    async def list_instances(self) -> list[str]:
        """The uuids of the guests that exist on this host."""

    @abc.abstractmethod
    async def get_info(self, uuid: str) -> GuestInfo:
        """The guest's state; :class:`VirtError` if it does not exist."""

    @abc.abstractmethod
    async def spawn(self, guest: GuestSpec) -> None: ...

    @abc.abstractmethod
    async def destroy(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def reboot(self, uuid: str, hard: bool) -> None: ...

    @abc.abstractmethod
    async def power_off(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def power_on(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def pause(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def unpause(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def suspend(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def resume(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def rescue(self, uuid: str, rescue_image_ref: str | None) -> None: ...

    @abc.abstractmethod
    async def unrescue(self, uuid: str) -> None: ...

    @abc.abstractmethod
    async def snapshot(self, uuid: str) -> bytes:
        """The root disk's content (the agent uploads it to the Image service)."""

    @abc.abstractmethod
    async def migrate_disk_and_power_off(self, uuid: str, dest_host: str, guest: GuestSpec) -> None:
        """First half of a resize or cold migration: stop the guest, move its disk."""

    @abc.abstractmethod
    async def finish_migration(self, guest: GuestSpec, power_on: bool) -> None:
        """Second half, on the destination: define the guest with the new size."""

    @abc.abstractmethod
    async def finish_revert_migration(self, guest: GuestSpec, power_on: bool) -> None: ...

    async def confirm_migration(self, uuid: str) -> None:  # noqa: B027 - optional hook
        """A resize on this host is confirmed: drop what a revert would have restored."""

    async def live_migration(self, guest: GuestSpec) -> bool:
        """On the destination: copy the running guest here; False when it was aborted."""
        return True

    async def live_migration_abort(self, uuid: str) -> None:
        """Stop a running live migration of ``uuid`` to this host (the guest stays put)."""
        raise VirtError(f"{type(self).__name__} cannot abort a live migration.")

    async def live_migration_force_complete(self, uuid: str) -> None:  # noqa: B027 - optional
        """Make a live migration converge now (libvirt pauses the guest for it)."""

    @abc.abstractmethod
    async def get_console_output(self, uuid: str) -> str: ...

    async def get_console(self, uuid: str, console_type: str) -> ConsoleInfo:
        """The connection of a ``vnc``, ``spice``, ``serial``, ``rdp`` or ``mks`` console."""
        raise ConsoleUnavailable(f"Unavailable console type {console_type}.")

    @abc.abstractmethod
    async def set_admin_password(self, uuid: str, password: str) -> None: ...

    @abc.abstractmethod
    async def attach_interface(self, uuid: str, port: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def detach_interface(self, uuid: str, port_id: str) -> None: ...

    @abc.abstractmethod
    async def attach_volume(
        self, uuid: str, connection_info: dict[str, Any], device: str
    ) -> None: ...

    @abc.abstractmethod
    async def detach_volume(
        self, uuid: str, connection_info: dict[str, Any], device: str
    ) -> None: ...

    async def inject_nmi(self, uuid: str) -> None:
        """Trigger a crash dump (an NMI); drivers that cannot answer VirtError."""
        raise VirtError("This hypervisor cannot inject an NMI.")
