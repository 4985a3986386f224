"""Backup and restore on the volume's agent: the data read as raw, cut in chunks, each
hashed (SHA-256) and compressed; an incremental backup stores only the chunks whose hash differs
from its parent's and refers to the parent's objects for the rest (as Cinder's chunked
drivers do)."""

from __future__ import annotations

import asyncio
import hashlib
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


def _read_chunks(path: Path, size: int) -> Any:
    with path.open("rb") as f:
        index = 0
        while block := f.read(size):
            yield index, block
            index += 1


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
        chunks, written = [], 0
        for index, block in await asyncio.to_thread(lambda: list(_read_chunks(raw, size))):
            digest = hashlib.sha256(block).hexdigest()
            previous = old.get(index)
            if previous is not None and previous["sha256"] == digest:
                chunks.append(previous)
                continue
            key = f"backup-{backup.id}/chunk-{index:06d}"
            algorithm = conf.backup_compression_algorithm
            await store.put(container, key, await asyncio.to_thread(_compress, block, algorithm))
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
        if chunk["object"].startswith(own):
            await store.delete(backup.manifest["container"], chunk["object"])
