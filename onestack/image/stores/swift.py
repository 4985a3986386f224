"""The object store (``type = "swift"``): image data kept as objects in a container of the
Image service's own project, through the Object Storage API (in-process when it runs in the
same process, over HTTP otherwise). Location: ``swift+config://<store>/<container>/<id>``.

Uploads stream (chunked) with ``If-None-Match: *``, so data already there is a Duplicate and
an interrupted upload leaves no object (the object server commits only whole bodies).
Downloads read ranges of ``chunk_size`` bytes, so no image is ever held in memory whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from onestack.image.stores import Duplicate, InvalidLocation, NotFound, StorageFull, StoreError

if TYPE_CHECKING:
    from onestack.common.clients import ServiceClient
    from onestack.common.platform import Platform

CHUNK_SIZE = 8 * 1024 * 1024
SCHEME = "swift+config"


class SwiftStore:
    def __init__(
        self,
        name: str,
        container: str = "glance",
        *,
        user: str = "glance",
        chunk_size: int = CHUNK_SIZE,
    ):
        self.name = name
        self.container = container
        self.user = user
        self.chunk_size = chunk_size
        self._client: ServiceClient | None = None
        self._container_ready = False

    def __repr__(self) -> str:
        return f"SwiftStore({self.name!r}, container={self.container!r})"

    def bind(self, platform: Platform) -> None:
        """Reach Object Storage as the Image service's user (called by the manager)."""
        self._client = platform.clients.for_service(
            "object-store", user=self.user, interface="internal"
        )

    @property
    def client(self) -> ServiceClient:
        if self._client is None:
            raise StoreError("the object store is not connected to Object Storage")
        return self._client

    # -- locations -------------------------------------------------------------------------
    def url_for(self, image_id: str) -> str:
        return f"{SCHEME}://{self.name}/{quote(self.container)}/{quote(image_id)}"

    def _object(self, location: str) -> str:
        try:
            parts = urlsplit(location)
        except ValueError:
            raise InvalidLocation("malformed location URL") from None
        container, _, obj = unquote(parts.path).lstrip("/").partition("/")
        if (
            parts.scheme != SCHEME
            or parts.netloc != self.name
            or container != self.container
            or not obj
            or "/" in obj
        ):
            raise InvalidLocation(f"location is outside the {self.name!r} store")
        return obj

    def owns(self, location: str) -> bool:
        try:
            self._object(location)
        except InvalidLocation:
            return False
        return True

    def _path(self, obj: str = "") -> str:
        return f"/{quote(self.container)}" + (f"/{quote(obj)}" if obj else "")

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            return await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(f"Object Storage is unreachable: {exc}") from None
        except Exception as exc:  # ServiceUnavailable: no endpoint in the catalog
            raise StoreError(str(exc)) from None

    # -- data ------------------------------------------------------------------------------
    async def _ensure_container(self) -> None:
        if self._container_ready:
            return
        resp = await self._request("PUT", self._path())
        if resp.status_code not in (201, 202):
            raise StoreError(f"cannot create container {self.container}: {resp.status_code}")
        self._container_ready = True

    async def add(self, image_id: str, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        await self._ensure_container()
        written = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal written
            async for chunk in chunks:
                written += len(chunk)
                yield chunk

        resp = await self._request(
            "PUT",
            self._path(image_id),
            content=counted(),
            headers={"If-None-Match": "*", "Content-Type": "application/octet-stream"},
        )
        if resp.status_code == 412:
            raise Duplicate(f"image data already stored for {image_id}")
        if resp.status_code == 413:
            raise StorageFull("Object Storage refused the image: too large or over quota")
        if resp.status_code != 201:
            raise StoreError(f"Object Storage answered {resp.status_code} to the upload")
        return self.url_for(image_id), written

    async def get(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        obj = self._object(location)
        end = None if length is None else offset + length
        position = offset
        while end is None or position < end:
            last = position + self.chunk_size - 1
            if end is not None:
                last = min(last, end - 1)
            resp = await self._request(
                "GET", self._path(obj), headers={"Range": f"bytes={position}-{last}"}
            )
            if resp.status_code == 404:
                raise NotFound(f"no data at {location}")
            if resp.status_code == 416:
                return
            if resp.status_code not in (200, 206):
                raise StoreError(f"Object Storage answered {resp.status_code} to a read")
            data = resp.content
            if data:
                yield data
            position += len(data)
            total = resp.headers.get("content-range", "").rpartition("/")[2]
            if resp.status_code == 200 or not data or (total.isdigit() and position >= int(total)):
                return

    async def delete(self, location: str) -> None:
        resp = await self._request("DELETE", self._path(self._object(location)))
        if resp.status_code not in (204, 404):
            raise StoreError(f"Object Storage answered {resp.status_code} to a delete")

    async def size(self, location: str) -> int:
        resp = await self._request("HEAD", self._path(self._object(location)))
        if resp.status_code == 404:
            raise NotFound(f"no data at {location}")
        if resp.status_code != 200:
            raise StoreError(f"Object Storage answered {resp.status_code}")
        return int(resp.headers["content-length"])

    async def holdings(self, idle: float) -> set[str]:
        """Objects of the container (an upload is whole or absent, so idle does not matter)."""
        resp = await self._request("GET", self._path(), params={"format": "json"})
        if resp.status_code == 404:
            return set()
        if resp.status_code not in (200, 204):
            raise StoreError(f"Object Storage answered {resp.status_code} to a listing")
        return {row["name"] for row in (resp.json() if resp.status_code == 200 else [])}

    async def discard(self, image_id: str) -> None:
        await self.delete(self.url_for(image_id))


def factory(store_id: str, options: Mapping[str, Any], data_dir: Path) -> SwiftStore:
    kwargs: dict[str, Any] = {}
    if options.get("chunk_size"):
        kwargs["chunk_size"] = int(options["chunk_size"])
    return SwiftStore(
        store_id,
        str(options.get("container") or "glance"),
        user=str(options.get("user") or "glance"),
        **kwargs,
    )
