"""Where a device's data lives: ``DEVICES/<device>/<kind>/<part>/<suffix>/<hash>/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class DeviceUnavailable(OSError):
    """The device is not there (unmounted, wiped away, failed)."""


def device_root(devices: Path, dev: dict[str, Any]) -> Path:
    root = devices / dev["device"]
    if not root.is_dir():
        raise DeviceUnavailable(f"device {dev['device']} is not available")
    return root


def hash_dir(devices: Path, dev: dict[str, Any], kind: str, part: int, name_hash: str) -> Path:
    return device_root(devices, dev) / kind / str(part) / name_hash[-3:] / name_hash


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
