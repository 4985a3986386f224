"""The object auditor: every data file's bytes are checked against its ETag and size at a
limited rate; a corrupt one is quarantined (and replication brings a good copy back)."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from onestack.object.proxy.storage import Storage
from onestack.object.servers import object as disk
from onestack.object.servers.disk import DeviceUnavailable


def _check(
    path: os.PathLike[str], metadata: dict[str, Any], rate: int, budget: list[float]
) -> bool:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
            budget[0] += len(block) / rate
            ahead = budget[0] - (time.monotonic() - budget[1])
            if ahead > 0.05:
                time.sleep(ahead)
    return size == int(metadata.get("Content-Length", -1)) and digest.hexdigest() == metadata.get(
        "ETag"
    )


def run_once(storage: Storage, bytes_per_second: int) -> dict[str, Any]:
    checked = quarantined = errors = listed = 0
    budget = [0.0, time.monotonic()]
    devices = {
        d["device"]: d for k, _ in storage.object_rings() for d in storage.rings[k].devs.values()
    }
    for dev, folder in ((d, f) for d in devices.values() for _, f in storage.object_rings()):
        root = storage.devices / dev["device"] / folder
        if not root.is_dir():
            continue
        for part in os.listdir(root):
            for suffix in _listdir(root / part):
                for name_hash in _listdir(root / part / suffix):
                    directory = root / part / suffix / name_hash
                    data, _tomb, _meta = disk.newest(directory)
                    if data is None:
                        continue
                    checked += 1
                    try:
                        metadata = disk.read_metadata(directory / data)
                        good = _check(directory / data, metadata, bytes_per_second, budget)
                    except FileNotFoundError:
                        continue  # a newer version replaced it meanwhile: not corrupt
                    except (OSError, ValueError):
                        good = False
                    if not good:
                        try:
                            disk.quarantine(storage.devices, dev, directory)
                            quarantined += 1
                        except (OSError, DeviceUnavailable):
                            errors += 1
                        continue
                    listed += _check_listed(storage, dev, directory, data[:-5], metadata)
    return {
        "checked": checked,
        "quarantined": quarantined,
        "errors": errors,
        "listings_fixed": listed,
    }


def _check_listed(
    storage: Storage,
    dev: dict[str, Any],
    directory: os.PathLike[str],
    timestamp: str,
    metadata: dict[str, Any],
) -> int:
    """A whole object its container does not list (the process died between the object's
    commit and the listing update): the listing gets it. 1 if it was fixed."""
    name = metadata.get("name", "")
    try:
        _, account, container, obj = name.split("/", 3)
    except ValueError:
        return 0
    broker = storage.container_broker(account, container)
    if broker is None:
        return 0
    row = broker._conn().execute("SELECT created_at FROM object WHERE name = ?", (obj,)).fetchone()
    if row is not None and row["created_at"] >= timestamp:
        return 0
    size, etag = int(metadata.get("Content-Length", 0)), str(metadata.get("ETag", ""))
    if metadata.get("X-Static-Large-Object"):
        size = int(metadata.get("X-Object-Sysmeta-Slo-Size", size))
        etag = str(metadata.get("X-Object-Sysmeta-Slo-Etag", etag))
    storage.update_container_listing(
        account,
        container,
        obj,
        timestamp,
        size,
        str(metadata.get("Content-Type", "")),
        etag,
        False,
        dev,
    )
    return 1


def _listdir(path: os.PathLike[str]) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
