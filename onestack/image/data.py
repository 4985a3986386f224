"""Image data: upload (``PUT .../file``), staging (``PUT .../stage``) and download.

An upload streams the request body through :class:`ImageDataPipeline` (md5, sha512, size cap,
format inspection) into the store; nothing holds the whole image in memory. Status goes
queued -> saving -> active. A refused upload (too large, over quota, wrong format) puts the
image back to ``queued`` with no data left behind; an upload that breaks (client gone, store
failure) leaves it ``killed``, also with no data left behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from onestack.image.hashing import ImageDataPipeline, ImageTooLarge, InvalidImageData
from onestack.image.models import Image, ImageLocation, table
from onestack.image.records import Record, get_visible, target
from onestack.image.stores import StorageFull, Store, StoreError
from onestack.image.views import notification_payload

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
LOCATIONS = table(ImageLocation)


class Interrupted(APIError):
    """The upload stream broke before its end (the client went away)."""

    code, title, kind = 400, "Bad Request", "BadRequest"


class StoreFailed(APIError):
    """The store could not keep the data (not the client's fault)."""


def invalid_transition(current: str, wanted: str) -> Conflict:
    return Conflict(f"Image status transition from {current} to {wanted} is not allowed")


async def _claim(
    mgr: ImageManager,
    ctx: RequestContext,
    image_id: str,
    *,
    to: str,
    rule: str,
    resources: dict[str, int],
) -> Record:
    """Move a queued image to ``to`` (saving/uploading) after the checks, in one transaction."""
    if ctx.project_id is not None:
        await mgr.quotas.limits(ctx.project_id)  # cached before the write lock
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        mgr.enforce(ctx, rule, target(ctx, row, record.is_member))
        if row.status != "queued":
            raise invalid_transition(row.status, to)
        if to == "saving" and (row.container_format is None or row.disk_format is None):
            raise BadRequest(
                "Properties disk_format, container_format must be set prior to saving data."
            )
        await mgr.quotas.enforce(session, row.owner, resources)
        result = await session.execute(
            update(IMAGES)
            .where(IMAGES.c.id == image_id, IMAGES.c.status == "queued")
            .values(status=to, updated_at=utcnow())
        )
        if cast(CursorResult[Any], result).rowcount != 1:
            raise invalid_transition(row.status, to)
        # this process owns the transfer; if it dies, another one reconciles the image
        await mgr.leases.take(session, image_id, "upload" if to == "saving" else "stage")
    return record


async def _set_status(mgr: ImageManager, image_id: str, status: str, **values: Any) -> None:
    """End this process's transfer: the image's new status and the lease released at once."""
    async with mgr.write() as session:
        await session.execute(
            update(IMAGES)
            .where(IMAGES.c.id == image_id)
            .values(status=status, updated_at=utcnow(), **values)
        )
        await mgr.leases.release(session, image_id)


def declared_size(headers: Any) -> int | None:
    for name in ("x-openstack-image-size", "content-length"):
        raw = headers.get(name)
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = -1
            if size < 0:
                raise BadRequest(f"Invalid {name} header: {raw[:80]!r}")
            return size
    return None


@dataclass
class Cap:
    """The size limit of one upload and why it is there."""

    limit: int
    reason: str

    def error(self) -> PayloadTooLarge:
        if self.reason == "quota":
            return PayloadTooLarge(
                f"Image exceeds the storage quota: only {self.limit} more bytes are allowed."
            )
        return PayloadTooLarge(
            f"The incoming image is too large: it exceeds the limit of {self.limit} bytes."
        )


async def _cap(mgr: ImageManager, owner: str | None, resource: str) -> Cap:
    cap = Cap(mgr.conf.image_size_cap, "size")
    async with mgr.read() as session:
        left = await mgr.quotas.remaining_bytes(session, owner, resource)
    if left is not None and left < cap.limit:
        cap = Cap(left, "quota")
    return cap


def _check_declared(mgr: ImageManager, size: int | None) -> None:
    """A declared size over the image size cap is refused before the image is touched."""
    if size is not None and size > mgr.conf.image_size_cap:
        raise Cap(mgr.conf.image_size_cap, "size").error()


def check_content_type(content_type: str | None) -> None:
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/octet-stream":
        raise UnsupportedMediaType(
            f"Content type {content_type or 'None'} is not supported; use application/octet-stream."
        )


def pick_store(mgr: ImageManager, store_id: str | None) -> Store:
    if store_id is None:
        return mgr.stores[mgr.default_store]
    store = mgr.stores.get(store_id)
    if store is None:
        raise BadRequest(f"Store for identifier {store_id} not found")
    return store


async def upload(
    mgr: ImageManager,
    ctx: RequestContext,
    image_id: str,
    body: AsyncIterator[bytes],
    *,
    size: int | None,
    store_id: str | None = None,
) -> None:
    """PUT /v2/images/{id}/file."""
    store = pick_store(mgr, store_id)
    _check_declared(mgr, size)
    record = await _claim(
        mgr,
        ctx,
        image_id,
        to="saving",
        rule="upload_image",
        resources={"image_size_total": 0, "image_count_uploading": 1},
    )
    row = record.row
    try:
        cap = await _cap(mgr, row.owner, "image_size_total")
        if size is not None and size > cap.limit:
            raise cap.error()
        pipeline = ImageDataPipeline(
            body,
            disk_format=row.disk_format,
            container_format=row.container_format,
            max_size=cap.limit,
            hash_algo=mgr.conf.hashing_algorithm,
        )
        location = await _store_stream(store, image_id, pipeline, cap)
    except (PayloadTooLarge, UnsupportedMediaType, BadRequest):
        await _set_status(mgr, image_id, "queued")
        raise
    except BaseException:
        await _set_status(mgr, image_id, "killed")
        raise
    await _activate(mgr, ctx, record, store, location, pipeline)


async def _store_stream(store: Store, image_id: str, pipeline: ImageDataPipeline, cap: Cap) -> str:
    """Run the stream into the store; maps every failure to the API error it means."""
    try:
        location, _written = await store.add(image_id, aiter(pipeline))
        await pipeline.finish()
    except ImageTooLarge:
        raise cap.error() from None
    except InvalidImageData as exc:
        raise UnsupportedMediaType(f"Image data is refused: {exc}") from None
    except StorageFull as exc:
        raise PayloadTooLarge(f"Image storage media is full: {exc}") from None
    except StoreError as exc:
        LOG.error("image %s: store %s failed: %s", image_id, store.name, exc)
        raise StoreFailed(f"The image store failed: {exc}") from None
    except (ClientDisconnect, OSError):  # the request body broke before its end
        raise Interrupted("The client disconnected before sending all image data.") from None
    return location


async def _activate(
    mgr: ImageManager,
    ctx: RequestContext,
    record: Record,
    store: Store,
    location: str,
    pipeline: ImageDataPipeline,
) -> None:
    """Record the stored data and make the image active (410 if it was deleted meanwhile)."""
    image_id = record.id
    async with mgr.write() as session:
        current = (
            await session.execute(
                select(IMAGES.c.status).where(IMAGES.c.id == image_id).with_for_update()
            )
        ).first()
        if current is not None and current.status == "saving":
            values = dict(
                status="active",
                size=pipeline.size,
                virtual_size=pipeline.virtual_size,
                checksum=pipeline.checksum,
                os_hash_algo=pipeline.os_hash_algo,
                os_hash_value=pipeline.os_hash_value,
                updated_at=utcnow(),
            )
            await session.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(**values))
            await add_location(session, image_id, store.name, location)
        await mgr.leases.release(session, image_id)
    if current is None or current.status != "saving":
        await store.delete(location)
        raise Gone(
            f"Image {image_id} could not be found after upload. The image may have been "
            "deleted during the upload, cleaning up the chunks uploaded."
        )
    row = SimpleNamespace(**{**record.row._asdict(), **values})
    payload = notification_payload(row, record.properties, record.tags)
    await mgr.notify(ctx, "image.upload", payload)
    await mgr.notify(ctx, "image.activate", payload)


