"""The container reconciler: an object whose data sits in another storage policy than its
container's (a container re-created with another policy, or replicas that disagreed about it)
is moved into the container's policy, keeping its timestamp and metadata; the misplaced copy
is then removed. A newer version already in the right policy wins and the stray copy just
goes."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from onestack.object.proxy.storage import Storage
from onestack.object.servers import object as disk

LOG = logging.getLogger(__name__)


def _hash_dirs(storage: Storage, folder: str) -> list[tuple[dict[str, Any], Path]]:
    found = []
    devices = {
        d["device"]: d for k, _ in storage.object_rings() for d in storage.rings[k].devs.values()
    }
    for dev in devices.values():
        root = storage.devices / dev["device"] / folder
        if not root.is_dir():
            continue
        for part in os.listdir(root):
            for suffix in _listdir(root / part):
                for name_hash in _listdir(root / part / suffix):
                    found.append((dev, root / part / suffix / name_hash))
    return found


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _move(
    storage: Storage,
    kind: str,
    folder: str,
    account: str,
    container: str,
    obj: str,
    state: disk.ObjectState,
) -> bool:
    """Write the version into the container's policy; True when that policy now has it."""
    assert state.data_file is not None and state.metadata is not None
    current, _ = storage.object_state(account, container, obj)
    if current.timestamp is not None and current.timestamp >= (state.timestamp or ""):
        return True  # the right policy has this version or a newer one
    h = storage.hash(account, container, obj)
    part, nodes, _ = storage.write_nodes(kind, account, container, obj)
    size = int(state.metadata.get("Content-Length", 0))
    written = 0
    for node in nodes:
        writer = disk.DiskWriter(storage.devices, node, part, h, folder)
        try:
            for block in disk.read_range(state.data_file, 0, size, 1 << 20):
                writer.write(block)
            writer.commit(str(state.timestamp), dict(state.metadata))
            written += 1
        except OSError:
            LOG.warning("reconciler could not write %s on %s", obj, node["device"], exc_info=True)
        finally:
            writer.close()
    return written > 0


def run_once(storage: Storage) -> dict[str, Any]:
    moved = removed = 0
    for _ring, folder in storage.object_rings():
        for _dev, directory in _hash_dirs(storage, folder):
            try:
                state = disk.read_state(directory)
            except (OSError, ValueError):
                continue  # the auditor's business
            if not state.exists or state.metadata is None:
                continue
            try:
                _, account, container, obj = str(state.metadata.get("name", "")).split("/", 3)
            except ValueError:
                continue
            if storage.container_info(account, container) is None:
                continue  # no container to reconcile with
            kind, right = storage.policy_of(account, container)
            if right == folder:
                continue
            if _move(storage, kind, right, account, container, obj, state):
                moved += 1
            shutil.rmtree(directory, ignore_errors=True)  # moved, or a newer one is there
            removed += 1
    return {"moved": moved, "removed": removed}
