"""The LVM backend: thin logical volumes in a volume group, for hosts with device-mapper.

Without device-mapper (no ``/dev/mapper/control``: containers, some VMs) it refuses to start
with one line saying so; it is not usable (nor tested) on such a host.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from onestack.volume.drivers import (
    BackendUnavailable,
    DriverError,
    Location,
    VolumeDriver,
    qemu_img,
)
from onestack.volume.drivers.file import _stats

GiB = 1024**3
DM_CONTROL = Path("/dev/mapper/control")


class LVMDriver(VolumeDriver):
    @property
    def vg(self) -> str:
        return self.conf.volume_group

    def check_setup(self) -> None:
        if not DM_CONTROL.exists():
            raise BackendUnavailable(
                f"volume backend {self.name} (lvm) cannot start: this kernel has no "
                f"device-mapper ({DM_CONTROL} is absent); use the file backend here"
            )
        if shutil.which("lvcreate") is None:
            raise BackendUnavailable(
                f"volume backend {self.name} (lvm) cannot start: the lvm2 tools are missing"
            )
        try:
            self._lvm("vgs", self.vg)
        except DriverError:
            raise BackendUnavailable(
                f"volume backend {self.name} (lvm) cannot start: volume group {self.vg} "
                "does not exist"
            ) from None

    def _lvm(self, *args: str) -> str:
        try:
            done = subprocess.run(args, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise DriverError(f"{args[0]} failed: {exc.stderr.strip()[:300]}") from None
        return done.stdout

    def stats(self) -> dict[str, Any]:
        out = self._lvm(
            "vgs", "--noheadings", "--units", "g", "--nosuffix", "-o", "vg_size,vg_free", self.vg
        )
        size, free = (int(float(x)) for x in out.split())
        return _stats(self, self.conf.total_capacity_gb or size, free)

    def location(self, volume_id: str) -> Location:
        return Location(Path(f"/dev/{self.vg}/volume-{volume_id}"), "raw")

    def snapshot_location(self, snapshot_id: str) -> Location:
        return Location(Path(f"/dev/{self.vg}/snapshot-{snapshot_id}"), "raw")

    def create(self, volume_id: str, size: int) -> Location:
        loc = self.location(volume_id)
        if not loc.path.exists():
            self._lvm("lvcreate", "-n", loc.path.name, "-L", f"{size}g", self.vg)
        return loc

    def create_from_file(self, volume_id: str, size: int, source: Location) -> Location:
        loc = self.create(volume_id, size)
        qemu_img.run(
            "convert", "-q", "-n", "-f", source.format, "-O", "raw", str(source.path), str(loc.path)
        )
        return loc

    def delete(self, volume_id: str) -> None:
        loc = self.location(volume_id)
        if loc.path.exists():
            self._lvm("lvremove", "-f", f"{self.vg}/{loc.path.name}")

    def extend(self, volume_id: str, size: int) -> None:
        self._lvm("lvextend", "-L", f"{size}g", f"{self.vg}/volume-{volume_id}")

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> Location:
        loc = self.snapshot_location(snapshot_id)
        if not loc.path.exists():
            self._lvm("lvcreate", "-s", "-n", loc.path.name, f"{self.vg}/volume-{volume_id}")
        return loc

    def delete_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        loc = self.snapshot_location(snapshot_id)
        if loc.path.exists():
            self._lvm("lvremove", "-f", f"{self.vg}/{loc.path.name}")

    def export_raw(self, source: Location, target: Path) -> None:
        qemu_img.convert(source.path, source.format, target, "raw")

    def import_raw(self, volume_id: str, source: Path) -> None:
        loc = self.location(volume_id)
        qemu_img.run("convert", "-q", "-n", "-f", "raw", "-O", "raw", str(source), str(loc.path))
