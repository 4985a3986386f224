"""The cache API (/v2/cache, Image API 2.14) and the prefetcher over :class:`ImageCache`.

The cache is on when ``[image] image_cache_enabled`` says so, or by default when a store is
remote (not a local file store). The prefetcher runs in the API service (not in image workers:
the cache is that process's local disk): every ``cache_prefetcher_interval`` seconds it caches
the queued images that are active. As in Glance, a queued image stays listed in
``queued_images`` until that run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.image.cache import ImageCache
from onestack.image.models import Image, ImageLocation, table
from onestack.image.records import get_visible
from onestack.image.stores import StoreError
from onestack.image.stores.filesystem import FilesystemStore

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
LOCATIONS = table(ImageLocation)
CLEAR_TARGET = "x-image-cache-clear-target"
NOT_ENABLED = "Caching via API is not supported at this site."


def cache_for(mgr: ImageManager) -> ImageCache | None:
    """The manager's cache, or None where caching is off."""
    enabled = mgr.conf.image_cache_enabled
    if enabled is None:
        enabled = any(not isinstance(s, FilesystemStore) for s in mgr.stores.values())
    if not enabled:
        return None
    root = mgr.conf.image_cache_dir or mgr.settings.data_dir / "image-cache"
    return ImageCache(root.expanduser(), mgr.conf.image_cache_max_size)


def _require(mgr: ImageManager, ctx: RequestContext, rule: str) -> ImageCache:
    mgr.enforce(ctx, rule, {"project_id": ctx.project_id})
    if mgr.cache is None:
        raise NotFound(NOT_ENABLED)
    return mgr.cache


async def listing(mgr: ImageManager, ctx: RequestContext) -> dict[str, object]:
    cache = _require(mgr, ctx, "cache_list")
    entries, queued = await asyncio.to_thread(lambda: (cache.cached(), cache.queued_ids()))
    return {"cached_images": [e.view() for e in entries], "queued_images": queued}


async def queue(mgr: ImageManager, ctx: RequestContext, image_id: str) -> None:
    cache = _require(mgr, ctx, "cache_image")
    async with mgr.read() as session:
        row = (await get_visible(mgr, session, ctx, image_id)).row
    if row.status != "active":
        raise BadRequest("Only images with status active can be targeted for queueing")
    await asyncio.to_thread(cache.enqueue, image_id)  # cached on the prefetcher's next run


async def delete(mgr: ImageManager, ctx: RequestContext, image_id: str) -> None:
    cache = _require(mgr, ctx, "cache_delete")
    async with mgr.read() as session:
        await get_visible(mgr, session, ctx, image_id)
    await asyncio.to_thread(cache.evict, image_id)


async def clear(mgr: ImageManager, ctx: RequestContext, target: str | None) -> None:
    cache = _require(mgr, ctx, "cache_clear")
    target = (target or "").strip().lower() or "both"
    if target not in ("cache", "queue", "both"):
        raise BadRequest(f"If provided '{CLEAR_TARGET}' must be 'cache', 'queue' or empty string.")
    await asyncio.to_thread(cache.clear, target)


# -- the prefetcher ------------------------------------------------------------------------
async def prefetch_once(mgr: ImageManager, cache: ImageCache) -> int:
    """Cache the queued images that are active; drop the others from the queue. Returns how
    many were cached."""
    done = 0
    for image_id in await asyncio.to_thread(cache.queued_ids):
        if cache.is_writing(image_id):
            continue  # a download is caching it now
        if cache.is_cached(image_id):
            cache.unqueue(image_id)
            continue
        async with mgr.read() as session:
            row = (await session.execute(select(IMAGES).where(IMAGES.c.id == image_id))).first()
            locations = (
                await session.execute(
                    select(LOCATIONS.c.store, LOCATIONS.c.url)
                    .where(LOCATIONS.c.image_id == image_id, LOCATIONS.c.status == "active")
                    .order_by(LOCATIONS.c.id)
                )
            ).all()
        usable = [(mgr.stores[s], url) for s, url in locations if s in mgr.stores]
        if row is None or row.status != "active" or not usable or row.size is None:
            LOG.info("image %s: not active or has no data; dropped from the cache queue", image_id)
            cache.unqueue(image_id)
            continue
        store, url = usable[0]
        try:
            if await cache.fill(image_id, store.get(url), int(row.size), row.checksum):
                done += 1
            else:
                cache.unqueue(image_id)  # its data does not verify: do not retry for ever
        except (StoreError, OSError):
            LOG.warning("image %s: prefetch failed; stays queued", image_id, exc_info=True)
    return done


async def forget_deleted(mgr: ImageManager, cache: ImageCache) -> None:
    """Evict cached images whose image is gone (deleted while this process was down)."""
    cached = await asyncio.to_thread(cache.cached_ids)
    if not cached:
        return
    async with mgr.read() as session:
        rows = await session.execute(select(IMAGES.c.id).where(IMAGES.c.id.in_(cached)))
        alive = {r.id for r in rows}
    for image_id in cached:
        if image_id not in alive:
            await asyncio.to_thread(cache.evict, image_id)


async def prefetcher(mgr: ImageManager, cache: ImageCache, wake: asyncio.Event) -> None:
    """Runs until cancelled: reconciles and prunes at start, then on each run (every interval
    or wake-up) prefetches, evicts entries of deleted images and prunes."""
    try:
        await forget_deleted(mgr, cache)
        await cache.prune()
    except Exception:
        LOG.exception("image cache reconciliation failed")
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), mgr.conf.cache_prefetcher_interval)
        wake.clear()
        try:
            await prefetch_once(mgr, cache)
            await forget_deleted(mgr, cache)  # images another API process deleted
            await cache.prune()
        except asyncio.CancelledError:
            raise
        except Exception:
            LOG.exception("image cache prefetcher run failed")
