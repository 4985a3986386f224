"""Glance's local image cache: images of remote stores kept on local disk for fast downloads.

Layout under ``[image] image_cache_dir`` (default ``DATA/image-cache``)::

    data/<image_id>        whole, checksum-verified images (served by a FilesystemStore)
    meta/<image_id>.json   hits and last access of each cached image
    incomplete/<image_id>.<pid>.<random>
                           an image being written by process <pid> (renamed into data/ once
                           it verifies; each writer has its own file)
    queue/<image_id>       images queued for the prefetcher (PUT /v2/cache/{image_id})

A download of an image that is not cached tees the store's stream into ``incomplete/``; only a
download that reaches the end with the right size and checksum is renamed into ``data/``
(atomically), so an interrupted or broken stream never leaves a half image in the cache.
Leftovers in ``incomplete/`` of processes that are gone are removed at start. The pruner keeps
the cache under ``image_cache_max_size`` bytes, least recently used first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onestack.image.stores import NotFound as StoreNotFound
from onestack.image.stores.filesystem import FilesystemStore

LOG = logging.getLogger(__name__)
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


@dataclass
class CachedImage:
    image_id: str
    size: int
    hits: int
    last_accessed: float
    last_modified: float

    def view(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "hits": self.hits,
            "last_accessed": self.last_accessed,
            "last_modified": self.last_modified,
            "size": self.size,
        }


def _valid(image_id: str) -> bool:
    return bool(_IMAGE_ID.match(image_id))


class ImageCache:
    def __init__(self, root: Path, max_size: int):
        self.root = root
        self.max_size = max_size
        self.data = root / "data"
        self.meta = root / "meta"
        self.incomplete = root / "incomplete"
        self.queue = root / "queue"
        self.files = FilesystemStore("image-cache", self.data)
        self._writing: set[str] = set()
        self._lock = asyncio.Lock()  # one meta read-modify-write (and prune) at a time

    # -- start -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the directories and remove what an interrupted write left behind."""
        for directory in (self.data, self.meta, self.incomplete, self.queue):
            directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.incomplete.iterdir():
            if not _writer_alive(leftover.name):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        for meta in self.meta.glob("*.json"):  # metadata of data that is not there
            if not (self.data / meta.stem).exists():
                with contextlib.suppress(OSError):
                    meta.unlink()

    # -- queries ---------------------------------------------------------------------------
    def is_writing(self, image_id: str) -> bool:
        return image_id in self._writing

    def is_cached(self, image_id: str) -> bool:
        return _valid(image_id) and (self.data / image_id).is_file()

    def cached_ids(self) -> list[str]:
        return sorted(p.name for p in self.data.iterdir() if _valid(p.name))

    def queued_ids(self) -> list[str]:
        return sorted(p.name for p in self.queue.iterdir() if _valid(p.name))

    def _entry(self, image_id: str) -> CachedImage | None:
        try:
            stat = (self.data / image_id).stat()
        except OSError:
            return None
        meta: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads((self.meta / f"{image_id}.json").read_text())
        return CachedImage(
            image_id,
            stat.st_size,
            int(meta.get("hits", 0)),
            float(meta.get("last_accessed", stat.st_mtime)),
            stat.st_mtime,
        )

    def cached(self) -> list[CachedImage]:
        entries = (self._entry(i) for i in self.cached_ids())
        return [e for e in entries if e is not None]

    def size(self) -> int:
        return sum(e.size for e in self.cached())

    # -- reads -----------------------------------------------------------------------------
    async def read(
        self,
        image_id: str,
        fallback: Callable[[], AsyncIterator[bytes]],
        offset: int = 0,
        length: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream the cached image, counting a hit once the data flows (not for a HEAD); an
        entry evicted since the caller looked streams from ``fallback()`` (the store)."""
        chunks = self.files.get(self.files.url_for(image_id), offset, length)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            return
        except StoreNotFound:
            async for chunk in fallback():
                yield chunk
            return
        try:
            await self._record_hit(image_id)
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _record_hit(self, image_id: str) -> None:
        async with self._lock:
            entry = self._entry(image_id)
            if entry is None:
                return
            self._write_meta(image_id, entry.hits + 1, time.time())

    def _write_meta(self, image_id: str, hits: int, last_accessed: float) -> None:
        path = self.meta / f"{image_id}.json"
        temp = self.meta / f".{image_id}.json.tmp"
        temp.write_text(json.dumps({"hits": hits, "last_accessed": last_accessed}))
        os.replace(temp, path)

    # -- writes ----------------------------------------------------------------------------
    def tee(
        self,
        image_id: str,
        chunks: AsyncIterator[bytes],
        size: int,
        checksum: str | None,
    ) -> AsyncIterator[bytes]:
        """Pass ``chunks`` through, caching them; a stream already being cached, or an id not
        fit for a file name, passes through untouched."""
        if not _valid(image_id) or image_id in self._writing or self.is_cached(image_id):
            return chunks
        if self.max_size and size > self.max_size:
            return chunks  # could never be kept
        return self._tee(image_id, chunks, size, checksum)

    async def _tee(
        self,
        image_id: str,
        chunks: AsyncIterator[bytes],
        size: int,
        checksum: str | None,
    ) -> AsyncIterator[bytes]:
        self._writing.add(image_id)
        temp = self.incomplete / f"{image_id}.{os.getpid()}.{secrets.token_hex(4)}"
        md5 = hashlib.md5(usedforsecurity=False)
        written = 0
        committed = False
        handle: Any = None
        try:
            handle = await asyncio.to_thread(open, temp, "wb")
            async for chunk in chunks:
                md5.update(chunk)
                written += len(chunk)
                if committed:  # more data than the image's size: not the image
                    LOG.warning("image %s: more data than its size; evicted", image_id)
                    self._drop_data(image_id)
                    committed = False
                elif handle is not None:
                    await asyncio.to_thread(handle.write, chunk)
                    if written >= size:  # the last chunk: in the cache before the client has it
                        await asyncio.to_thread(_flush_close, handle)
                        handle = None
                        committed = await self._commit(image_id, temp, written, size, md5, checksum)
                yield chunk
            if not committed and written < size:
                LOG.info("image %s: stream ended short (%d of %d)", image_id, written, size)
        finally:
            self._writing.discard(image_id)
            closing = getattr(chunks, "aclose", None)
            if closing is not None:
                with contextlib.suppress(Exception):
                    await closing()
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
            with contextlib.suppress(OSError):
                temp.unlink()  # gone already once committed

    async def _commit(
        self, image_id: str, temp: Path, written: int, size: int, md5: Any, checksum: str | None
    ) -> bool:
        """Move a whole written image into the cache if it matches its record."""
        if written != size or (checksum and md5.hexdigest() != checksum):
            LOG.warning("image %s: data does not match its record; not cached", image_id)
            return False
        try:
            os.replace(temp, self.data / image_id)
        except OSError:
            LOG.warning("image %s: could not be moved into the cache", image_id, exc_info=True)
            return False
        async with self._lock:
            self._write_meta(image_id, 0, time.time())
        self.unqueue(image_id)
        LOG.info("image %s cached (%d bytes)", image_id, written)
        await self.prune(keep=image_id)
        return True

    async def fill(
        self, image_id: str, chunks: AsyncIterator[bytes], size: int, checksum: str | None
    ) -> bool:
        """Cache a whole stream (the prefetcher); True when the image is cached after."""
        stream = self.tee(image_id, chunks, size, checksum)
        try:
            async for _ in stream:
                pass
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return self.is_cached(image_id)

    # -- queue, delete, prune --------------------------------------------------------------
    def enqueue(self, image_id: str) -> None:
        if _valid(image_id) and not self.is_cached(image_id):
            (self.queue / image_id).touch()

    def unqueue(self, image_id: str) -> None:
        if _valid(image_id):
            with contextlib.suppress(OSError):
                (self.queue / image_id).unlink()

    def evict(self, image_id: str) -> None:
        """Remove the image from the cache and the queue (no error when it is not there)."""
        if not _valid(image_id):
            return
        for path in (self.data / image_id, self.meta / f"{image_id}.json"):
            with contextlib.suppress(OSError):
                path.unlink()
        self.unqueue(image_id)

    def clear(self, target: str) -> None:
        """``target``: cache, queue or both."""
        if target in ("cache", "both"):
            for image_id in self.cached_ids():
                self._drop_data(image_id)
        if target in ("queue", "both"):
            for image_id in self.queued_ids():
                self.unqueue(image_id)

    def _drop_data(self, image_id: str) -> None:
        for path in (self.data / image_id, self.meta / f"{image_id}.json"):
            with contextlib.suppress(OSError):
                path.unlink()

    async def prune(self, keep: str | None = None) -> list[str]:
        """Evict least recently used images until the cache fits ``max_size``; returns the
        evicted ids (``keep``, just written, goes last)."""
        async with self._lock:
            entries = self.cached()
            total = sum(e.size for e in entries)
            if total <= self.max_size:
                return []
            entries.sort(key=lambda e: (e.image_id == keep, e.last_accessed))
            evicted = []
            for entry in entries:
                if total <= self.max_size:
                    break
                self._drop_data(entry.image_id)
                total -= entry.size
                evicted.append(entry.image_id)
            LOG.info("image cache pruned: %s", ", ".join(evicted))
            return evicted


def _writer_alive(name: str) -> bool:
    """Whether the process that named an incomplete file ``<id>.<pid>.<random>`` still runs
    (this process's own files at start are leftovers of an earlier life of its pid)."""
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True


def _flush_close(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
