"""Snapshots: create (of an available volume, or an in-use one with ``force``), list, show,
update, delete, metadata and the admin reset."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.volume import states, types, volumes
from onestack.volume.core import VolumeCore
from onestack.volume.models import Snapshot, SnapshotMetadata, VolumeType

SORTABLE = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id")


async def get(
    core: VolumeCore,
    session: AsyncSession,
    ctx: RequestContext,
    snapshot_id: str,
    rule: str = "volume:get_snapshot",
) -> Snapshot:
    snap = await session.get(Snapshot, snapshot_id)
    if snap is None or (snap.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    core.enforce(ctx, rule, {"project_id": snap.project_id})
    return snap


async def metadata_of(session: AsyncSession, ids: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {i: {} for i in ids}
    rows = await session.execute(
        select(SnapshotMetadata).where(SnapshotMetadata.snapshot_id.in_(ids))
    )
    for row in rows.scalars():
        out[row.snapshot_id][row.key] = row.value
    return out


async def create(core: VolumeCore, ctx: RequestContext, body: dict[str, Any]) -> Snapshot:
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str) or not volume_id:
        raise BadRequest("Invalid input for field/attribute volume_id: it is required.")
    force = types._bool(body.get("force", False), "force")
    name = volumes._text(body, "name") if "name" in body else volumes._text(body, "display_name")
    description = volumes._text(body, "description")
    meta = volumes.check_metadata(body.get("metadata"))
    async with core.write() as session:
        try:
            volume = await volumes.get(core, session, ctx, volume_id, "volume:create_snapshot")
        except NotFound:
            raise NotFound(f"Volume {volume_id} could not be found.") from None
        allowed = (states.AVAILABLE, states.IN_USE) if force else (states.AVAILABLE,)
        if volume.status not in allowed:
            raise BadRequest(
                f"Invalid volume: Volume {volume_id} status must be available, "
                f"but current status is: {volume.status}."
            )
        vtype = await session.get(VolumeType, volume.volume_type_id)
        type_name = vtype.name if vtype else ""
        await core.quotas.check(
            session,
            volume.project_id,
            {
                "snapshots": 1,
                "gigabytes": volume.size,
                f"snapshots_{type_name}": 1,
                f"gigabytes_{type_name}": volume.size,
            },
        )
        snap = Snapshot(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            user_id=ctx.user_id,
            name=name,
            description=description,
            status=states.CREATING,
            progress="0%",
            size=volume.size,
            created_at=utcnow(),
        )
        session.add(snap)
        await session.flush()
        for key, value in meta.items():
            session.add(SnapshotMetadata(snapshot_id=snap.id, key=key, value=value))
        host = volume.host
    assert host is not None
    await core.agents.cast(ctx, host, "create_snapshot", snapshot_id=snap.id)
    return snap


async def listing(
    core: VolumeCore,
    ctx: RequestContext,
    params: Mapping[str, str],
    page: PageRequest,
    with_count: bool = False,
) -> tuple[list[Snapshot], int | None]:
    core.enforce(ctx, "volume:get_all_snapshots")
    stmt: Select[Any] = select(Snapshot)
    all_tenants = core.is_admin(ctx) and "all_tenants" in params
    if all_tenants and params.get("project_id"):
        stmt = stmt.where(Snapshot.project_id == params["project_id"])
    elif not all_tenants:
        stmt = stmt.where(Snapshot.project_id == ctx.project_id)
    for key in ("name", "status", "volume_id"):
        if params.get(key) is not None:
            stmt = stmt.where(getattr(Snapshot, key) == params[key])
    async with core.read() as session:
        count = None
        if with_count:
            count = (
                await session.execute(select(func.count()).select_from(stmt.subquery()))
            ).scalar_one()
        return await paginate(session, stmt, Snapshot, page), count


async def update(
    core: VolumeCore, ctx: RequestContext, snapshot_id: str, body: dict[str, Any]
) -> Snapshot:
    if not body or not set(body) & {"name", "description", "display_name", "display_description"}:
        raise BadRequest("Invalid input: the snapshot update needs name or description.")
    async with core.write() as session:
        snap = await get(core, session, ctx, snapshot_id, "volume:update_snapshot")
        for key, attr in (
            ("name", "name"),
            ("display_name", "name"),
            ("description", "description"),
            ("display_description", "description"),
        ):
            if key in body:
                setattr(snap, attr, volumes._text(body, key))
        snap.updated_at = utcnow()
    return snap


async def delete_snapshot(
    core: VolumeCore, ctx: RequestContext, snapshot_id: str, force: bool = False
) -> None:
    from onestack.volume.models import Volume

    async with core.write() as session:
        rule = (
            "volume_extension:snapshot_admin_actions:force_delete"
            if force
            else "volume:delete_snapshot"
        )
        snap = await get(core, session, ctx, snapshot_id, rule)
        if not force and snap.status not in (states.AVAILABLE, states.ERROR):
            raise BadRequest(
                f"Invalid snapshot: Volume Snapshot status must be available or "
                f"error (it is {snap.status})."
            )
        volume = await session.get(Volume, snap.volume_id)
        host = volume.host if volume else None
        if host is None:
            await session.delete(snap)
        else:
            snap.status = states.DELETING
            snap.updated_at = utcnow()
    if host is not None:
        await core.agents.cast(ctx, host, "delete_snapshot", snapshot_id=snapshot_id)


async def reset_status(core: VolumeCore, ctx: RequestContext, snapshot_id: str, body: Any) -> None:
    status = body.get("status") if isinstance(body, dict) else None
    if status not in states.SNAPSHOT_STATUSES:
        raise BadRequest(f"Must specify a valid status: {status} is not one.")
    async with core.write() as session:
        snap = await get(
            core, session, ctx, snapshot_id, "volume_extension:snapshot_admin_actions:reset_status"
        )
        snap.status = status
        snap.updated_at = utcnow()


async def replace_metadata(session: AsyncSession, snapshot_id: str, meta: dict[str, str]) -> None:
    await session.execute(
        delete(SnapshotMetadata).where(SnapshotMetadata.snapshot_id == snapshot_id)
    )
    for key, value in meta.items():
        session.add(SnapshotMetadata(snapshot_id=snapshot_id, key=key, value=value))


async def merge_metadata(session: AsyncSession, snapshot_id: str, meta: dict[str, str]) -> None:
    for key, value in meta.items():
        row = await session.get(SnapshotMetadata, (snapshot_id, key))
        if row is None:
            session.add(SnapshotMetadata(snapshot_id=snapshot_id, key=key, value=value))
        else:
            row.value = value
