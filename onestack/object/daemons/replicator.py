"""The replicator: for every partition on every device, the hashes of its suffix directories
are compared with its peers' (the other primaries); only differing suffixes are pushed. A
partition on a device that is not one of its primaries (a handoff) is pushed to the primaries
and removed once they all have it. Account and container databases are replicated by
merging their rows (or copied whole to a peer that has none)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from onestack.object.proxy.storage import Storage
from onestack.object.servers import db
from onestack.object.servers import object as disk
from onestack.object.servers.account import AccountBroker
from onestack.object.servers.container import ContainerBroker

TMP_MAX_AGE = 3600.0


def suffix_hash(path: Path) -> str:
    """What a suffix directory holds, as one digest (file names and their sizes)."""
    digest = hashlib.md5(usedforsecurity=False)
    for name_hash in sorted(_listdir(path)):
        directory = path / name_hash
        disk.cleanup(directory)
        for name in sorted(_listdir(directory)):
            digest.update(f"{name_hash}/{name}".encode())
    return digest.hexdigest()


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _push_suffix(src: Path, dst: Path) -> int:
    """Copy the object files ``dst`` lacks from ``src`` (a suffix dir); files copied."""
    copied = 0
    for name_hash in _listdir(src):
        have = src / name_hash
        want = dst / name_hash
        for name in _listdir(have):
            target = want / name
            if target.exists():
                continue
            want.mkdir(parents=True, exist_ok=True)
            tmp = want / f".{name}.tmp"
            shutil.copy2(have / name, tmp)  # copy2 keeps the xattrs
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.rename(tmp, target)
            copied += 1
        disk.cleanup(want)
    return copied


def replicate_objects(storage: Storage) -> dict[str, int]:
    totals = {"objects_pushed": 0, "suffixes_synced": 0, "handoff_partitions_drained": 0}
    for kind, folder in storage.object_rings():
        for key, value in _replicate_policy(storage, kind, folder).items():
            totals[key] += value
    return totals


def _replicate_policy(storage: Storage, kind: str, folder: str) -> dict[str, int]:
    ring = storage.rings[kind]
    pushed = suffixes = handoffs_moved = 0
    for dev in ring.devs.values():
        root = storage.devices / dev["device"] / folder
        if not root.is_dir():
            continue
        for part_name in _listdir(root):
            if not part_name.isdigit():
                continue
            part = int(part_name)
            if part >= ring.partition_count:
                continue
            primaries = ring.part_nodes(part)
            is_primary = any(p["id"] == dev["id"] for p in primaries)
            peers = [p for p in primaries if p["id"] != dev["id"] and storage.local_available(p)]
            local = root / part_name
            local_hashes = {s: suffix_hash(local / s) for s in _listdir(local)}
            all_synced = True
            for peer in peers:
                remote = storage.devices / peer["device"] / folder / part_name
                for suffix, digest in local_hashes.items():
                    if suffix_hash(remote / suffix) != digest:
                        suffixes += 1
                        pushed += _push_suffix(local / suffix, remote / suffix)
                        if suffix_hash(remote / suffix) != digest and not is_primary:
                            all_synced = False
            if not is_primary and all_synced and len(peers) == len(primaries):
                shutil.rmtree(local, ignore_errors=True)
                handoffs_moved += 1
    return {
        "objects_pushed": pushed,
        "suffixes_synced": suffixes,
        "handoff_partitions_drained": handoffs_moved,
    }


def _replicate_db(storage: Storage, kind: str) -> dict[str, int]:
    ring = storage.rings[kind]
    folder = "accounts" if kind == "account" else "containers"
    copied = merged = 0
    for dev in ring.devs.values():
        root = storage.devices / dev["device"] / folder
        if not root.is_dir():
            continue
        for part_name in _listdir(root):
            part = int(part_name)
            primaries = ring.part_nodes(part)
            is_primary = any(p["id"] == dev["id"] for p in primaries)
            for suffix in _listdir(root / part_name):
                for name_hash in _listdir(root / part_name / suffix):
                    path = root / part_name / suffix / name_hash / f"{name_hash}.db"
                    if not path.exists():
                        continue
                    synced = 0
                    peers = [p for p in primaries if p["id"] != dev["id"]]
                    for peer in peers:
                        if not storage.local_available(peer):
                            continue
                        target = (
                            storage.devices
                            / peer["device"]
                            / folder
                            / part_name
                            / suffix
                            / name_hash
                            / f"{name_hash}.db"
                        )
                        if not target.exists():
                            _copy_db(path, target)
                            copied += 1
                        else:
                            _merge_db(kind, path, target)
                            merged += 1
                        synced += 1
                    if not is_primary and synced == len(peers) == len(primaries):
                        db.forget(path)
                        shutil.rmtree(path.parent, ignore_errors=True)
    return {f"{kind}_dbs_copied": copied, f"{kind}_dbs_merged": merged}


def _copy_db(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    source = db.connect(src)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
    finally:
        target.close()
    os.rename(tmp, dst)


def _merge_db(kind: str, src: Path, dst: Path) -> None:
    if kind == "container":
        a, b = ContainerBroker(src), ContainerBroker(dst)
        for one, other in ((a, b), (b, a)):
            marker = ""
            while rows := one.rows_since(marker, 1000):
                other.merge_rows(rows)
                marker = rows[-1][0]
        _merge_stat(src, dst, "container_stat")
    else:
        acc_a, acc_b = AccountBroker(src), AccountBroker(dst)
        for one, other in ((acc_a, acc_b), (acc_b, acc_a)):
            for row in db.connect(one.path).execute("SELECT * FROM container").fetchall():
                other.put_container(
                    row["name"],
                    row["put_timestamp"],
                    row["delete_timestamp"],
                    row["object_count"],
                    row["bytes_used"],
                    row["storage_policy_index"],
                )
        _merge_stat(src, dst, "account_stat")


def _merge_stat(src: Path, dst: Path, table: str) -> None:
    """Newest put/delete timestamps and metadata win on both sides."""
    a, b = db.connect(src), db.connect(dst)
    ra = a.execute(f"SELECT put_timestamp, delete_timestamp, metadata FROM {table}").fetchone()
    rb = b.execute(f"SELECT put_timestamp, delete_timestamp, metadata FROM {table}").fetchone()
    if ra is None or rb is None:
        return
    import orjson

    put_ts = max(ra["put_timestamp"], rb["put_timestamp"])
    del_ts = max(ra["delete_timestamp"], rb["delete_timestamp"])
    meta = db.merge_metadata(
        ra["metadata"], {k: v for k, v in orjson.loads(rb["metadata"] or "{}").items()}
    )
    for conn in (a, b):
        with conn:
            conn.execute(
                f"UPDATE {table} SET put_timestamp = ?, delete_timestamp = ?, metadata = ?",
                (put_ts, del_ts, meta),
            )


def clean_tmp(storage: Storage) -> int:
    """Temporary files of uploads that never finished (their process died)."""
    import time

    removed = 0
    for dev in storage.rings["object"].devs.values():
        tmp = storage.devices / dev["device"] / "tmp"
        for name in _listdir(tmp):
            path = tmp / name
            try:
                if time.time() - path.stat().st_mtime > TMP_MAX_AGE:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed


def run_once(storage: Storage) -> dict[str, Any]:
    report: dict[str, Any] = {}
    report.update(replicate_objects(storage))
    report.update(_replicate_db(storage, "container"))
    report.update(_replicate_db(storage, "account"))
    report["tmp_removed"] = clean_tmp(storage)
    return report
