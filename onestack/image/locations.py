"""The location API of Image API 2.17: ``POST`` and ``GET /v2/images/{id}/locations``.

A service (Compute writing a snapshot, Block Storage a volume upload) that put an image's data
into one of the configured stores itself registers it as the image's location, once, while the
image is ``queued``; Glance's rules:

- policy ``add_image_location`` (the service role, or a member of the owning project) and, as
  Glance allows end users only through an http store, which onestack has not, the service role;
- the URL must be one a configured store owns, hold data, and be no other image's location;
- ``validation_data`` (``os_hash_algo`` + ``os_hash_value``) is checked for shape up front
  (400). With ``do_secure_hash`` (default) the data is read and hashed in the background: with
  validation data the image is ``importing`` until the hash matches (then ``active``) or not
  (back to ``queued``, the location dropped); without, the image is ``active`` at once with
  ``os_hash_algo`` set, and ``checksum`` / ``os_hash_value`` follow (``os_hash_algo`` is
  removed if hashing fails). Without ``do_secure_hash`` the given values are taken as they are.
- ``fetch_image_location`` (the service role) lists an image's locations.

The background hashing holds a lease (``location-verify`` / ``location-hash``); a process that
dies meanwhile is reconciled as a failure would end the work (:func:`reconcile_lapsed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, PayloadTooLarge
from onestack.image.data import add_location
from onestack.image.hashing import ImageDataPipeline
from onestack.image.imports import LOCK
from onestack.image.models import Image, ImageLocation, ImageProperty, table
from onestack.image.records import get_visible, target
from onestack.image.stores import InvalidLocation, Store, StoreError, find_store

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
LOCATIONS = table(ImageLocation)
PROPS = table(ImageProperty)
VERIFY, HASH = "location-verify", "location-hash"
#: Hash algorithms validation data may name (fixed-length digests).
ALGORITHMS = sorted(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake"))
HASH_TRIES = 3
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def parse_body(body: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """The URL and the validation data of an add-location body; 400 for anything else."""
    unknown = set(body) - {"url", "validation_data"}
    if unknown:
        raise BadRequest(f"Additional properties are not allowed: {', '.join(sorted(unknown))}")
    url = body.get("url")
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise BadRequest("'url' is required: a string of at most 2048 characters.")
    data = body.get("validation_data")
    if data is None or data == {}:  # openstacksdk sends {} for none
        return url, None
    if not isinstance(data, dict) or set(data) != {"os_hash_algo", "os_hash_value"}:
        raise BadRequest("'validation_data' needs exactly 'os_hash_algo' and 'os_hash_value'.")
    algo, value = data["os_hash_algo"], data["os_hash_value"]
    if not isinstance(algo, str) or algo not in ALGORITHMS:
        raise BadRequest(f"Unsupported os_hash_algo {algo!r}: use one of {', '.join(ALGORITHMS)}.")
    size = hashlib.new(algo).digest_size * 2
    if not isinstance(value, str) or len(value) != size or not _HEX.match(value):
        raise BadRequest(f"os_hash_value must be {size} hexadecimal digits for {algo}.")
    return url, {"os_hash_algo": algo, "os_hash_value": value.lower()}


async def add(mgr: ImageManager, ctx: RequestContext, image_id: str, body: dict[str, Any]) -> None:
    """Register the location (202 follows); hashing goes on in the background."""
    url, validation = parse_body(body)
    async with mgr.read() as session:
        record = await get_visible(mgr, session, ctx, image_id)
    mgr.enforce(ctx, "add_image_location", target(ctx, record.row, record.is_member))
    if "service" not in ctx.roles:
        raise Forbidden(
            "Only a service may add an image location here: end users may do so only "
            "through an http store, which this cloud does not have."
        )
    try:
        store = find_store(mgr.stores, url)
        size = await store.size(url)
    except (InvalidLocation, StoreError) as exc:
        raise BadRequest(f"Invalid location {url!r}: {exc}") from None
    if size > mgr.conf.image_size_cap:
        raise PayloadTooLarge(f"Image exceeds the image size cap ({mgr.conf.image_size_cap}).")
    secure = mgr.conf.do_secure_hash
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        if row.status != "queued":
            raise Conflict(
                f"Image {image_id} is {row.status}: a location is added only while queued."
            )
        if LOCK in record.properties:
            raise Conflict("An import of this image is in progress.")
        taken = (
            await session.execute(select(LOCATIONS.c.image_id).where(LOCATIONS.c.url == url))
        ).first()
        if taken is not None:
            raise Conflict("The location already exists.")
        left = await mgr.quotas.remaining_bytes(session, row.owner, "image_size_total")
        if left is not None and size > left:
            raise PayloadTooLarge("Adding this location would exceed the project's image quota.")
        await add_location(session, image_id, store.name, url)
        values: dict[str, Any] = {"size": size, "updated_at": utcnow(), "status": "active"}
        if secure and validation:
            values["status"] = "importing"
            await mgr.leases.take(session, image_id, VERIFY)
        elif secure:
            values["os_hash_algo"] = mgr.conf.hashing_algorithm
            await mgr.leases.take(session, image_id, HASH)
        elif validation:
            values.update(validation)
        await session.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(**values))
    if secure:
        algo = validation["os_hash_algo"] if validation else mgr.conf.hashing_algorithm
        expected = validation["os_hash_value"] if validation else None
        mgr.spawn(_hash(mgr, image_id, store, url, algo, expected), f"location-hash-{image_id}")


async def list_locations(
    mgr: ImageManager, ctx: RequestContext, image_id: str
) -> list[dict[str, Any]]:
    async with mgr.read() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        mgr.enforce(ctx, "fetch_image_location", target(ctx, record.row, record.is_member))
        rows = await session.execute(
            select(LOCATIONS.c.url, LOCATIONS.c.meta)
            .where(LOCATIONS.c.image_id == image_id, LOCATIONS.c.status == "active")
            .order_by(LOCATIONS.c.id)
        )
        return [{"url": url, "metadata": meta or {}} for url, meta in rows]


async def _hash(
    mgr: ImageManager, image_id: str, store: Store, url: str, algo: str, expected: str | None
) -> None:
    """Read the location's data and record its hashes (or, when they had to match and do
    not, undo the location); the lease ends in the transaction that records the outcome."""
    pipeline: ImageDataPipeline | None = None
    for attempt in range(1, HASH_TRIES + 1):
        try:
            pipeline = ImageDataPipeline(
                store.get(url), disk_format=None, max_size=None, hash_algo=algo
            )
            async for _ in pipeline:
                pass
            await pipeline.finish()
            break
        except (StoreError, OSError, ValueError) as exc:
            LOG.warning("image %s: hashing %s failed (try %d): %s", image_id, url, attempt, exc)
            pipeline = None
            await asyncio.sleep(0.1 * attempt)
    ok = pipeline is not None and (expected is None or pipeline.os_hash_value == expected)
    async with mgr.write() as session:
        if expected is not None:
            await _end_verify(mgr, session, image_id, url, pipeline if ok else None)
        else:
            await _end_hash(session, image_id, url, pipeline)
        await mgr.leases.release(session, image_id)
    if expected is not None and not ok:
        LOG.info("image %s: the data at %s does not match its validation data", image_id, url)
        await discard(store, url)


async def _end_verify(
    mgr: ImageManager,
    session: AsyncSession,
    image_id: str,
    url: str,
    pipeline: ImageDataPipeline | None,
) -> None:
    if pipeline is not None:
        await session.execute(
            update(IMAGES)
            .where(IMAGES.c.id == image_id, IMAGES.c.status == "importing")
            .values(
                status="active",
                size=pipeline.size,
                checksum=pipeline.checksum,
                os_hash_algo=pipeline.os_hash_algo,
                os_hash_value=pipeline.os_hash_value,
                updated_at=utcnow(),
            )
        )
        return
    await _undo(session, image_id, url)


async def _undo(session: AsyncSession, image_id: str, url: str) -> None:
    """Back to ``queued`` without the location (the hash did not match, or its check died)."""
    await session.execute(
        delete(LOCATIONS).where(LOCATIONS.c.image_id == image_id, LOCATIONS.c.url == url)
    )
    await session.execute(
        update(IMAGES)
        .where(IMAGES.c.id == image_id, IMAGES.c.status == "importing")
        .values(status="queued", size=None, updated_at=utcnow())
    )


async def _end_hash(
    session: AsyncSession, image_id: str, url: str, pipeline: ImageDataPipeline | None
) -> None:
    still = (
        await session.execute(
            select(LOCATIONS.c.id).where(LOCATIONS.c.image_id == image_id, LOCATIONS.c.url == url)
        )
    ).first()
    if still is None:
        return  # the image (or its location) went away meanwhile
    if pipeline is None:
        values: dict[str, Any] = {"os_hash_algo": None}  # no hash will come
    else:
        values = {"checksum": pipeline.checksum, "os_hash_value": pipeline.os_hash_value}
    await session.execute(
        update(IMAGES)
        .where(IMAGES.c.id == image_id, IMAGES.c.os_hash_value.is_(None))
        .values(**values, updated_at=utcnow())
    )


async def discard(store: Store, url: str) -> None:
    try:
        await store.delete(url)
    except StoreError as exc:
        LOG.warning("could not remove the refused data at %s: %s", url, exc)


async def reconcile_lapsed(
    mgr: ImageManager, session: AsyncSession, image_id: str, kind: str
) -> list[tuple[Store, str]]:
    """End a dead process's location hashing as its failure would, in ``session``: a check
    that had to match undoes the location (its data is returned, to remove after the commit),
    a plain hash leaves the image without ``os_hash_algo``."""
    rows = (
        await session.execute(
            select(LOCATIONS.c.store, LOCATIONS.c.url).where(LOCATIONS.c.image_id == image_id)
        )
    ).all()
    if kind == HASH:
        await session.execute(
            update(IMAGES)
            .where(IMAGES.c.id == image_id, IMAGES.c.os_hash_value.is_(None))
            .values(os_hash_algo=None, updated_at=utcnow())
        )
        return []
    status = (
        await session.execute(select(IMAGES.c.status).where(IMAGES.c.id == image_id))
    ).scalar()
    if status != "importing":
        return []
    dropped = []
    for store_id, url in rows:
        await _undo(session, image_id, url)
        if store_id in mgr.stores:
            dropped.append((mgr.stores[store_id], url))
    return dropped
