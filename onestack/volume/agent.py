"""The volume agent (cinder-volume): owns the backends of one host and does their long work —
create, delete, extend, snapshots, backups — taken from ``cinder-volume.<host>``. ``onestack
up`` runs one in-process; ``onestack agent volume --host H`` runs one alone.

Each operation takes a lease on its resource in the transaction that checks the resource's
status, and ends the lease in the transaction that records the outcome, so a crash anywhere is
reconciled on restart (``recovery``) instead of leaving a volume in creating or deleting.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_object_session

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.volume import recovery, services, states
from onestack.volume.core import SharedCore
from onestack.volume.drivers import BackendUnavailable, Location, VolumeDriver, load_driver
from onestack.volume.models import Attachment, Backup, Snapshot, Volume
from onestack.volume.rpcapi import VOLUME_TOPIC

LOG = logging.getLogger(__name__)


class VolumeAgent:
    RPC_API_VERSION = "1.0"

    def __init__(self, platform: Platform):
        self.platform = platform
        self.core = SharedCore.get(platform)
        self.conf = self.core.conf
        self.drivers: dict[str, VolumeDriver] = {}
        self.server = RPCServer(platform.transport, VOLUME_TOPIC, platform.host, [self])
        self._locks: dict[str, asyncio.Lock] = {}

    # -- life -------------------------------------------------------------------------------
    async def start(self) -> None:
        refused = []
        for name, conf in self.conf.backends.items():
            driver = load_driver(name, conf, self.platform.settings)
            try:
                await asyncio.to_thread(driver.check_setup)
            except BackendUnavailable as exc:
                LOG.error("%s", exc)
                refused.append(str(exc))
                continue
            self.drivers[f"{self.platform.host}@{name}"] = driver
        if not self.drivers:
            raise BackendUnavailable("; ".join(refused) or "no volume backend is configured")
        await SharedCore.start(self.platform)
        await self._beat()
        await recovery.reconcile_host(self)
        services.keep_beating(self.core, self._beat, "cinder-volume")
        self.core.spawn(
            self.core.leases.keep(lambda: recovery.reconcile_lapsed(self)), "volume-leases"
        )
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await SharedCore.stop(self.platform)

    async def _beat(self) -> None:
        zone = self.conf.storage_availability_zone
        for host, driver in self.drivers.items():
            stats = await asyncio.to_thread(driver.stats)
            await services.beat(self.core, host, "cinder-volume", zone, stats)
        await services.beat(self.core, self.platform.host, "cinder-backup", zone)

    def driver_for(self, host: str | None) -> VolumeDriver:
        backend = (host or "").split("#", 1)[0]
        driver = self.drivers.get(backend)
        if driver is None:
            raise RuntimeError(f"this agent has no backend {backend}")
        return driver

    # -- the pattern every operation follows -------------------------------------------------
    async def _work(
        self,
        model: type[Any],
        item_id: str,
        kind: str,
        expect: tuple[str, ...],
        work: Callable[[Any], Awaitable[Any]],
        done: Callable[[Any, Any], Awaitable[None] | None],
        failed: Callable[[Any, Exception], None],
        lock_key: str | None = None,
    ) -> None:
        """Lease ``item`` if its status is one of ``expect``; run ``work`` (outside any
        transaction); record ``done`` or ``failed`` and release the lease in one transaction."""
        core = self.core
        async with core.write() as session:
            item = await session.get(model, item_id)
            if item is None or item.status not in expect:
                return
            await core.leases.take(session, item_id, kind)
            session.expunge(item)
        lock = self._locks.setdefault(lock_key or item_id, asyncio.Lock())
        try:
            async with lock:
                result = await work(item)
        except Exception as exc:
            LOG.warning("%s %s failed: %s", kind, item_id, exc, exc_info=True)
            async with core.write() as session:
                row = await session.get(model, item_id)
                if row is not None:
                    failed(row, exc)
                    row.updated_at = utcnow()
                await core.leases.release(session, item_id)
            return
        finally:
            if lock_key is None:
                self._locks.pop(item_id, None)
        async with core.write() as session:
            row = await session.get(model, item_id)
            if row is not None:
                outcome = done(row, result)
                if asyncio.iscoroutine(outcome):
                    await outcome
                if hasattr(row, "updated_at"):
                    row.updated_at = utcnow()
            await core.leases.release(session, item_id)

    # -- volumes ----------------------------------------------------------------------------
    async def create_volume(
        self, ctx: RequestContext | None, volume_id: str, source: dict[str, Any]
    ) -> None:
        async def work(volume: Volume) -> Location:
            driver = self.driver_for(volume.host)
            kind = source.get("kind")
            if kind == "snapshot":
                src = driver.snapshot_location(source["id"])
                return await asyncio.to_thread(driver.create_from_file, volume.id, volume.size, src)
            if kind == "volume":
                async with self._locks.setdefault(source["id"], asyncio.Lock()):
                    src = driver.location(source["id"])
                    return await asyncio.to_thread(
                        driver.create_from_file, volume.id, volume.size, src
                    )
            if kind == "image":
                from onestack.volume import images

                return await images.create_from_image(self, driver, volume, source)
            if kind == "backup":
                from onestack.volume.backup import manager as backups

                loc = await asyncio.to_thread(driver.create, volume.id, volume.size)
                await backups.restore_into(self, driver, source["id"], volume)
                return loc
            return await asyncio.to_thread(driver.create, volume.id, volume.size)

        def done(volume: Volume, loc: Location) -> None:
            volume.status = states.AVAILABLE
            volume.provider_location = str(loc.path)
            volume.launched_at = utcnow()

        def failed(volume: Volume, exc: Exception) -> None:
            volume.status = states.ERROR
            volume.fault = str(exc)[:1000]
            try:
                self.driver_for(volume.host).delete(volume.id)  # nothing half-made stays
            except Exception:
                LOG.warning("could not clean up volume %s", volume.id, exc_info=True)

        await self._work(Volume, volume_id, "create", (states.CREATING,), work, done, failed)
        if source.get("kind") == "backup":
            await self._backup_restored(source["id"])
        await self.core.notify(ctx, "volume.create.end", {"volume_id": volume_id})

    async def _backup_restored(self, backup_id: str) -> None:
        async with self.core.write() as session:
            backup = await session.get(Backup, backup_id)
            if backup is not None and backup.status == "restoring":
                backup.status = states.AVAILABLE
                backup.restore_volume_id = None

    async def delete_volume(self, ctx: RequestContext | None, volume_id: str) -> None:
        async def work(volume: Volume) -> None:
            driver = self.driver_for(volume.host)
            await asyncio.to_thread(driver.delete, volume.id)

        core = self.core

        def finish(volume: Volume, _: None) -> None:
            volume.status = "deleted"

        def failed(volume: Volume, exc: Exception) -> None:
            volume.status = states.ERROR_DELETING
            volume.fault = str(exc)[:1000]

        await self._work(Volume, volume_id, "delete", (states.DELETING,), work, finish, failed)
        async with core.write() as session:
            volume = await session.get(Volume, volume_id)
            if volume is not None and volume.status == "deleted":
                await session.execute(delete(Snapshot).where(Snapshot.volume_id == volume_id))
                await session.execute(delete(Attachment).where(Attachment.volume_id == volume_id))
                await session.delete(volume)
        await core.notify(ctx, "volume.delete.end", {"volume_id": volume_id})

    async def extend_volume(
        self, ctx: RequestContext | None, volume_id: str, new_size: int
    ) -> None:
        async def work(volume: Volume) -> None:
            driver = self.driver_for(volume.host)
            await asyncio.to_thread(driver.extend, volume.id, new_size)

        def done(volume: Volume, _: None) -> None:
            volume.size = new_size
            volume.status = (
                states.IN_USE if volume.attach_status == "attached" else states.AVAILABLE
            )

        def failed(volume: Volume, exc: Exception) -> None:
            volume.status = states.ERROR_EXTENDING
            volume.fault = str(exc)[:1000]

        await self._work(Volume, volume_id, "extend", (states.EXTENDING,), work, done, failed)

    # -- snapshots --------------------------------------------------------------------------
    async def _volume_of(self, snap: Snapshot) -> Volume:
        async with self.core.read() as session:
            volume = await session.get(Volume, snap.volume_id)
        if volume is None:
            raise RuntimeError(f"snapshot {snap.id} has no volume")
        return volume

    async def create_snapshot(self, ctx: RequestContext | None, snapshot_id: str) -> None:
        async def work(snap: Snapshot) -> Location:
            volume = await self._volume_of(snap)
            driver = self.driver_for(volume.host)
            async with self._locks.setdefault(volume.id, asyncio.Lock()):
                return await asyncio.to_thread(driver.create_snapshot, volume.id, snap.id)

        def done(snap: Snapshot, loc: Location) -> None:
            snap.status = states.AVAILABLE
            snap.progress = "100%"
            snap.provider_location = str(loc.path)

        def failed(snap: Snapshot, exc: Exception) -> None:
            snap.status = states.ERROR
            snap.fault = str(exc)[:1000]

        await self._work(Snapshot, snapshot_id, "snapshot", (states.CREATING,), work, done, failed)

    async def delete_snapshot(self, ctx: RequestContext | None, snapshot_id: str) -> None:
        async def work(snap: Snapshot) -> None:
            volume = await self._volume_of(snap)
            driver = self.driver_for(volume.host)
            async with self._locks.setdefault(volume.id, asyncio.Lock()):
                await asyncio.to_thread(driver.delete_snapshot, volume.id, snap.id)

        def done(snap: Snapshot, _: None) -> None:
            snap.status = "deleted"

        def failed(snap: Snapshot, exc: Exception) -> None:
            snap.status = states.ERROR_DELETING
            snap.fault = str(exc)[:1000]

        await self._work(
            Snapshot, snapshot_id, "snapshot-delete", (states.DELETING,), work, done, failed
        )
        async with self.core.write() as session:
            snap = await session.get(Snapshot, snapshot_id)
            if snap is not None and snap.status == "deleted":
                await session.delete(snap)

    # -- backups ----------------------------------------------------------------------------
    async def _settle_volume(self, volume_id: str, expect: str) -> None:
        async with self.core.write() as session:
            volume = await session.get(Volume, volume_id)
            if volume is not None:
                _settle(volume, expect)

    async def create_backup(self, ctx: RequestContext | None, backup_id: str) -> None:
        from onestack.volume.backup import manager as backups

        async def work(backup: Backup) -> dict[str, Any]:
            async with self.core.read() as session:
                volume = await session.get(Volume, backup.volume_id)
                parent = await session.get(Backup, backup.parent_id) if backup.parent_id else None
            if volume is None:
                raise RuntimeError(f"volume {backup.volume_id} is gone")
            driver = self.driver_for(volume.host)
            async with self._locks.setdefault(volume.id, asyncio.Lock()):
                return await backups.run_backup(
                    self, driver, backup, parent.manifest if parent else None
                )

        async def done(backup: Backup, manifest: dict[str, Any]) -> None:
            backup.status = states.AVAILABLE
            backup.object_count = manifest.pop("objects")
            backup.container = manifest["container"]
            backup.manifest = manifest
            # the volume is free again in the same transaction that shows the backup available
            session = async_object_session(backup)
            volume = await session.get(Volume, backup.volume_id) if session else None
            if volume is not None:
                _settle(volume, states.BACKING_UP)

        def failed(backup: Backup, exc: Exception) -> None:
            backup.status = states.ERROR
            backup.fail_reason = str(exc)[:1000]

        await self._work(Backup, backup_id, "backup", (states.CREATING,), work, done, failed)
        async with self.core.read() as session:
            backup = await session.get(Backup, backup_id)
        if backup is not None:
            await self._settle_volume(backup.volume_id, states.BACKING_UP)

    async def restore_backup(
        self, ctx: RequestContext | None, backup_id: str, volume_id: str
    ) -> None:
        from onestack.volume.backup import manager as backups

        async def work(volume: Volume) -> None:  # _work holds the volume's lock
            await backups.restore_into(self, self.driver_for(volume.host), backup_id, volume)

        def done(volume: Volume, _: None) -> None:
            volume.status = states.AVAILABLE

        def failed(volume: Volume, exc: Exception) -> None:
            volume.status = states.ERROR_RESTORING
            volume.fault = str(exc)[:1000]

        await self._work(
            Volume, volume_id, "restore", (states.RESTORING_BACKUP,), work, done, failed
        )
        await self._backup_restored(backup_id)

    async def delete_backup(self, ctx: RequestContext | None, backup_id: str) -> None:
        from onestack.volume.backup import manager as backups

        async def work(backup: Backup) -> None:
            await backups.delete_objects(self, backup)

        def done(backup: Backup, _: None) -> None:
            backup.status = "deleted"

        def failed(backup: Backup, exc: Exception) -> None:
            backup.status = states.ERROR_DELETING
            backup.fail_reason = str(exc)[:1000]

        await self._work(Backup, backup_id, "backup-delete", (states.DELETING,), work, done, failed)
        async with self.core.write() as session:
            backup = await session.get(Backup, backup_id)
            if backup is not None and backup.status == "deleted":
                await session.delete(backup)

    # -- images -----------------------------------------------------------------------------
    async def upload_image(
        self, ctx: RequestContext | None, volume_id: str, image_id: str, disk_format: str
    ) -> None:
        from onestack.volume import images

        async def work(volume: Volume) -> None:
            driver = self.driver_for(volume.host)
            async with self._locks.setdefault(volume.id, asyncio.Lock()):
                await images.upload(self, driver, volume, image_id, disk_format)

        def done(volume: Volume, _: None) -> None:
            volume.status = (
                states.IN_USE if volume.attach_status == "attached" else states.AVAILABLE
            )

        def failed(volume: Volume, exc: Exception) -> None:
            volume.status = (
                states.IN_USE if volume.attach_status == "attached" else states.AVAILABLE
            )
            volume.fault = f"upload to image {image_id} failed: {exc}"[:1000]

        await self._work(
            Volume,
            volume_id,
            "upload",
            (states.UPLOADING,),
            work,
            done,
            failed,
            lock_key=f"upload-{volume_id}",
        )

    # -- connections ------------------------------------------------------------------------
    async def initialize_connection(
        self, ctx: RequestContext | None, volume_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        async with self.core.read() as session:
            volume = await session.get(Volume, volume_id)
        if volume is None:
            raise RuntimeError(f"no volume {volume_id}")
        info = self.driver_for(volume.host).connection_info(volume_id, connector)
        info["data"]["access_mode"] = "ro" if volume.read_only else "rw"
        info["data"]["volume_id"] = volume_id
        return info

    def scratch(self) -> Path:
        path = (
            self.conf.image_conversion_dir or self.platform.settings.data_dir / "volume-conversion"
        )
        path.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=path))


def _settle(volume: Volume, expect: str) -> None:
    """A volume in status ``expect`` back to in-use or available, as its attachments say."""
    if volume.status == expect:
        volume.status = states.IN_USE if volume.attach_status == "attached" else states.AVAILABLE
