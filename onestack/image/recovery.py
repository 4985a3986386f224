"""Reconcile the work of image processes that are gone (level-triggered, idempotent).

Uploads, stages and imports hold a lease (:mod:`onestack.common.leases`) while they run. Every
image process looks for lapsed leases at start and then periodically, and ends the work as its
own failure would have ended it:

- an upload (``saving``): the image is ``killed``, whatever the store kept of it removed;
- a stage (``uploading``): the image is back to ``queued``, the staged data removed;
- the hashing of a location a service added (``location-verify`` / ``location-hash``): as
  its failure would end it (:func:`onestack.image.locations.reconcile_lapsed`);
- an import run by a worker on the in-process bus: the task failed, the image back where the
  import can be retried (:meth:`ImportJob.fail_in`). On a broker (RabbitMQ) the import's cast
  is delivered again to another worker, which starts over: nothing to do but drop the lease.

Claiming a lapsed lease is a conditional delete, so two processes never reconcile one image
twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.common.leases import Lapsed
from onestack.image.models import Image, ImageLocation, table
from onestack.image.stores import Store, discard_from

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
LOCATIONS = table(ImageLocation)
#: What each kind of lapsed work leaves the image as: (status it had, status it gets).
TRANSFERS = {"upload": ("saving", "killed"), "stage": ("uploading", "queued")}
SWEEP_BATCH = 500


async def reconcile(mgr: ImageManager) -> int:
    """End the lapsed work of processes that are gone; how many images were reconciled."""
    async with mgr.read() as session:
        lapsed = await mgr.leases.lapsed(session)
    done = 0
    for lease in lapsed:
        try:
            done += await _reconcile_one(mgr, lease)
        except Exception:
            LOG.exception(
                "image %s: could not reconcile its lapsed %s", lease.resource_id, lease.kind
            )
    return done


async def _reconcile_one(mgr: ImageManager, lease: Lapsed) -> int:
    from onestack.image import locations
    from onestack.image.imports import ImportJob

    image_id = lease.resource_id
    if lease.kind in TRANSFERS:
        was, becomes = TRANSFERS[lease.kind]
        async with mgr.write() as session:
            if not await mgr.leases.reclaim(session, lease):
                return 0
            values = {"status": becomes, "updated_at": utcnow()}
            if lease.kind == "stage":
                values["size"] = None
            await session.execute(
                update(IMAGES)
                .where(IMAGES.c.id == image_id, IMAGES.c.status == was)
                .values(**values)
            )
            recorded = set(
                (
                    await session.execute(
                        select(LOCATIONS.c.store).where(LOCATIONS.c.image_id == image_id)
                    )
                ).scalars()
            )
        if lease.kind == "stage":
            stores: list[Store] = [mgr.staging]
        else:
            stores = [s for name, s in mgr.stores.items() if name not in recorded]
        await discard_from(stores, image_id)
        LOG.warning(
            "image %s: the %s of process %s stopped; image %s if it exists, data removed",
            image_id,
            lease.kind,
            lease.holder,
            becomes,
        )
        return 1
    if lease.kind == "import":
        cleanup = None
        async with mgr.write() as session:
            if not await mgr.leases.reclaim(session, lease):
                return 0
            job = await ImportJob.for_image(mgr, session, image_id)
            if job is not None:
                cleanup = await job.fail_in(
                    session,
                    f"Interrupted: the process running the import ({lease.holder}) stopped.",
                )
        if cleanup is not None:
            await cleanup()
        LOG.warning(
            "image %s: the import of process %s stopped; task failed", image_id, lease.holder
        )
        return 1
    if lease.kind in (locations.VERIFY, locations.HASH):
        async with mgr.write() as session:
            if not await mgr.leases.reclaim(session, lease):
                return 0
            dropped = await locations.reconcile_lapsed(mgr, session, image_id, lease.kind)
        for store, url in dropped:
            await locations.discard(store, url)
        LOG.warning(
            "image %s: the %s of process %s stopped; ended as a failure",
            image_id,
            lease.kind,
            lease.holder,
        )
        return 1
    # the broker delivers the cast again: the next worker starts the import over
    async with mgr.write() as session:
        return int(await mgr.leases.reclaim(session, lease))


async def sweep(mgr: ImageManager) -> int:
    """Remove the data no image records, left by a process that died between deleting an image
    and its files, or between storing data and recording it; how many images' worth. Files
    written to within the lease time, and those of images with live work, are left alone."""
    removed = 0
    for store in [*mgr.stores.values(), mgr.staging]:
        try:
            removed += await _sweep_store(mgr, store)
        except Exception:
            LOG.exception("could not sweep store %s", store.name)
    return removed


async def _sweep_store(mgr: ImageManager, store: Store) -> int:
    held = sorted(await store.holdings(mgr.leases.ttl.total_seconds()))
    leftovers: list[str] = []
    for start in range(0, len(held), SWEEP_BATCH):
        batch = held[start : start + SWEEP_BATCH]
        async with mgr.read() as session:
            kept = await _recorded(mgr, session, store, batch)
        leftovers += [image_id for image_id in batch if image_id not in kept]
    for image_id in leftovers:
        LOG.warning(
            "image %s: removing data of store %s that no image records", image_id, store.name
        )
        await discard_from([store], image_id)
    return len(leftovers)


async def _recorded(
    mgr: ImageManager, session: AsyncSession, store: Store, image_ids: list[str]
) -> set[str]:
    """Which of ``image_ids`` have a reason for data in ``store``: live work, a location, or
    (in the staging area) an import waiting for the staged data."""
    if store is mgr.staging:
        stmt = select(IMAGES.c.id).where(
            IMAGES.c.id.in_(image_ids), IMAGES.c.status.in_(("uploading", "importing"))
        )
    else:
        stmt = select(LOCATIONS.c.image_id).where(
            LOCATIONS.c.image_id.in_(image_ids), LOCATIONS.c.store == store.name
        )
    busy = await mgr.leases.live(session, image_ids)
    return busy | set((await session.execute(stmt)).scalars())
