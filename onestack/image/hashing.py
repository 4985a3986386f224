"""The upload data path: checksums, size cap and format inspection over a streamed body.

:class:`ImageDataPipeline` wraps the request body and is handed to ``Store.add``. It gathers
the small HTTP chunks into blocks of a few MiB (one copy), and for each block runs md5 and the
os_hash algorithm in two worker threads (hashlib releases the GIL on big buffers) while the
store writes the previous block and the event loop reads the next one. Format inspection rides
along with md5 and stops reading as soon as every inspector has its headers.

The final format verdict is raised from the last step of the iteration, so a store never
commits data that fails it; :meth:`ImageDataPipeline.finish` repeats that verdict (or returns).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from onestack.image.inspect import (
    FormatInspector,
    FormatMismatch,
    InvalidImageData,
    UnsafeImage,
)

__all__ = [
    "BLOCK_SIZE",
    "FormatMismatch",
    "ImageDataPipeline",
    "ImageTooLarge",
    "InvalidImageData",
    "UnsafeImage",
]

#: Blocks handed to the hashes and the store: big enough that a thread hop per block is noise.
BLOCK_SIZE = 4 * 1024 * 1024


class ImageTooLarge(ValueError):
    """The upload exceeds the size cap (Glance answers 413)."""


async def coalesce(source: AsyncIterator[bytes], block_size: int) -> AsyncIterator[bytes]:
    """Regroup a stream of chunks into blocks of at least ``block_size`` (the last may be short).

    A chunk already that big passes through as is; smaller ones are joined (one copy).
    """
    parts: list[bytes] = []
    buffered = 0
    async for chunk in source:
        if not chunk:
            continue
        if not parts and len(chunk) >= block_size:
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
            continue
        parts.append(chunk)
        buffered += len(chunk)
        if buffered >= block_size:
            yield b"".join(parts)
            parts, buffered = [], 0
    if parts:
        yield b"".join(parts)


class ImageDataPipeline:
    """md5 + ``hash_algo`` + size cap + format inspection over an upload stream.

    Iterate it once (``Store.add`` does); it yields the blocks to store and raises
    :class:`ImageTooLarge`, :class:`FormatMismatch` or :class:`UnsafeImage` (all ValueErrors)
    as soon as they are known. After the end of the iteration, ``checksum`` (md5 hex),
    ``os_hash_algo``, ``os_hash_value``, ``size``, ``virtual_size`` and ``format`` are set.
    Inspection is skipped (as in Glance) when ``container_format`` is not ``bare`` or
    ``disk_format`` is None.
    """

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        disk_format: str | None,
        max_size: int | None,
        hash_algo: str = "sha512",
        container_format: str | None = "bare",
        block_size: int = BLOCK_SIZE,
    ):
        self._source = source
        self._max_size = max_size
        self._block_size = block_size
        self._md5 = hashlib.md5(usedforsecurity=False)
        try:
            self._hash = hashlib.new(hash_algo)
        except ValueError:
            raise ValueError(f"unsupported hash algorithm {hash_algo!r}") from None
        inspect = disk_format is not None and container_format in (None, "bare")
        self._inspector = FormatInspector(disk_format) if inspect and disk_format else None
        self.os_hash_algo = hash_algo
        self.checksum: str | None = None
        self.os_hash_value: str | None = None
        self.size = 0
        self.virtual_size: int | None = None
        self.format: str | None = None
        self._started = False
        self._ended = False
        self._error: BaseException | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("an ImageDataPipeline can be read only once")
        self._started = True
        return self._run()

    async def _counted(self) -> AsyncIterator[bytes]:
        async for chunk in self._source:
            self.size += len(chunk)
            if self._max_size is not None and self.size > self._max_size:
                raise ImageTooLarge(f"Image exceeds the size limit of {self._max_size} bytes")
            yield chunk

    def _md5_and_inspect(self, block: bytes) -> None:
        if self._inspector is not None and self._inspector.needs_data:
            self._inspector.feed(block)
        self._md5.update(block)

    async def _run(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[Any]] = []
        try:
            async for block in coalesce(self._counted(), self._block_size):
                if pending:
                    await asyncio.gather(*pending)
                pending = [
                    loop.run_in_executor(None, self._md5_and_inspect, block),
                    loop.run_in_executor(None, self._hash.update, block),
                ]
                yield block
            if pending:
                await asyncio.gather(*pending)
                pending = []
            self._verdict()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            # A block still in the threads must not be left to fail unseen.
            for fut in pending:
                fut.add_done_callback(_consume)

    def _verdict(self) -> None:
        if self._inspector is not None:
            self._inspector.finish(self.size)
            self.format = self._inspector.format
            self.virtual_size = self._inspector.virtual_size
        self.checksum = self._md5.hexdigest()
        self.os_hash_value = self._hash.hexdigest()
        self._ended = True

    async def finish(self) -> None:
        """The final verdict: returns when the data is good, else raises what the stream did."""
        if self._error is not None:
            if isinstance(self._error, ValueError):
                raise self._error
            raise RuntimeError("the upload stream was interrupted") from self._error
        if not self._ended:
            raise RuntimeError("the upload stream was not read to the end")


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
