"""Volume backends: a small driver interface, one package per backend (file, fake, lvm).

A driver owns the bytes of its backend's volumes and snapshots; the agent calls it with plain
values (ids, sizes, paths) and records what it answers in the database. Every call is
idempotent: the agent may repeat one after a crash.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onestack.common.config import Settings, VolumeBackendSettings


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this host; the message says why in one line."""


class DriverError(RuntimeError):
    """A backend operation failed; the message lands in the resource's fault."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a volume's (or snapshot's) data is: a path and its disk format."""

    path: Path
    format: str


class VolumeDriver(ABC):
    """One backend's operations; sizes are GiB."""

    def __init__(self, name: str, conf: VolumeBackendSettings, settings: Settings):
        self.name = name
        self.conf = conf
        self.settings = settings
        self.backend_name = conf.volume_backend_name or name

    @abstractmethod
    def check_setup(self) -> None:
        """Raise :class:`BackendUnavailable` when the backend cannot run here."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Capacity and capabilities, as Cinder's ``get_volume_stats`` reports them."""

    @abstractmethod
    def create(self, volume_id: str, size: int) -> Location: ...

    @abstractmethod
    def create_from_file(self, volume_id: str, size: int, source: Location) -> Location:
        """A new volume holding ``source``'s data (an image, a snapshot, another volume)."""

    @abstractmethod
    def delete(self, volume_id: str) -> None: ...

    @abstractmethod
    def extend(self, volume_id: str, size: int) -> None: ...

    @abstractmethod
    def location(self, volume_id: str) -> Location: ...

    @abstractmethod
    def create_snapshot(self, volume_id: str, snapshot_id: str) -> Location: ...

    @abstractmethod
    def snapshot_location(self, snapshot_id: str) -> Location: ...

    @abstractmethod
    def delete_snapshot(self, volume_id: str, snapshot_id: str) -> None: ...

    @abstractmethod
    def export_raw(self, source: Location, target: Path) -> None:
        """Write ``source``'s data as a raw file (backups, upload to image)."""

    @abstractmethod
    def import_raw(self, volume_id: str, source: Path) -> None:
        """Overwrite the volume's data with a raw file (backup restore)."""

    def connection_info(self, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        """How a host reaches the volume: the file itself when it is local."""
        loc = self.location(volume_id)
        return {"driver_volume_type": "file", "data": {"path": str(loc.path), "format": loc.format}}


DRIVERS = {
    "file": "onestack.volume.drivers.file:FileDriver",
    "fake": "onestack.volume.drivers.fake:FakeDriver",
    "lvm": "onestack.volume.drivers.lvm:LVMDriver",
}


def load_driver(name: str, conf: VolumeBackendSettings, settings: Settings) -> VolumeDriver:
    module, _, cls = DRIVERS[conf.driver].partition(":")
    driver: VolumeDriver = getattr(importlib.import_module(module), cls)(name, conf, settings)
    return driver
