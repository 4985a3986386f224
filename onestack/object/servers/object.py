"""The object server's disk files: each version of an object is a file named by its timestamp
in the object's hash directory: ``<ts>.data`` (the bytes), ``<ts>.ts`` (a tombstone),
``<ts>.meta`` (a later POST's metadata); metadata in an xattr, written to a temporary file,
fsynced, then renamed into place, so a reader sees a whole object or none."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from onestack.object.servers.disk import device_root, fsync_dir, hash_dir

XATTR = "user.swift.metadata"
XATTR_MAX = 3900  # ext4 keeps about one block of xattrs per inode: more goes to a side file


class Quarantined(Exception):
    """The object's file was unreadable or corrupt and has been moved to quarantine."""


def write_metadata(fd: int, path: Path, metadata: dict[str, Any]) -> None:
    blob = orjson.dumps(metadata)
    if len(blob) <= XATTR_MAX:
        try:
            os.setxattr(fd, XATTR, blob)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.E2BIG, errno.ENOTSUP):
                raise
    side = path.with_suffix(".json")
    side.write_bytes(blob)


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        blob = os.getxattr(path, XATTR)
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise
        blob = path.with_suffix(".json").read_bytes()
    data: dict[str, Any] = orjson.loads(blob)
    return data


@dataclass
class ObjectState:
    """What a hash directory holds now: the newest data or tombstone, and newer metadata."""

    timestamp: str | None = None  # of the data file or tombstone
    data_file: Path | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None

    @property
    def exists(self) -> bool:
        return self.data_file is not None and not self.deleted


def _files(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory), reverse=True)
    except FileNotFoundError:
        return []


def newest(directory: Path) -> tuple[str | None, str | None, str | None]:
    """(data file, tombstone, meta file) names that count, newest wins."""
    data = tomb = meta = None
    for name in _files(directory):
        if name.endswith(".meta"):
            meta = meta or name
        elif name.endswith(".data"):
            data = name
            break
        elif name.endswith(".ts"):
            tomb = name
            break
    return data, tomb, meta


def read_state(directory: Path) -> ObjectState:
    data, tomb, meta = newest(directory)
    if tomb is not None:
        return ObjectState(timestamp=tomb[:-3], deleted=True)
    if data is None:
        return ObjectState()
    path = directory / data
    metadata = read_metadata(path)
    if meta is not None and meta[:-5] > data[:-5]:
        extra = read_metadata(directory / meta)
        # a POST replaces the user metadata and content-type, keeps the system metadata
        kept = {k: v for k, v in metadata.items() if not _is_user_meta(k)}
        metadata = {**kept, **{k: v for k, v in extra.items() if k != "X-Timestamp"}}
        metadata["X-Meta-Timestamp"] = extra.get("X-Timestamp", meta[:-5])
    return ObjectState(timestamp=data[:-5], data_file=path, metadata=metadata)


def _is_user_meta(key: str) -> bool:
    lower = key.lower()
    return (
        lower.startswith("x-object-meta-")
        or lower in ("content-disposition", "content-encoding", "x-delete-at", "x-object-manifest")
        or lower.startswith("x-object-transient-sysmeta-")
    )


def cleanup(directory: Path) -> None:
    """Remove files that a newer data file or tombstone makes useless."""
    names = _files(directory)
    final_seen = meta_seen = False
    for name in names:
        if name.endswith(".json"):
            continue
        if final_seen or (name.endswith(".meta") and meta_seen):
            _unlink(directory / name)
        elif name.endswith((".data", ".ts")):
            final_seen = True
        elif name.endswith(".meta"):
            meta_seen = True
    for name in names:
        if name.endswith(".json"):
            stem = name[:-5]
            if not any((directory / (stem + ext)).exists() for ext in (".data", ".meta")):
                _unlink(directory / name)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


IOV_MAX = 512  # buffers per writev (Linux takes 1024)
SYNC_EVERY = 64 << 20  # bytes written before a background fdatasync starts


