"""The file backend: one qcow2 (or raw) file per volume in a directory, thin by default.

A snapshot freezes the volume's current file as ``snapshot-ID.qcow2`` and puts a new overlay on
top of it as the volume's file, so snapshots are qcow2 backing chains and cost only what changes
after them. Deleting a snapshot folds it into the file above it (``qemu-img rebase``). Raw
volumes take their snapshots as (reflinked where the file system can) full copies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from onestack.volume.drivers import DriverError, Location, VolumeDriver, qemu_img

GiB = 1024**3


class FileDriver(VolumeDriver):
    @property
    def root(self) -> Path:
        return self.conf.path or self.settings.data_dir / "volumes" / self.name

    @property
    def fmt(self) -> str:
        return self.conf.volume_format

    def check_setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if shutil.which("qemu-img") is None:
            from onestack.volume.drivers import BackendUnavailable

            raise BackendUnavailable(
                f"volume backend {self.name}: qemu-img is missing (install qemu-utils)"
            )

    def stats(self) -> dict[str, Any]:
        fs = os.statvfs(self.root)
        total = self.conf.total_capacity_gb or max(1, fs.f_blocks * fs.f_frsize // GiB)
        free = min(total, fs.f_bavail * fs.f_frsize // GiB)
        return _stats(self, total, free)

    # -- paths --------------------------------------------------------------------------------
    def _volume_path(self, volume_id: str) -> Path:
        for fmt in ("qcow2", "raw"):
            path = self.root / f"volume-{volume_id}.{fmt}"
            if path.exists():
                return path
        return self.root / f"volume-{volume_id}.{self.fmt}"

    def _snapshot_path(self, snapshot_id: str) -> Path:
        for fmt in ("qcow2", "raw"):
            path = self.root / f"snapshot-{snapshot_id}.{fmt}"
            if path.exists():
                return path
        return self.root / f"snapshot-{snapshot_id}.qcow2"

    def location(self, volume_id: str) -> Location:
        path = self._volume_path(volume_id)
        return Location(path, path.suffix[1:])

    def snapshot_location(self, snapshot_id: str) -> Location:
        path = self._snapshot_path(snapshot_id)
        return Location(path, path.suffix[1:])

    # -- volumes ------------------------------------------------------------------------------
    def create(self, volume_id: str, size: int) -> Location:
        path = self.root / f"volume-{volume_id}.{self.fmt}"
        tmp = path.with_suffix(".part")
        qemu_img.create(tmp, self.fmt, size)
        tmp.rename(path)
        return Location(path, self.fmt)

    def create_from_file(self, volume_id: str, size: int, source: Location) -> Location:
        path = self.root / f"volume-{volume_id}.{self.fmt}"
        tmp = path.with_suffix(".part")
        try:
            qemu_img.convert(source.path, source.format, tmp, self.fmt)
            if qemu_img.info(tmp)["virtual-size"] < size * GiB:
                qemu_img.resize(tmp, self.fmt, size)
            tmp.rename(path)
        finally:
            tmp.unlink(missing_ok=True)
        return Location(path, self.fmt)

    def delete(self, volume_id: str) -> None:
        """Remove the volume's file and the snapshot files under it (a cascade)."""
        path = self._volume_path(volume_id)
        if path.exists() and path.suffix == ".qcow2":
            for layer in _chain(path)[1:]:
                if layer.parent == self.root and layer.name.startswith("snapshot-"):
                    layer.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        path.with_suffix(".part").unlink(missing_ok=True)

    def extend(self, volume_id: str, size: int) -> None:
        loc = self.location(volume_id)
        if qemu_img.info(loc.path)["virtual-size"] < size * GiB:
            qemu_img.resize(loc.path, loc.format, size)

    # -- snapshots ----------------------------------------------------------------------------
    def create_snapshot(self, volume_id: str, snapshot_id: str) -> Location:
        vol = self.location(volume_id)
        if vol.format == "raw":
            snap = self.root / f"snapshot-{snapshot_id}.raw"
            if not snap.exists():
                tmp = snap.with_suffix(".part")
                subprocess.run(
                    ["cp", "--reflink=auto", "--sparse=always", str(vol.path), str(tmp)],
                    check=True,
                )
                tmp.rename(snap)
            return Location(snap, "raw")
        snap = self.root / f"snapshot-{snapshot_id}.qcow2"
        if not snap.exists():
            if not vol.path.exists():
                raise DriverError(f"volume {volume_id} has no data file")
            vol.path.rename(snap)
        if not vol.path.exists():
            size = qemu_img.info(snap)["virtual-size"]
            tmp = vol.path.with_suffix(".part")
            qemu_img.run(
                "create", "-q", "-f", "qcow2", "-b", str(snap), "-F", "qcow2", str(tmp), str(size)
            )
            tmp.rename(vol.path)
        return Location(snap, "qcow2")

    def delete_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        snap = self._snapshot_path(snapshot_id)
        if not snap.exists():
            return
        if snap.suffix == ".qcow2":
            below = qemu_img.info(snap).get("full-backing-filename")
            for child in self._children(volume_id, snap):
                qemu_img.rebase(child, Path(below) if below else None)
        snap.unlink()

    def _children(self, volume_id: str, snap: Path) -> list[Path]:
        """The files standing directly on ``snap``: the volume's chain first, else a scan."""
        vol = self._volume_path(volume_id)
        if vol.exists() and vol.suffix == ".qcow2":
            chain = _chain(vol)
            if snap in chain:
                index = chain.index(snap)
                return [chain[index - 1]] if index > 0 else []
        found = []
        for candidate in self.root.glob("*.qcow2"):
            if candidate != snap and _backing(candidate) == snap:
                found.append(candidate)
        return found

    # -- raw data -----------------------------------------------------------------------------
    def export_raw(self, source: Location, target: Path) -> None:
        qemu_img.convert(source.path, source.format, target, "raw")

    def import_raw(self, volume_id: str, source: Path) -> None:
        vol = self.location(volume_id)
        tmp = vol.path.with_suffix(".part")
        try:
            qemu_img.convert(source, "raw", tmp, vol.format)
            size = qemu_img.info(vol.path)["virtual-size"] if vol.path.exists() else 0
            if qemu_img.info(tmp)["virtual-size"] < size:
                qemu_img.run("resize", "-q", "-f", vol.format, str(tmp), str(size))
            tmp.replace(vol.path)
        finally:
            tmp.unlink(missing_ok=True)


def _backing(path: Path) -> Path | None:
    name = qemu_img.info(path).get("full-backing-filename")
    return Path(name) if name else None


def _chain(path: Path) -> list[Path]:
    """``path`` and the files under it, top first."""
    import json

    layers = json.loads(
        qemu_img.run("info", "--backing-chain", "--output", "json", "--force-share", str(path))
    )
    return [Path(layer["filename"]) for layer in layers]


def _stats(driver: VolumeDriver, total: int, free: int) -> dict[str, Any]:
    return {
        "volume_backend_name": driver.backend_name,
        "vendor_name": "onestack",
        "driver_version": "1.0",
        "storage_protocol": "file",
        "pools": [
            {
                "pool_name": driver.backend_name,
                "total_capacity_gb": total,
                "free_capacity_gb": free,
                "reserved_percentage": driver.conf.reserved_percentage,
                "max_over_subscription_ratio": driver.conf.max_over_subscription_ratio,
                "thin_provisioning_support": True,
                "thick_provisioning_support": False,
                "multiattach": True,
                "QoS_support": True,
            }
        ],
    }
