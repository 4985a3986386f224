"""The filesystem store: one file per image, ``<path>/<image_id>``, location ``file:///...``.

Writes go to a hidden temporary file in the same directory (0600) through one worker thread
per upload, so the write of a block overlaps the reading and hashing of the next; the file is
fsynced and linked to its final name only when the whole stream has been read, then the
directory is fsynced. Any failure or cancellation removes the temporary (and, when the commit
itself was cancelled, the final) file. Reads use ``os.pread`` in a thread, one chunk ahead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from onestack.image.stores import (
    Duplicate,
    InvalidLocation,
    NotFound,
    StorageFull,
    StoreError,
)

#: Read size for downloads.
CHUNK_SIZE = 1024 * 1024
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


_READERS: ThreadPoolExecutor | None = None


def _readers() -> ThreadPoolExecutor:
    """Threads for downloads (separate from the loop's default pool, so closing is safe)."""
    global _READERS
    if _READERS is None:
        _READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="image-read")
    return _READERS


def _close_opened(job: Future[int]) -> None:
    """Closes the file a cancelled open still opened."""
    if not job.cancelled() and job.exception() is None:
        os.close(job.result())


def _check_image_id(image_id: str) -> None:
    if not _IMAGE_ID.match(image_id):
        raise InvalidLocation(f"invalid image id for a file name: {image_id!r}")


def _os_error(exc: OSError, what: str) -> StoreError:
    if exc.errno in _FULL:
        return StorageFull(f"image storage media is full: {exc.strerror}")
    return StoreError(f"{what}: {exc.strerror or exc}")