async def add_location(session: AsyncSession, image_id: str, store_id: str, url: str) -> None:
    await session.execute(
        insert(LOCATIONS),
        [
            {
                "image_id": image_id,
                "store": store_id,
                "url": url,
                "status": "active",
                "meta": {"store": store_id},
                "created_at": utcnow(),
            }
        ],
    )


# -- staging -------------------------------------------------------------------------------


async def stage(
    mgr: ImageManager,
    ctx: RequestContext,
    image_id: str,
    body: AsyncIterator[bytes],
    *,
    size: int | None,
) -> None:
    """PUT /v2/images/{id}/stage: keep the data in the staging area (queued -> uploading)."""
    if "glance-direct" not in mgr.conf.enabled_import_methods:
        raise Forbidden("The glance-direct import method is not enabled.")
    _check_declared(mgr, size)
    record = await _claim(
        mgr,
        ctx,
        image_id,
        to="uploading",
        rule="upload_image",
        resources={"image_stage_total": 0, "image_count_uploading": 1},
    )
    cap = await _cap(mgr, record.row.owner, "image_stage_total")
    try:
        if size is not None and size > cap.limit:
            raise cap.error()
        pipeline = ImageDataPipeline(
            body, disk_format=None, max_size=cap.limit, hash_algo=mgr.conf.hashing_algorithm
        )
        await _store_stream(mgr.staging, image_id, pipeline, cap)
    except BaseException:
        await _set_status(mgr, image_id, "queued")
        raise
    # Glance records the staged size on the image (the stage quota counts it).
    await _set_status(mgr, image_id, "uploading", size=pipeline.size)