@functools.cache
def _syncer() -> ThreadPoolExecutor:
    """The threads that flush large files while they are still being written."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="object-sync")


class DiskWriter:
    """A new object version being written: a temporary file on the device until commit."""

    def __init__(
        self, devices: Path, dev: dict[str, Any], part: int, name_hash: str, folder: str = "objects"
    ):
        root = device_root(devices, dev)
        self.directory = root / folder / str(part) / name_hash[-3:] / name_hash
        tmp = root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp_path = tmp / f"{uuid.uuid4().hex}.tmp"
        self.fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.size = 0
        self.unsynced = 0
        self.syncing: Future[None] | None = None
        self.dev = dev

    def write(self, chunk: bytes) -> None:
        self.write_chunks([chunk])

    def write_chunks(self, chunks: list[bytes]) -> None:
        """Append ``chunks`` with one ``writev`` (the rest of a short write after it); every
        ``SYNC_EVERY`` bytes a background ``fdatasync`` starts, so the disk writes while the
        body still arrives and the commit's fsync finds little left to flush."""
        total = 0
        for start in range(0, len(chunks), IOV_MAX):
            batch = chunks[start : start + IOV_MAX]
            size = sum(len(c) for c in batch)
            written = os.writev(self.fd, batch)
            if written < size:
                view = memoryview(b"".join(batch))[written:]
                while view:
                    view = view[os.write(self.fd, view) :]
            total += size
        self.size += total
        self.unsynced += total
        if self.unsynced >= SYNC_EVERY and (self.syncing is None or self.syncing.done()):
            self.unsynced = 0
            self.syncing = _syncer().submit(os.fdatasync, self.fd)

    def _wait_sync(self) -> None:
        if self.syncing is not None:
            with contextlib.suppress(OSError):
                self.syncing.result()
            self.syncing = None

    def commit(self, timestamp: str, metadata: dict[str, Any], ext: str = ".data") -> None:
        """fsync, metadata, rename into place, fsync the directory, drop older versions."""
        try:
            target = self.directory / f"{timestamp}{ext}"
            self._wait_sync()
            os.fsync(self.fd)
            write_metadata(self.fd, target, metadata)
            self.directory.mkdir(parents=True, exist_ok=True)
            os.rename(self.tmp_path, target)
            fsync_dir(self.directory)
        finally:
            self.close()
        cleanup(self.directory)

    def close(self) -> None:
        self._wait_sync()  # never close a descriptor a sync still uses
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _unlink(self.tmp_path)


def write_marker(
    devices: Path,
    dev: dict[str, Any],
    part: int,
    name_hash: str,
    timestamp: str,
    ext: str,
    metadata: dict[str, Any],
    folder: str = "objects",
) -> None:
    """A tombstone (``.ts``) or metadata update (``.meta``)."""
    writer = DiskWriter(devices, dev, part, name_hash, folder)
    writer.commit(timestamp, metadata, ext)


def object_dir(
    devices: Path, dev: dict[str, Any], part: int, name_hash: str, folder: str = "objects"
) -> Path:
    return hash_dir(devices, dev, folder, part, name_hash)


def read_range(path: Path, start: int, end: int, chunk: int = 65536) -> Iterator[bytes]:
    """Bytes ``start`` .. ``end`` (exclusive) of a data file (local, or a ``RemoteFile`` on an
    object node)."""
    if not isinstance(path, (str, os.PathLike)):
        yield from path.read_range(start, end, chunk)
        return
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            data = fh.read(min(chunk, left))
            if not data:
                raise OSError("the data file is shorter than its metadata says")
            left -= len(data)
            yield data


def quarantine(devices: Path, dev: dict[str, Any], directory: Path) -> Path:
    """Move a corrupt hash directory aside (``DEVICE/quarantined/objects/<hash>``)."""
    target = device_root(devices, dev) / "quarantined" / "objects" / directory.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target = target.with_name(f"{directory.name}-{uuid.uuid4().hex[:8]}")
    os.rename(directory, target)
    return target


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