class _Upload:
    """The temporary file of one upload; every operation runs in its own thread, in order."""

    def __init__(self, directory: Path, image_id: str):
        self.directory = directory
        self.final = directory / image_id
        self.tmp = directory / f".{image_id}.{secrets.token_hex(6)}.part"
        self.fd = -1
        self.committed = False
        self.written = 0

    def open(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.final.exists():
            raise Duplicate(f"image data already stored at {self.final}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self.fd = os.open(self.tmp, flags, 0o600)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self.written += n

    def commit(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        try:
            os.link(self.tmp, self.final)  # fails, unlike rename, if the name is taken
        except FileExistsError:
            raise Duplicate(f"image data already stored at {self.final}") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if self.final.exists():
                raise Duplicate(f"image data already stored at {self.final}") from None
            os.rename(self.tmp, self.final)
        self.committed = True
        self._unlink(self.tmp)
        dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def abort(self, remove_final: bool = False) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._unlink(self.tmp)
        if remove_final and self.committed:
            self._unlink(self.final)
            self.committed = False

    @staticmethod
    def _unlink(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class FilesystemStore:
    """Image files in one directory (Glance's ``file`` store)."""

    def __init__(self, name: str, path: Path | str, *, chunk_size: int = CHUNK_SIZE):
        self.name = name
        self.path = Path(os.path.abspath(Path(path).expanduser()))
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"FilesystemStore({self.name!r}, {str(self.path)!r})"

    # -- locations ---------------------------------------------------------------------------

    def url_for(self, image_id: str) -> str:
        _check_image_id(image_id)
        return "file://" + quote(str(self.path / image_id))

    def path_for(self, location: str) -> Path:
        """The file behind ``location``; InvalidLocation unless it is directly in our dir."""
        try:
            parts = urlsplit(location)
        except ValueError:
            raise InvalidLocation("malformed location URL") from None
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise InvalidLocation("not a file:// location")
        if parts.query or parts.fragment:
            raise InvalidLocation("a file location has no query or fragment")
        raw = unquote(parts.path)
        if "\x00" in raw or not raw.startswith("/"):
            raise InvalidLocation("a file location needs an absolute path")
        path = Path(os.path.normpath(raw))
        if path.parent != self.path or not _IMAGE_ID.match(path.name) or str(path) != raw:
            raise InvalidLocation(f"location is outside the {self.name!r} store")
        return path

    def owns(self, location: str) -> bool:
        try:
            self.path_for(location)
        except InvalidLocation:
            return False
        return True

    # -- data --------------------------------------------------------------------------------

    async def add(self, image_id: str, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        _check_image_id(image_id)
        upload = _Upload(self.path, image_id)
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{self.name}")

        async def run(fn: Any, *args: Any) -> None:
            try:
                await asyncio.wrap_future(worker.submit(fn, *args))
            except OSError as exc:  # our own file operations, not the source's errors
                raise _os_error(exc, "cannot write the image file") from None

        committing = False
        pending: asyncio.Task[None] | None = None
        try:
            await run(upload.open)
            async for chunk in chunks:
                if not chunk:
                    continue
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(run(upload.write, chunk))
            if pending is not None:
                await pending
            committing = True
            await run(upload.commit)
        except BaseException as exc:
            # Queued behind any write still running, so the file is closed after it.
            cleanup: Future[Any] = worker.submit(upload.abort, committing)
            worker.shutdown(wait=False)
            if pending is not None and not pending.done():
                pending.add_done_callback(lambda t: t.cancelled() or t.exception())
            if not isinstance(exc, asyncio.CancelledError):
                with contextlib.suppress(OSError):
                    await asyncio.wrap_future(cleanup)
            raise
        worker.shutdown(wait=False)
        return self.url_for(image_id), upload.written

    def get(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path_for(location)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        return self._read(path, offset, length)

    async def _read(self, path: Path, offset: int, length: int | None) -> AsyncIterator[bytes]:
        opening = _readers().submit(os.open, path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            fd = await asyncio.wrap_future(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        except FileNotFoundError:
            raise NotFound(f"no image data at {path}") from None
        except OSError as exc:
            raise _os_error(exc, "cannot read the image file") from None
        end = None if length is None else offset + length
        position = offset

        def read_next() -> Future[bytes] | None:
            nonlocal position
            size = self.chunk_size if end is None else min(self.chunk_size, end - position)
            if size <= 0:
                return None
            job = _readers().submit(os.pread, fd, size, position)
            position += size
            return job

        job = read_next()
        try:
            while job is not None:
                data = await asyncio.wrap_future(job)
                if not data:
                    break
                job = read_next()  # read ahead while this chunk is being sent
                yield data
            job = None
        finally:
            # Close only once no read of this fd can still start or run in a thread.
            if job is not None and not job.done():
                job.add_done_callback(lambda _job: os.close(fd))
            else:
                os.close(fd)

    async def delete(self, location: str) -> None:
        path = self.path_for(location)
        try:
            await asyncio.to_thread(os.unlink, path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _os_error(exc, "cannot delete the image file") from None

    async def holdings(self, idle: float) -> set[str]:
        def scan() -> set[str]:
            found: set[str] = set()
            cutoff = time.time() - idle
            try:
                entries = list(os.scandir(self.path))
            except FileNotFoundError:
                return found
            for entry in entries:
                name = entry.name
                if name.startswith(".") and name.endswith(".part"):
                    name = name[1:].rsplit(".", 2)[0]
                with contextlib.suppress(FileNotFoundError):
                    if _IMAGE_ID.match(name) and entry.stat().st_mtime < cutoff:
                        found.add(name)
            return found

        return await asyncio.to_thread(scan)

    async def discard(self, image_id: str) -> None:
        _check_image_id(image_id)

        def remove() -> None:
            for path in [self.path / image_id, *self.path.glob(f".{image_id}.*.part")]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

        try:
            await asyncio.to_thread(remove)
        except OSError as exc:
            raise _os_error(exc, "cannot delete the image file") from None

    async def size(self, location: str) -> int:
        path = self.path_for(location)
        try:
            st = await asyncio.to_thread(os.stat, path, follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"no image data at {path}") from None
        return st.st_size
