"""Object requests: PUT (streamed, ETag checked, chunked), GET / HEAD (ranges, conditions,
large objects), POST (metadata), DELETE, COPY and X-Copy-From, expiry, versioning."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from onestack.object import timestamps
from onestack.object.proxy import constraints
from onestack.object.proxy.base import (
    Controller,
    authorize,
    container_acls,
    request_timestamp,
    title,
)
from onestack.object.proxy.http import ClientGone, HTTPError, Request, Response
from onestack.object.proxy.ranges import check_conditions, parse_range
from onestack.object.servers import object as disk
from onestack.object.servers.container import ContainerInfo

USER_HEADERS = (
    "content-disposition",
    "content-encoding",
    "x-delete-at",
    "x-object-manifest",
    "x-symlink-target",
    "x-symlink-target-account",
)
CHUNK = 1 << 16
EXPIRING_ACCOUNT = ".expiring_objects"
EXPIRING_DIVISOR = 86400
VERSION_SYSMETA = "X-Object-Sysmeta-Version-Id"  # object_versioning.SYSMETA
LOG = logging.getLogger(__name__)


class _Sink:
    """Hashes and writes a body: small bodies right here; large ones in 1 MiB blocks, each
    hashed in one worker thread while another writes it (hashlib and os.writev release the
    GIL), one block in flight while the next arrives: a large upload is bound by the slowest
    of receiving, MD5 and the disk, not by their sum."""

    BLOCK = 1 << 20

    def __init__(self, digest: Any, writers: list[Any]):
        self.digest = digest
        self.writers = writers
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.pending: asyncio.Future[Any] | None = None
        #: replicas whose writes failed (a full disk, an object node gone): left out
        self.failed: list[Any] = []

    def _absorb(self, chunks: list[bytes]) -> None:
        self._hash(chunks)
        self._write(chunks)

    def _hash(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.digest.update(chunk)

    def _write(self, chunks: list[bytes]) -> None:
        for w in self.writers:
            if w in self.failed:
                continue
            try:
                w.write_chunks(chunks)
            except OSError:
                LOG.warning("write failed on %s", w.dev["device"], exc_info=True)
                self.failed.append(w)

    @property
    def writing(self) -> list[Any]:
        return [w for w in self.writers if w not in self.failed]

    async def take(self, chunk: bytes) -> None:
        self.buffer.append(chunk)
        self.buffered += len(chunk)
        if self.buffered >= self.BLOCK:
            await self._submit()

    async def _submit(self) -> None:
        chunks = self.buffer  # written as they came (one writev), never joined: no copy
        self.buffer, self.buffered = [], 0
        await self.drain()
        loop = asyncio.get_running_loop()
        self.pending = asyncio.gather(
            loop.run_in_executor(None, self._hash, chunks),
            loop.run_in_executor(None, self._write, chunks),
        )

    async def flush(self) -> None:
        """The rest: written here when the whole body was small (no thread hop)."""
        if self.pending is None and self.buffer:
            self._absorb(self.buffer)
            self.buffer, self.buffered = [], 0
            return
        if self.buffer:
            await self._submit()
        await self.drain()

    async def drain(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending


@dataclass
class Found:
    """A readable object version."""

    metadata: dict[str, Any]
    path: Any  # the data file
    timestamp: str

    @property
    def size(self) -> int:
        return int(self.metadata.get("Content-Length", 0))

    @property
    def etag(self) -> str:
        return str(self.metadata.get("ETag", ""))


@dataclass
class Segment:
    account: str
    container: str
    obj: str
    start: int
    end: int  # exclusive, within the segment
    etag: str = ""


@dataclass
class Body:
    """What a GET streams: one data file, or segments (a large object)."""

    size: int
    found: Found | None = None
    segments: list[Segment] = field(default_factory=list)


def parse_path(value: str, what: str) -> tuple[str, str]:
    """``container/object`` of a Destination / X-Copy-From header."""
    text = unquote(value).lstrip("/")
    container, _, obj = text.partition("/")
    if not container or not obj:
        raise HTTPError(412, f"{what} header must be of the form <container name>/<object name>")
    return container, obj


class ObjectController(Controller):
    # -- entry -----------------------------------------------------------------------------
    async def handle(self, req: Request, account: str, container: str, obj: str) -> Response:
        constraints.check_container_name(container)
        constraints.check_object_name(obj)
        info = self.storage.cached_info(account, container)
        acls = container_acls(info.metadata) if info is not None else None
        method = req.method
        if req.header("x-container-sync-key") is not None and method in ("PUT", "DELETE"):
            from onestack.object.daemons.sync import accepts_sync

            if info is None or not accepts_sync(info.metadata, req.header("x-container-sync-key")):
                raise HTTPError(401, "Invalid X-Container-Sync-Key")
            req.environ["authorize_override"] = True  # a peer's sync, as Swift's container_sync
        authorize(req, account, acls, "object")
        if method in ("GET", "HEAD"):
            return await self.get(req, account, container, obj)
        if info is None:
            raise HTTPError(404)
        if "version-id" in req.params and method != "DELETE":
            raise HTTPError(400, f"version-id is not allowed on {method}")
        if method == "PUT":
            return await self.put(req, account, container, obj, info)
        if method == "POST":
            return self.post(req, account, container, obj)
        if method == "DELETE":
            return await self.delete(req, account, container, obj, info)
        if method == "COPY":
            return await self.copy(req, account, container, obj)
        raise HTTPError(405, headers={"Allow": "COPY, DELETE, GET, HEAD, POST, PUT"})

    # -- reading ---------------------------------------------------------------------------
    def find(self, account: str, container: str, obj: str) -> Found | None:
        from onestack.object.proxy.storage import Unreachable

        try:
            state, _node = self.storage.object_state(account, container, obj, strict=True)
        except Unreachable:
            raise HTTPError(503) from None
        if not state.exists or state.metadata is None:
            return None
        delete_at = state.metadata.get("X-Delete-At")
        if delete_at and int(delete_at) <= time.time():
            return None
        return Found(state.metadata, state.data_file, state.timestamp or "0")

    def response_headers(self, found: Found) -> dict[str, str]:
        meta = found.metadata
        headers = {
            "Content-Type": meta.get("Content-Type", "application/octet-stream"),
            "Etag": found.etag,
            "Last-Modified": timestamps.http_date(meta.get("X-Meta-Timestamp", found.timestamp)),
            "X-Timestamp": found.timestamp,
            "Accept-Ranges": "bytes",
        }
        for key, value in meta.items():
            lower = key.lower()
            if lower.startswith("x-object-meta-") or lower in USER_HEADERS:
                headers[title(lower)] = str(value)
        if meta.get("X-Static-Large-Object"):
            headers["X-Static-Large-Object"] = "True"
        return headers

    async def get(self, req: Request, account: str, container: str, obj: str) -> Response:
        from onestack.object.middleware import large, object_versioning

        found, version = object_versioning.find_version(self, req, account, container, obj)
        if found is None:
            raise HTTPError(404, headers={"X-Object-Version-Id": version} if version else None)
        headers = self.response_headers(found)
        if version is not None:
            headers["X-Object-Version-Id"] = version
        manifest_get = req.param("multipart-manifest") == "get"
        if found.metadata.get("X-Symlink-Target") and req.param("symlink") != "get":
            from onestack.object.middleware import symlink

            return await symlink.follow(self, req, account, found)
        if found.metadata.get("X-Static-Large-Object") and not manifest_get:
            body = await large.slo_body(self, req, account, found, headers)
        elif found.metadata.get("X-Object-Manifest") and not manifest_get:
            body = await large.dlo_body(self, req, account, found, headers)
        else:
            body = Body(found.size, found=found)
            if manifest_get and found.metadata.get("X-Static-Large-Object"):
                headers["Content-Type"] = "application/json; charset=utf-8"
        etag = headers["Etag"].strip('"')
        status = check_conditions(req.headers, etag, found.timestamp, headers)
        if status is not None:
            keep = {
                k: v for k, v in headers.items() if k in ("Etag", "Last-Modified", "X-Timestamp")
            }
            return (
                Response(status, b"", keep, content_type=headers["Content-Type"])
                if status == 304
                else Response(412, b"", keep)
            )
        ranges = parse_range(req.header("range"), body.size)
        if ranges is None:
            headers["Content-Length"] = str(body.size)
            return Response(200, headers=headers, stream=self.stream(body, 0, body.size))
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{body.size}"
            headers["Content-Length"] = str(end - start)
            return Response(206, headers=headers, stream=self.stream(body, start, end))
        boundary = secrets.token_hex(16)
        ctype = headers["Content-Type"]
        parts = []
        length = 0
        for start, end in ranges:
            head = (
                f"--{boundary}\r\nContent-Type: {ctype}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{body.size}\r\n\r\n"
            ).encode()
            parts.append((head, start, end))
            length += len(head) + (end - start) + 2
        tail = f"--{boundary}--".encode()
        length += len(tail)
        headers["Content-Type"] = f"multipart/byteranges;boundary={boundary}"
        headers["Content-Length"] = str(length)

        async def multipart() -> AsyncIterator[bytes]:
            for head, start, end in parts:
                yield head
                async for chunk in self.stream(body, start, end):
                    yield chunk
                yield b"\r\n"
            yield tail

        return Response(206, headers=headers, stream=multipart())

    async def stream(self, body: Body, start: int, end: int) -> AsyncIterator[bytes]:
        if body.found is not None:
            for chunk in disk.read_range(body.found.path, start, end, CHUNK * 4):
                yield chunk
            return
        offset = 0
        for seg in body.segments:
            length = seg.end - seg.start
            lo, hi = max(start, offset), min(end, offset + length)
            if lo < hi:
                found = self.find(seg.account, seg.container, seg.obj)
                if found is None or (seg.etag and found.etag != seg.etag):
                    raise ClientGone()  # a segment went away mid-stream: cut the response
                first = seg.start + lo - offset
                for chunk in disk.read_range(found.path, first, first + hi - lo, CHUNK * 4):
                    yield chunk
            offset += length
            if offset >= end:
                return

    # -- writing ---------------------------------------------------------------------------
    def object_metadata(self, req: Request, obj: str) -> dict[str, Any]:
        meta_headers = constraints.check_metadata(req.headers, "object")
        metadata: dict[str, Any] = {title(k): v for k, v in meta_headers.items()}
        for name in USER_HEADERS:
            value = req.header(name)
            if value is not None and name != "x-delete-at":
                metadata[title(name)] = value
        delete_at = self.delete_at(req)
        if delete_at is not None:
            metadata["X-Delete-At"] = str(delete_at)
        ctype = req.header("content-type")
        if not ctype or req.header("x-detect-content-type", "").lower() in ("true", "1", "yes"):
            ctype = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        metadata["Content-Type"] = ctype
        manifest = metadata.get("X-Object-Manifest")
        if manifest is not None:
            container, _, _prefix = unquote(manifest).partition("/")
            if not container or "/" not in unquote(manifest):
                raise HTTPError(400, "X-Object-Manifest must be in the format container/prefix")
        return metadata

    def delete_at(self, req: Request) -> int | None:
        after = req.header("x-delete-after")
        at = req.header("x-delete-at")
        if after is not None:
            try:
                seconds = int(after)
            except ValueError:
                raise HTTPError(400, "Non-integer X-Delete-After") from None
            if seconds <= 0:
                raise HTTPError(400, "X-Delete-After in past")
            return int(time.time()) + seconds
        if at is not None:
            try:
                when = int(float(at))
            except (ValueError, OverflowError):
                raise HTTPError(400, "Non-integer X-Delete-At") from None
            if when <= time.time():
                raise HTTPError(400, "X-Delete-At in past")
            return when
        return None

    def declared_length(self, req: Request) -> int | None:
        te = (req.header("transfer-encoding") or "").lower()
        cl = req.header("content-length")
        if "chunked" in te:
            if te.strip() != "chunked":
                raise HTTPError(501, "Not Implemented")
            return None
        if cl is None:
            raise HTTPError(411)
        try:
            length = int(cl)
        except ValueError:
            raise HTTPError(400, "Invalid Content-Length") from None
        if length < 0:
            raise HTTPError(400, "Invalid Content-Length")
        if length > constraints.MAX_FILE_SIZE:
            raise HTTPError(413, "Your request is too large.")
        return length

    async def put(
        self, req: Request, account: str, container: str, obj: str, info: ContainerInfo
    ) -> Response:
        copy_from = req.header("x-copy-from")
        if copy_from is not None:
            src_container, src_obj = parse_path(copy_from, "X-Copy-From")
            src_account = unquote(req.header("x-copy-from-account") or account)
            return await self.copy_object(
                req, (src_account, src_container, src_obj), (account, container, obj), info
            )
        if req.param("multipart-manifest") == "put":
            from onestack.object.middleware import large

            return await large.slo_put(self, req, account, container, obj, info)
        if req.header("x-symlink-target") is not None:
            from onestack.object.middleware import symlink

            symlink.check_target(req, account)
        length = self.declared_length(req)
        metadata = self.object_metadata(req, obj)
        if req.header("if-none-match") == "*" and self.find(account, container, obj):
            raise HTTPError(412)
        etag_wanted = (req.header("etag") or "").strip('"').lower() or None
        self.check_container_quota(info, length or 0)
        await self.before_overwrite(req, account, container, obj, info, metadata)
        etag, ts = await self.write(
            account,
            container,
            obj,
            req.stream(),
            metadata,
            length=length,
            etag=etag_wanted,
            req=req,
            info=info,
        )
        headers = {"Etag": etag, "Last-Modified": timestamps.http_date(ts)}
        if VERSION_SYSMETA in metadata:
            headers["X-Object-Version-Id"] = metadata[VERSION_SYSMETA]
        return Response(201, b"", headers, content_type="text/html; charset=UTF-8")

    def check_container_quota(self, info: ContainerInfo, adding: int) -> None:
        if "x-container-meta-quota-bytes" in info.metadata or (
            "x-container-meta-quota-count" in info.metadata
        ):
            info = self.storage.container_info(info.account, info.container) or info
        quota_bytes = info.metadata.get("x-container-meta-quota-bytes")
        quota_count = info.metadata.get("x-container-meta-quota-count")
        if quota_bytes not in (None, "") and info.bytes_used + adding > int(quota_bytes):
            raise HTTPError(413, "Upload exceeds quota.")
        if quota_count not in (None, "") and info.object_count + 1 > int(quota_count):
            raise HTTPError(413, "Upload exceeds quota.")

    def check_account_quota(self, account: str, adding: int) -> None:
        acc = self.storage.cached_info(account)
        if acc is not None and "x-account-meta-quota-bytes" in acc.metadata:
            acc = self.storage.account_info(account)
        if acc is None:
            return
        quota = acc.metadata.get("x-account-meta-quota-bytes")
        if quota not in (None, "") and acc.bytes_used + adding > int(quota):
            raise HTTPError(413, "Upload exceeds quota.")

    async def write(
        self,
        account: str,
        container: str,
        obj: str,
        chunks: AsyncIterator[bytes],
        metadata: dict[str, Any],
        *,
        length: int | None = None,
        etag: str | None = None,
        req: Request | None = None,
        info: ContainerInfo | None = None,
        timestamp: str | None = None,
    ) -> tuple[str, str]:
        """Stream ``chunks`` to every replica; commit on a quorum. Nothing is visible before
        the whole body arrived and checked out."""
        self.check_account_quota(account, length or 0)
        writers, need = self.storage.object_writers(account, container, obj)
        if len(writers) < need:
            for w in writers:
                w.close()
            raise HTTPError(503)
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        limit = constraints.MAX_FILE_SIZE if length is None else length
        sink = _Sink(digest, writers)
        try:
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        if length is None:
                            raise HTTPError(413, "Your request is too large.")
                        raise HTTPError(400, "Request body longer than Content-Length")
                    await sink.take(chunk)
                await sink.flush()
            except ClientGone:
                raise HTTPError(499) from None
            finally:
                await sink.drain()
            if length is not None and size < length:
                raise HTTPError(499)
            actual = digest.hexdigest()
            if etag is not None and etag != actual:
                raise HTTPError(422)
            if info is not None and length is None:
                self.check_container_quota(info, size)
                self.check_account_quota(account, size)
            ts = timestamp or (request_timestamp(req) if req is not None else timestamps.now())
            metadata = {
                **metadata,
                "name": f"/{account}/{container}/{obj}",
                "X-Timestamp": ts,
                "Content-Length": str(size),
                "ETag": actual,
            }
            done = await self.storage.commit(sink.writing, ts, metadata)
        finally:
            for w in writers:
                w.close()
        if done < need:
            raise HTTPError(503)
        listed_size, listed_etag = size, actual
        if metadata.get("X-Static-Large-Object"):
            listed_size = int(metadata.get("X-Object-Sysmeta-Slo-Size", size))
            listed_etag = metadata.get("X-Object-Sysmeta-Slo-Etag", actual)
        self.storage.update_container_listing(
            account, container, obj, ts, listed_size, metadata["Content-Type"], listed_etag, False
        )
        if metadata.get("X-Delete-At"):
            self.queue_expiry(account, container, obj, int(metadata["X-Delete-At"]))
        return actual, ts

    def queue_expiry(self, account: str, container: str, obj: str, delete_at: int) -> None:
        """An entry for the expirer in the hidden ``.expiring_objects`` account."""
        bucket = str(delete_at // EXPIRING_DIVISOR * EXPIRING_DIVISOR)
        ts = timestamps.now()
        if self.storage.container_info(EXPIRING_ACCOUNT, bucket) is None:
            if self.storage.account_info(EXPIRING_ACCOUNT) is None:
                self.storage.put_account(EXPIRING_ACCOUNT, ts)
            self.storage.put_container(EXPIRING_ACCOUNT, bucket, ts, {})
        self.storage.update_container_listing(
            EXPIRING_ACCOUNT,
            bucket,
            f"{delete_at}-{account}/{container}/{obj}",
            ts,
            0,
            "text/plain",
            "d41d8cd98f00b204e9800998ecf8427e",
            False,
        )

    def post(self, req: Request, account: str, container: str, obj: str) -> Response:
        found = self.find(account, container, obj)
        if found is None:
            raise HTTPError(404)
        ts = request_timestamp(req)
        meta_headers = constraints.check_metadata(req.headers, "object")
        metadata: dict[str, Any] = {title(k): v for k, v in meta_headers.items()}
        for name in ("content-disposition", "content-encoding", "x-object-manifest"):
            value = req.header(name)
            if value is not None:
                metadata[title(name)] = value
        delete_at = self.delete_at(req)
        if delete_at is not None:
            metadata["X-Delete-At"] = str(delete_at)
        elif (
            req.header("x-remove-delete-at") is None
            and found.metadata.get("X-Delete-At")
            and "x-delete-at" not in req.headers
        ):
            metadata["X-Delete-At"] = found.metadata["X-Delete-At"]
        if found.metadata.get("X-Symlink-Target"):
            metadata["X-Symlink-Target"] = found.metadata["X-Symlink-Target"]
        if found.metadata.get("X-Object-Sysmeta-S3-Tagging"):  # S3 tags outlive a POST
            metadata["X-Object-Sysmeta-S3-Tagging"] = found.metadata["X-Object-Sysmeta-S3-Tagging"]
        ctype = req.header("content-type") or found.metadata.get("Content-Type")
        metadata["Content-Type"] = ctype
        metadata["X-Timestamp"] = ts
        self.storage.write_marker(account, container, obj, ts, ".meta", metadata)
        if ctype != found.metadata.get("Content-Type"):
            self.storage.update_container_listing(
                account, container, obj, found.timestamp, found.size, ctype, found.etag, False
            )
        if delete_at is not None:
            self.queue_expiry(account, container, obj, delete_at)
        return Response(202, b"", content_type="text/html; charset=UTF-8")

    async def delete(
        self, req: Request, account: str, container: str, obj: str, info: ContainerInfo
    ) -> Response:
        if req.param("multipart-manifest") == "delete":
            from onestack.object.middleware import large

            found = self.find(account, container, obj)
            if found is not None and found.metadata.get("X-Static-Large-Object"):
                return await large.slo_delete(self, req, account, container, obj, found)
        from onestack.object.middleware import object_versioning, versioning

        versioned = await object_versioning.delete(self, req, account, container, obj, info)
        if versioned is not None:
            return versioned
        restored = await versioning.on_delete(self, req, account, container, obj, info)
        if restored is not None:
            return restored
        found = self.find(account, container, obj)
        self.remove(account, container, obj, request_timestamp(req))
        if found is None:
            raise HTTPError(404)
        return Response(204, b"", content_type="text/html; charset=UTF-8")

    def remove(self, account: str, container: str, obj: str, ts: str) -> None:
        self.storage.write_marker(account, container, obj, ts, ".ts", {"X-Timestamp": ts})
        self.storage.update_container_listing(
            account, container, obj, ts, 0, "application/deleted", "noetag", True
        )

    async def before_overwrite(
        self,
        req: Request,
        account: str,
        container: str,
        obj: str,
        info: ContainerInfo,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Keep the version a write replaces (either versioning API); a new version's id
        goes into ``metadata``."""
        from onestack.object.middleware import object_versioning, versioning

        if object_versioning.state(info) is not None:
            await object_versioning.before_put(
                self,
                account,
                container,
                obj,
                info,
                metadata if metadata is not None else {},
                request_timestamp(req),
            )
            return
        await versioning.on_write(self, req, account, container, obj, info)

    # -- copies ----------------------------------------------------------------------------
    async def copy(self, req: Request, account: str, container: str, obj: str) -> Response:
        destination = req.header("destination")
        if not destination:
            raise HTTPError(412, "You must specify a Destination header")
        dst_container, dst_obj = parse_path(destination, "Destination")
        dst_account = unquote(req.header("destination-account") or account)
        constraints.check_container_name(dst_container)
        constraints.check_object_name(dst_obj)
        dst_info = self.storage.container_info(dst_account, dst_container)
        req.method = "PUT"
        try:
            authorize(
                req, dst_account, container_acls(dst_info.metadata) if dst_info else None, "object"
            )
        finally:
            req.method = "COPY"
        if dst_info is None:
            raise HTTPError(404)
        return await self.copy_object(
            req,
            (account, container, obj),
            (dst_account, dst_container, dst_obj),
            dst_info,
            source_checked=True,
        )

    async def copy_object(
        self,
        req: Request,
        src: tuple[str, str, str],
        dst: tuple[str, str, str],
        dst_info: ContainerInfo,
        source_checked: bool = False,
    ) -> Response:
        src_account, src_container, src_obj = src
        src_info = self.storage.container_info(src_account, src_container)
        if not source_checked or src_account != dst[0]:
            method = req.method
            req.method = "GET"
            try:
                authorize(
                    req,
                    src_account,
                    container_acls(src_info.metadata) if src_info else None,
                    "object",
                )
            finally:
                req.method = method
        found = self.find(src_account, src_container, src_obj)
        if found is None:
            raise HTTPError(404)
        from onestack.object.middleware import large

        headers = self.response_headers(found)
        manifest_get = req.param("multipart-manifest") == "get"
        metadata: dict[str, Any] = {}
        if found.metadata.get("X-Static-Large-Object") and not manifest_get:
            body = await large.slo_body(self, req, src_account, found, headers)
        elif found.metadata.get("X-Object-Manifest") and not manifest_get:
            body = await large.dlo_body(self, req, src_account, found, headers)
        else:
            body = Body(found.size, found=found)
            if found.metadata.get("X-Static-Large-Object"):
                for key in (
                    "X-Static-Large-Object",
                    "X-Object-Sysmeta-Slo-Etag",
                    "X-Object-Sysmeta-Slo-Size",
                ):
                    if key in found.metadata:
                        metadata[key] = found.metadata[key]
        fresh = (req.header("x-fresh-metadata") or "").lower() in ("true", "1", "yes")
        if not fresh:
            for key, value in found.metadata.items():
                lower = key.lower()
                if lower.startswith("x-object-meta-") or lower in (
                    "content-disposition",
                    "content-encoding",
                ):
                    metadata[key] = value
            if "X-Object-Manifest" in found.metadata and manifest_get:
                metadata["X-Object-Manifest"] = found.metadata["X-Object-Manifest"]
        meta_headers = constraints.check_metadata(req.headers, "object")
        metadata.update({title(k): v for k, v in meta_headers.items()})
        for name in ("content-disposition", "content-encoding"):
            if req.header(name) is not None:
                metadata[title(name)] = req.header(name)
        metadata["Content-Type"] = (
            req.header("content-type") if req.method == "COPY" else None
        ) or found.metadata.get("Content-Type", "application/octet-stream")
        if (
            req.method == "PUT"
            and req.header("content-type")
            and req.header("content-length") in (None, "0")
        ):
            metadata["Content-Type"] = req.header("content-type")
        delete_at = self.delete_at(req)
        if delete_at is not None:
            metadata["X-Delete-At"] = str(delete_at)
        if body.size > constraints.MAX_FILE_SIZE:
            raise HTTPError(413, "Your request is too large.")
        account, container, obj = dst
        self.check_container_quota(dst_info, body.size)
        await self.before_overwrite(req, account, container, obj, dst_info, metadata)
        etag, ts = await self.write(
            account,
            container,
            obj,
            self.stream(body, 0, body.size),
            metadata,
            length=body.size,
            req=req,
            info=dst_info,
        )
        copied = f"{quote(src_container)}/{quote(src_obj)}"
        return Response(
            201,
            b"",
            {
                "Etag": etag,
                "Last-Modified": timestamps.http_date(ts),
                "X-Copied-From": copied,
                "X-Copied-From-Account": quote(src_account),
                "X-Copied-From-Last-Modified": timestamps.http_date(found.timestamp),
                **(
                    {"X-Object-Version-Id": metadata[VERSION_SYSMETA]}
                    if VERSION_SYSMETA in metadata
                    else {}
                ),
            },
            content_type="text/html; charset=UTF-8",
        )
