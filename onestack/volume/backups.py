"""Backups (API side): create (full or incremental, of a volume or one of its snapshots),
list, show, update, delete, restore to a new or an existing volume, export / import of the
record. The volume's agent moves the data (``backup/manager.py``)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.volume import states, types, volumes
from onestack.volume.core import VolumeCore
from onestack.volume.models import Backup, Snapshot

SORTABLE = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id")


async def get(
    core: VolumeCore,
    session: AsyncSession,
    ctx: RequestContext,
    backup_id: str,
    rule: str = "backup:get",
) -> Backup:
    backup = await session.get(Backup, backup_id)
    if backup is None or (backup.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Backup {backup_id} could not be found.")
    core.enforce(ctx, rule, {"project_id": backup.project_id})
    return backup


async def has_children(session: AsyncSession, backup_id: str) -> bool:
    found = await session.execute(select(Backup.id).where(Backup.parent_id == backup_id).limit(1))
    return found.first() is not None


async def create(core: VolumeCore, ctx: RequestContext, body: dict[str, Any]) -> Backup:
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str):
        raise BadRequest("Invalid input for field/attribute volume_id: it is required.")
    incremental = types._bool(body.get("incremental", False), "incremental")
    force = types._bool(body.get("force", False), "force")
    snapshot_id = body.get("snapshot_id")
    container = volumes._text(body, "container")
    meta = volumes.check_metadata(body.get("metadata"))
    async with core.write() as session:
        volume = await volumes.get(core, session, ctx, volume_id, "backup:create")
        allowed = (states.AVAILABLE, states.IN_USE) if force else (states.AVAILABLE,)
        if volume.status not in allowed and not snapshot_id:
            raise BadRequest(
                f"Invalid volume: Volume to be backed up must be available or "
                f"in-use with force, but the current status is {volume.status}."
            )
        if snapshot_id:
            snap = await session.get(Snapshot, snapshot_id)
            if snap is None or snap.volume_id != volume.id:
                raise NotFound(f"Snapshot {snapshot_id} could not be found.")
            if snap.status != states.AVAILABLE:
                raise BadRequest(
                    f"Invalid snapshot: Snapshot to be backed up must be available "
                    f"(it is {snap.status})."
                )
        parent = None
        if incremental:
            parent = (
                await session.execute(
                    select(Backup)
                    .where(Backup.volume_id == volume.id, Backup.status == states.AVAILABLE)
                    .order_by(Backup.data_timestamp.desc(), Backup.created_at.desc())
                    .limit(1)
                )
            ).scalar()
            if parent is None:
                raise BadRequest(
                    "Invalid backup: No backups available to do an incremental backup."
                )
        await core.quotas.check(
            session, volume.project_id, {"backups": 1, "backup_gigabytes": volume.size}
        )
        backup = Backup(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            snapshot_id=snapshot_id,
            project_id=volume.project_id,
            user_id=ctx.user_id,
            name=volumes._text(body, "name"),
            description=volumes._text(body, "description"),
            status=states.CREATING,
            size=volume.size,
            container=container,
            service=core.conf.backup_driver,
            host=(volume.host or "").split("@")[0],
            availability_zone=volume.availability_zone,
            parent_id=parent.id if parent else None,
            is_incremental=incremental,
            metadata_=meta,
            data_timestamp=utcnow(),
            created_at=utcnow(),
        )
        session.add(backup)
        if not snapshot_id:
            volume.status = states.BACKING_UP
        host = volume.host
    assert host is not None
    await core.agents.cast(ctx, host, "create_backup", backup_id=backup.id)
    return backup


async def listing(
    core: VolumeCore,
    ctx: RequestContext,
    params: Mapping[str, str],
    page: PageRequest,
    with_count: bool = False,
) -> tuple[list[Backup], int | None]:
    core.enforce(ctx, "backup:get_all")
    stmt: Select[Any] = select(Backup)
    all_tenants = core.is_admin(ctx) and "all_tenants" in params
    if all_tenants and params.get("project_id"):
        stmt = stmt.where(Backup.project_id == params["project_id"])
    elif not all_tenants:
        stmt = stmt.where(Backup.project_id == ctx.project_id)
    for key in ("name", "status", "volume_id"):
        if params.get(key):
            stmt = stmt.where(getattr(Backup, key) == params[key])
    async with core.read() as session:
        count = None
        if with_count:
            count = (
                await session.execute(select(func.count()).select_from(stmt.subquery()))
            ).scalar_one()
        return await paginate(session, stmt, Backup, page), count


async def delete_backup(
    core: VolumeCore, ctx: RequestContext, backup_id: str, force: bool = False
) -> None:
    async with core.write() as session:
        rule = "volume_extension:backup_admin_actions:force_delete" if force else "backup:delete"
        backup = await get(core, session, ctx, backup_id, rule)
        if not force and backup.status not in (states.AVAILABLE, states.ERROR):
            raise BadRequest(
                f"Invalid backup: Backup status must be available or error (it is {backup.status})."
            )
        if await has_children(session, backup.id):
            raise BadRequest("Invalid backup: Incremental backups exist for this backup.")
        backup.status = states.DELETING
        host = backup.host
    await core.agents.cast(ctx, host or core.platform.host, "delete_backup", backup_id=backup_id)


async def restore(
    core: VolumeCore, ctx: RequestContext, backup_id: str, body: Any
) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {}
    target = body.get("volume_id")
    async with core.read() as session:
        backup = await get(core, session, ctx, backup_id, "backup:restore")
        if backup.status != states.AVAILABLE:
            raise BadRequest(
                f"Invalid backup: Backup status must be available (it is {backup.status})."
            )
    if target is None:
        name = body.get("name") or f"restore_backup_{backup_id}"
        volume = await volumes.create(
            core, ctx, {"backup_id": backup_id, "name": name, "size": backup.size}
        )
        return {"backup_id": backup_id, "volume_id": volume.id, "volume_name": volume.name}
    async with core.write() as session:
        backup = await get(core, session, ctx, backup_id, "backup:restore")
        volume = await volumes.get(core, session, ctx, target, "backup:restore")
        if volume.status != states.AVAILABLE:
            raise BadRequest(
                f"Invalid volume: Volume to be restored to must be available (it "
                f"is {volume.status})."
            )
        if volume.size < backup.size:
            raise BadRequest(
                f"Invalid volume: volume size {volume.size} is smaller than the "
                f"backup's {backup.size}."
            )
        volume.status = states.RESTORING_BACKUP
        backup.status = "restoring"
        backup.restore_volume_id = volume.id
        host, name = volume.host, volume.name
    assert host is not None
    await core.agents.cast(ctx, host, "restore_backup", backup_id=backup_id, volume_id=target)
    return {"backup_id": backup_id, "volume_id": target, "volume_name": name}


_RECORD_FIELDS = (
    "id",
    "volume_id",
    "snapshot_id",
    "project_id",
    "user_id",
    "name",
    "description",
    "size",
    "object_count",
    "container",
    "service",
    "host",
    "availability_zone",
    "parent_id",
    "is_incremental",
    "manifest",
)


async def export_record(core: VolumeCore, ctx: RequestContext, backup_id: str) -> dict[str, str]:
    async with core.read() as session:
        backup = await get(core, session, ctx, backup_id, "backup:backup-export")
        if backup.status != states.AVAILABLE:
            raise BadRequest(
                f"Invalid backup: Backup status must be available (it is {backup.status})."
            )
        record = {k: getattr(backup, k) for k in _RECORD_FIELDS}
        record["metadata"] = backup.metadata_
    url = base64.b64encode(orjson.dumps(record)).decode()
    return {"backup_service": f"onestack.volume.backup.{backup.service}", "backup_url": url}


async def import_record(core: VolumeCore, ctx: RequestContext, body: Any) -> Backup:
    core.enforce(ctx, "backup:backup-import")
    if not isinstance(body, dict) or not body.get("backup_url") or not body.get("backup_service"):
        raise BadRequest(
            "Incorrect request body format: backup_service and backup_url are required."
        )
    try:
        record = orjson.loads(base64.b64decode(body["backup_url"], validate=True))
        assert isinstance(record, dict) and isinstance(record.get("manifest"), dict)
    except Exception:
        raise BadRequest("Can't parse backup record: backup_url is not one.") from None
    service = str(body["backup_service"]).rsplit(".", 1)[-1]
    if service not in ("posix", "swift"):
        raise BadRequest(f"Unsupported backup service {body['backup_service']}.")
    async with core.write() as session:
        found = await session.get(Backup, record.get("id"))
        if found is not None:
            raise BadRequest(f"Invalid backup: Backup {record['id']} already exists.")
        backup = Backup(
            **{k: record.get(k) for k in _RECORD_FIELDS if k != "id"},
            id=str(record.get("id") or uuid.uuid4()),
            metadata_=record.get("metadata") or {},
            status=states.AVAILABLE,
            data_timestamp=utcnow(),
            created_at=utcnow(),
        )
        backup.service = service
        backup.project_id = backup.project_id or ctx.project_id or ""
        session.add(backup)
    return backup


async def reset_status(core: VolumeCore, ctx: RequestContext, backup_id: str, body: Any) -> None:
    status = body.get("status") if isinstance(body, dict) else None
    if status not in (states.AVAILABLE, states.ERROR):
        raise BadRequest(f"Must specify a valid status: {status} is not one.")
    async with core.write() as session:
        backup = await get(
            core, session, ctx, backup_id, "volume_extension:backup_admin_actions:reset_status"
        )
        backup.status = status
        backup.updated_at = utcnow()


async def update(
    core: VolumeCore, ctx: RequestContext, backup_id: str, body: dict[str, Any]
) -> Backup:
    async with core.write() as session:
        backup = await get(core, session, ctx, backup_id, "backup:update")
        for key in ("name", "description"):
            if key in body:
                setattr(backup, key, volumes._text(body, key))
        if "metadata" in body:
            backup.metadata_ = volumes.check_metadata(body["metadata"])
        backup.updated_at = utcnow()
    return backup
