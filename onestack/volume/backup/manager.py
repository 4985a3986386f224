"""Backup and restore on the volume's agent: the data read as raw, cut in chunks, each
hashed (SHA-256) and compressed; an incremental backup stores only the chunks whose hash differs
from its parent's and refers to the parent's objects for the rest (as Cinder's chunked
drivers do)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onestack.volume.backup.chunks import store_for
from onestack.volume.drivers import VolumeDriver
from onestack.volume.models import Backup

if TYPE_CHECKING:
    from onestack.volume.agent import VolumeAgent
    from onestack.volume.models import Volume


def _compress(data: bytes, algorithm: str) -> bytes:
    return zlib.compress(data, 6) if algorithm == "zlib" else data


def _decompress(data: bytes, algorithm: str) -> bytes:
    return zlib.decompress(data) if algorithm == "zlib" else data


def _read_chunk(path: Path, index: int, size: int) -> bytes | None:
    """Chunk ``index`` of a (sparse) raw file; None when it is all zeros, told by the file's
    holes (SEEK_DATA) without reading where the file system knows."""
    offset = index * size
    with path.open("rb") as f:
        try:
            data_at = os.lseek(f.fileno(), offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole from here to the end
            return None
        if data_at >= offset + size:
            return None
        f.seek(offset)
        block = f.read(size)
    return None if block == bytes(len(block)) else block


def _pack(block: bytes, algorithm: str) -> tuple[str, bytes]:
    return hashlib.sha256(block).hexdigest(), _compress(block, algorithm)


async def run_backup(
    agent: VolumeAgent, driver: VolumeDriver, backup: Backup, parent: dict[str, Any] | None
) -> dict[str, Any]:
    """Write the backup's chunks; the manifest and the count of objects written."""
    conf = agent.conf
    store = store_for(agent.core, backup.service)
    container = backup.container or conf.backup_swift_container
    source = (
        driver.snapshot_location(backup.snapshot_id)
        if backup.snapshot_id
        else driver.location(backup.volume_id)
    )
    scratch = agent.scratch()
    try:
        raw = scratch / "data.raw"
        await asyncio.to_thread(driver.export_raw, source, raw)
        size = conf.backup_chunk_size
        old = {c["index"]: c for c in (parent or {}).get("chunks", [])}
        if parent and parent.get("chunk_size") != size:
            old = {}
        chunks: list[dict[str, Any]] = []
        written = 0
        total = raw.stat().st_size
        algorithm = conf.backup_compression_algorithm
        for index in range((total + size - 1) // size):
            block = await asyncio.to_thread(_read_chunk, raw, index, size)
            if block is None:
                length = min(size, total - index * size)
                chunks.append({"index": index, "zero": True, "sha256": "zero", "length": length})
                continue
            digest, packed = await asyncio.to_thread(_pack, block, algorithm)
            previous = old.get(index)
            if previous is not None and previous["sha256"] == digest:
                chunks.append(previous)
                continue
            key = f"backup-{backup.id}/chunk-{index:06d}"
            await store.put(container, key, packed)
            chunks.append(
                {
                    "index": index,
                    "object": key,
                    "sha256": digest,
                    "length": len(block),
                    "compression": algorithm,
                }
            )
            written += 1
        return {
            "chunk_size": size,
            "size_bytes": raw.stat().st_size,
            "container": container,
            "chunks": chunks,
            "objects": written,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def restore_into(
    agent: VolumeAgent, driver: VolumeDriver, backup_id: str, volume: Volume
) -> None:
    """Write a backup's data over ``volume`` (which is at least the backup's size)."""
    async with agent.core.read() as session:
        backup = await session.get(Backup, backup_id)
    if backup is None:
        raise RuntimeError(f"backup {backup_id} is gone")
    manifest = backup.manifest
    store = store_for(agent.core, backup.service)
    scratch = agent.scratch()
    try:
        raw = scratch / "data.raw"
        with raw.open("wb") as f:
            f.truncate(max(manifest.get("size_bytes", 0), volume.size * 1024**3))
            for chunk in manifest.get("chunks", []):
                if chunk.get("zero"):
                    continue
                data = await store.get(manifest["container"], chunk["object"])
                block = await asyncio.to_thread(_decompress, data, chunk["compression"])
                if hashlib.sha256(block).hexdigest() != chunk["sha256"]:
                    raise RuntimeError(f"backup object {chunk['object']} is corrupt")
                f.seek(chunk["index"] * manifest["chunk_size"])
                f.write(block)
        await asyncio.to_thread(driver.import_raw, volume.id, raw)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def delete_objects(agent: VolumeAgent, backup: Backup) -> None:
    """Remove the objects this backup wrote (never its parent's)."""
    store = store_for(agent.core, backup.service)
    own = f"backup-{backup.id}/"
    for chunk in backup.manifest.get("chunks", []):
        if chunk.get("object", "").startswith(own):
            await store.delete(backup.manifest["container"], chunk["object"])
