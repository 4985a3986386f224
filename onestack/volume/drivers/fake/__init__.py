"""The fake backend for tests and scale: volumes are sizes in memory, data is sparse files
made only when someone reads it (a backup, an upload)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from onestack.volume.drivers import DriverError, Location, VolumeDriver
from onestack.volume.drivers.file import _stats

GiB = 1024**3


class FakeDriver(VolumeDriver):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.volumes: dict[str, int] = {}
        self.snapshots: dict[str, int] = {}
        self.calls: list[str] = []

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.conf.fake_delay:
            time.sleep(self.conf.fake_delay)

    def check_setup(self) -> None:
        (self.settings.data_dir / "volumes-fake").mkdir(parents=True, exist_ok=True)

    def stats(self) -> dict[str, Any]:
        total = self.conf.total_capacity_gb or 1000
        return _stats(self, total, total - sum(self.volumes.values()))

    def _path(self, kind: str, item_id: str) -> Path:
        return self.settings.data_dir / "volumes-fake" / f"{kind}-{item_id}.raw"

    def create(self, volume_id: str, size: int) -> Location:
        self._step("create")
        self.volumes[volume_id] = size
        return self.location(volume_id)

    def create_from_file(self, volume_id: str, size: int, source: Location) -> Location:
        self._step("create_from_file")
        self.volumes[volume_id] = size
        return self.location(volume_id)

    def delete(self, volume_id: str) -> None:
        self._step("delete")
        self.volumes.pop(volume_id, None)
        self._path("volume", volume_id).unlink(missing_ok=True)

    def extend(self, volume_id: str, size: int) -> None:
        self._step("extend")
        self.volumes[volume_id] = size

    def location(self, volume_id: str) -> Location:
        return Location(self._path("volume", volume_id), "raw")

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> Location:
        self._step("create_snapshot")
        self.snapshots[snapshot_id] = self.volumes.get(volume_id, 0)
        return self.snapshot_location(snapshot_id)

    def snapshot_location(self, snapshot_id: str) -> Location:
        return Location(self._path("snapshot", snapshot_id), "raw")

    def delete_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._step("delete_snapshot")
        self.snapshots.pop(snapshot_id, None)

    def export_raw(self, source: Location, target: Path) -> None:
        self._step("export_raw")
        if source.path.exists():
            target.write_bytes(source.path.read_bytes())
            return
        volume_id = source.path.stem.split("-", 1)[1]
        size = self.volumes.get(volume_id, self.snapshots.get(volume_id))
        if size is None:
            raise DriverError(f"fake backend has no {source.path.stem}")
        with target.open("wb") as f:
            f.truncate(size * GiB)

    def import_raw(self, volume_id: str, source: Path) -> None:
        self._step("import_raw")
        self._path("volume", volume_id).write_bytes(source.read_bytes())
