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
    checked = quarantined = errors = 0
    budget = [0.0, time.monotonic()]
    for dev in storage.rings["object"].devs.values():
        root = storage.devices / dev["device"] / "objects"
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
                    except (OSError, ValueError):
                        good = False
                    if not good:
                        try:
                            disk.quarantine(storage.devices, dev, directory)
                            quarantined += 1
                        except (OSError, DeviceUnavailable):
                            errors += 1
    return {"checked": checked, "quarantined": quarantined, "errors": errors}


def _listdir(path: os.PathLike[str]) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