# -- download ------------------------------------------------------------------------------


@dataclass
class Download:
    """What GET .../file sends: None ``chunks`` means 204 (no data)."""

    chunks: AsyncIterator[bytes] | None
    size: int
    checksum: str | None
    start: int = 0
    end: int | None = None  # inclusive, for 206 responses
    partial: bool = False


class RangeNotSatisfiable(APIError):
    code, title, kind = 416, "Requested Range Not Satisfiable", "RangeNotSatisfiable"
    default_message = "The requested range is not satisfiable."


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> (first, last) inclusive; None: whole."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise BadRequest(f"Invalid Range header: {header!r}")
    if "," in spec:
        raise BadRequest("Multiple ranges are not supported.")
    first_raw, sep, last_raw = spec.strip().partition("-")
    if not sep:
        raise BadRequest(f"Invalid Range header: {header!r}")
    try:
        if first_raw == "":
            suffix = int(last_raw)
            if suffix <= 0:
                raise ValueError
            first, last = max(0, size - suffix), size - 1
        else:
            first = int(first_raw)
            last = int(last_raw) if last_raw else size - 1
            if first < 0 or last < first:
                raise ValueError
    except ValueError:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}) from None
    if first >= size:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return first, min(last, size - 1)


async def download(
    mgr: ImageManager, ctx: RequestContext, image_id: str, range_header: str | None
) -> Download:
    """GET /v2/images/{id}/file."""
    async with mgr.read() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        row = record.row
        mgr.enforce(ctx, "download_image", target(ctx, row, record.is_member))
        if row.status == "deactivated" and not mgr.is_admin(ctx):
            raise Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        stmt = (
            select(LOCATIONS.c.store, LOCATIONS.c.url)
            .where(LOCATIONS.c.image_id == image_id, LOCATIONS.c.status == "active")
            .order_by(LOCATIONS.c.id)
        )
        locations = (await session.execute(stmt)).all()
    usable = [(mgr.stores[s], url) for s, url in locations if s in mgr.stores]
    if row.status not in ("active", "deactivated") or not usable or row.size is None:
        return Download(None, 0, None)
    store, url = usable[0]
    size = int(row.size)
    wanted = parse_range(range_header, size) if size > 0 else None
    cache = mgr.cache
    cached = cache is not None and size > 0 and cache.is_cached(image_id)
    if wanted is None:
        if cache is None or size == 0:
            return Download(store.get(url), size, row.checksum)
        if cached:
            return Download(cache.read(image_id, lambda: store.get(url)), size, row.checksum)
        return Download(cache.tee(image_id, store.get(url), size, row.checksum), size, row.checksum)
    first, last = wanted
    if cached:
        assert cache is not None
        length = last - first + 1
        chunks = cache.read(image_id, lambda: store.get(url, first, length), first, length)
    else:
        chunks = store.get(url, first, last - first + 1)
    return Download(chunks, size, row.checksum, first, last, partial=True)
