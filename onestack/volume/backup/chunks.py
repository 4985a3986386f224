"""Where backup chunks live: a directory (posix driver) or a container in the Object Storage
service (swift driver, through its public API as the ``cinder`` service user)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from onestack.volume.core import VolumeCore


class BackupStoreError(RuntimeError):
    pass


class ChunkStore(Protocol):
    name: str

    async def put(self, container: str, key: str, data: bytes) -> None: ...

    async def get(self, container: str, key: str) -> bytes: ...

    async def delete(self, container: str, key: str) -> None: ...


class PosixStore:
    """Chunks as files ``ROOT/CONTAINER/KEY``."""

    name = "posix"

    def __init__(self, root: Path):
        self.root = root

    def _path(self, container: str, key: str) -> Path:
        path = (self.root / container / key).resolve()
        if self.root.resolve() not in path.parents:
            raise BackupStoreError(f"invalid backup object name {container}/{key}")
        return path

    async def put(self, container: str, key: str, data: bytes) -> None:
        path = self._path(container, key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.rename(path)

        await asyncio.to_thread(write)

    async def get(self, container: str, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(container, key).read_bytes)
        except FileNotFoundError:
            raise BackupStoreError(f"backup object {container}/{key} is missing") from None

    async def delete(self, container: str, key: str) -> None:
        path = self._path(container, key)
        await asyncio.to_thread(path.unlink, True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


class SwiftStore:
    """Chunks as objects of a container in the Object Storage service."""

    name = "swift"

    def __init__(self, core: VolumeCore):
        self.core = core
        self._made: set[str] = set()

    async def _request(self, method: str, path: str, **kwargs: object) -> bytes:
        resp = await self.core.service_request("object-store", None, method, path, **kwargs)
        if resp.status_code == 404 and method == "DELETE":
            return b""
        if resp.status_code >= 300:
            raise BackupStoreError(f"Object Storage answered {resp.status_code} to {method} {path}")
        return resp.content

    async def put(self, container: str, key: str, data: bytes) -> None:
        if container not in self._made:
            await self._request("PUT", f"/{container}")
            self._made.add(container)
        await self._request("PUT", f"/{container}/{key}", content=data)

    async def get(self, container: str, key: str) -> bytes:
        return await self._request("GET", f"/{container}/{key}")

    async def delete(self, container: str, key: str) -> None:
        await self._request("DELETE", f"/{container}/{key}")


def store_for(core: VolumeCore, service: str) -> ChunkStore:
    if service == "swift":
        return SwiftStore(core)
    root = core.conf.backup_posix_path or core.settings.data_dir / "volume-backups"
    return PosixStore(root)
