"""Volumes: create (blank, from an image, a snapshot, another volume, a backup), list, show,
update, delete, extend, flags, metadata and the admin actions. No HTTP here; the long work is
cast to the scheduler or the volume's agent and the volume waits in its transitional status."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, delete, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.volume import states, types
from onestack.volume.core import VolumeCore
from onestack.volume.models import (
    Attachment,
    Backup,
    Snapshot,
    Volume,
    VolumeImageMetadata,
    VolumeMetadata,
)

GiB = 1024**3
SORTABLE = (
    "id",
    "name",
    "status",
    "size",
    "created_at",
    "updated_at",
    "availability_zone",
    "bootable",
    "project_id",
)
#: Image properties never copied into volume_image_metadata (Cinder's glance_core_properties
#: are copied; these are the image's own bookkeeping).
_IMAGE_SKIP = {
    "id",
    "name",
    "file",
    "schema",
    "self",
    "locations",
    "direct_url",
    "tags",
    "status",
    "visibility",
    "owner",
    "created_at",
    "updated_at",
    "protected",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "stores",
    "virtual_size",
    "os_glance_import_task",
    "os_glance_failed_import",
    "os_glance_importing_to_stores",
}


class Conflicting(BadRequest):
    """An operation the volume's status does not allow (Cinder answers 400 InvalidVolume)."""


def _text(body: Mapping[str, Any], key: str, limit: int = 255) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"Invalid input for field/attribute {key}: a string of {limit} at most.")
    return value


def check_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("Invalid input for field/attribute metadata: it must be an object.")
    for key, val in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise BadRequest("Invalid metadata key: a string of 1 to 255 characters.")
        if not isinstance(val, str) or len(val) > 255:
            raise BadRequest(f"Invalid metadata value for {key}: a string of 255 at most.")
    return dict(value)


def parse_size(value: Any, field: str = "size") -> int:
    if isinstance(value, bool) or value is None:
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            "It must be a positive integer."
        )
    try:
        size = int(value) if not isinstance(value, float) or value.is_integer() else -1
    except (TypeError, ValueError):
        size = -1
    if isinstance(value, str) and not value.strip().isdigit():
        size = -1
    if size < 1 or size > 2147483647:
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            "It must be a positive integer."
        )
    return size


async def get(
    core: VolumeCore,
    session: AsyncSession,
    ctx: RequestContext,
    volume_id: str,
    rule: str = "volume:get",
) -> Volume:
    """The volume if the caller's project owns it (or the caller is admin); 404 otherwise."""
    volume = await session.get(Volume, volume_id)
    if volume is None or (volume.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Volume {volume_id} could not be found.")
    core.enforce(ctx, rule, {"project_id": volume.project_id})
    return volume


async def metadata_of(session: AsyncSession, ids: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {i: {} for i in ids}
    for row in (
        await session.execute(select(VolumeMetadata).where(VolumeMetadata.volume_id.in_(ids)))
    ).scalars():
        out[row.volume_id][row.key] = row.value
    return out


async def image_metadata_of(session: AsyncSession, ids: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {i: {} for i in ids}
    for row in (
        await session.execute(
            select(VolumeImageMetadata).where(VolumeImageMetadata.volume_id.in_(ids))
        )
    ).scalars():
        out[row.volume_id][row.key] = row.value
    return out


async def attachments_of(session: AsyncSession, ids: list[str]) -> dict[str, list[Attachment]]:
    out: dict[str, list[Attachment]] = {i: [] for i in ids}
    for row in (
        await session.execute(
            select(Attachment).where(
                Attachment.volume_id.in_(ids), Attachment.attach_status == "attached"
            )
        )
    ).scalars():
        out[row.volume_id].append(row)
    return out


# -- create -----------------------------------------------------------------------------------
async def create(
    core: VolumeCore, ctx: RequestContext, body: dict[str, Any], scheduler_hints: Any = None
) -> Volume:
    core.enforce(ctx, "volume:create")
    name = _text(body, "name")
    description = _text(body, "description")
    metadata = check_metadata(body.get("metadata"))
    snapshot_id = body.get("snapshot_id")
    source_volid = body.get("source_volid")
    image_ref = body.get("imageRef") or body.get("image_id")
    backup_id = body.get("backup_id")
    sources = [s for s in (snapshot_id, source_volid, image_ref, backup_id) if s]
    if len(sources) > 1:
        raise BadRequest(
            "Only one of snapshot_id, source_volid, imageRef and backup_id may be given."
        )
    size = parse_size(body["size"]) if body.get("size") is not None else None
    if size is None and not (snapshot_id or source_volid or backup_id or image_ref):
        raise BadRequest(
            "Invalid input for field/attribute size. Value: None. It must be a positive integer."
        )
    multiattach = types._bool(body.get("multiattach", False), "multiattach")
    image: dict[str, Any] | None = None
    if image_ref:
        if not isinstance(image_ref, str):
            raise BadRequest("imageRef must be an image id.")
        core.enforce(ctx, "volume:create_from_image")
        image = await core.image(ctx, image_ref)
        if image.get("status") != "active":
            raise BadRequest(f"Image {image_ref} is not active.")
        image_gb = math.ceil(max(image.get("virtual_size") or 0, image.get("size") or 0) / GiB)
        wanted = max(image_gb, int(image.get("min_disk") or 0), 1)
        size = size or wanted
        if size < image_gb:
            raise BadRequest(
                f"Size of specified image {image_gb}GB is larger than volume size {size}GB."
            )
        if size < int(image.get("min_disk") or 0):
            raise BadRequest(
                f"Volume size {size}GB cannot be smaller than the image minDisk size "
                f"{image['min_disk']}GB."
            )
    admin = core.is_admin(ctx)
    async with core.write() as session:
        source: dict[str, Any] = {}
        backup: Backup | None = None
        type_ref = body.get("volume_type")
        zone = body.get("availability_zone")
        host = None
        if snapshot_id:
            snap = await session.get(Snapshot, snapshot_id)
            if snap is None or (snap.project_id != ctx.project_id and not admin):
                raise NotFound(f"Snapshot {snapshot_id} could not be found.")
            if snap.status != states.AVAILABLE:
                raise BadRequest(
                    f"Originating snapshot status must be one of 'available' "
                    f"values (it is {snap.status})."
                )
            parent = await session.get(Volume, snap.volume_id)
            assert parent is not None
            size = size or snap.size
            if size < snap.size:
                raise BadRequest(
                    f"Volume size '{size}'GB cannot be smaller than the snapshot "
                    f"size {snap.size}GB. They must be >= original snapshot size."
                )
            type_ref = type_ref or parent.volume_type_id
            zone = zone or parent.availability_zone
            host = parent.host
            source = {"kind": "snapshot", "id": snapshot_id}
        elif source_volid:
            parent = await session.get(Volume, source_volid)
            if parent is None or (parent.project_id != ctx.project_id and not admin):
                raise NotFound(f"Volume {source_volid} could not be found.")
            if parent.status not in (states.AVAILABLE, states.IN_USE):
                raise BadRequest(
                    f"Invalid volume: source volume status must be available or "
                    f"in-use (it is {parent.status})."
                )
            size = size or parent.size
            if size < parent.size:
                raise BadRequest(
                    f"Volume size '{size}'GB cannot be smaller than original volume "
                    f"size {parent.size}GB. They must be >= original volume size."
                )
            type_ref = type_ref or parent.volume_type_id
            zone = zone or parent.availability_zone
            host = parent.host
            source = {"kind": "volume", "id": source_volid}
        elif backup_id:
            backup = await session.get(Backup, backup_id)
            if backup is None or (backup.project_id != ctx.project_id and not admin):
                raise NotFound(f"Backup {backup_id} could not be found.")
            if backup.status != states.AVAILABLE:
                raise BadRequest(f"Backup status must be available (it is {backup.status}).")
            size = size or backup.size
            if size < backup.size:
                raise BadRequest(
                    f"Volume size {size}GB cannot be smaller than the backup size {backup.size}GB."
                )
            source = {"kind": "backup", "id": backup_id}
        elif image is not None:
            source = {"kind": "image", "id": image["id"], "disk_format": image.get("disk_format")}
        if type_ref:
            vtype = await types.find(session, ctx, admin, str(type_ref), status=404)
        else:
            vtype = await types.default(session, ctx, admin, core.conf.default_volume_type)
        zone = await _zone(core, session, zone)
        assert size is not None
        await core.quotas.check(
            session,
            ctx.project_id or "",
            {
                "volumes": 1,
                "gigabytes": size,
                f"volumes_{vtype.name}": 1,
                f"gigabytes_{vtype.name}": size,
            },
        )
        volume = Volume(
            id=str(uuid.uuid4()),
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            name=name,
            description=description,
            size=size,
            status=states.CREATING,
            availability_zone=zone,
            volume_type_id=vtype.id,
            multiattach=multiattach,
            snapshot_id=snapshot_id,
            source_volid=source_volid,
            backup_id=backup_id,
            image_id=image["id"] if image else None,
            bootable=bool(image),
            host=None,
            created_at=utcnow(),
        )
        session.add(volume)
        await session.flush()
        for key, value in metadata.items():
            session.add(VolumeMetadata(volume_id=volume.id, key=key, value=value))
        if image is not None:
            for key, value in _image_properties(image).items():
                session.add(VolumeImageMetadata(volume_id=volume.id, key=key, value=value))
        if backup is not None:
            backup.status = "restoring"
            backup.restore_volume_id = volume.id
    await core.notify(ctx, "volume.create.start", {"volume_id": volume.id, "size": size})
    await core.scheduler.create_volume(
        ctx, volume.id, source=source, host=host, hints=scheduler_hints or {}
    )
    return volume


def _image_properties(image: dict[str, Any]) -> dict[str, str]:
    props = {"image_id": image["id"], "image_name": image.get("name") or ""}
    for key in ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size"):
        if image.get(key) is not None:
            props[key] = str(image[key])
    for key, value in image.items():
        if key not in _IMAGE_SKIP and key not in props and value is not None:
            props[key] = value if isinstance(value, str) else str(value)
    return props


async def zones(core: VolumeCore, session: AsyncSession) -> set[str]:
    from onestack.volume.models import ServiceRecord

    found = set(
        (
            await session.execute(
                select(ServiceRecord.availability_zone).where(
                    ServiceRecord.binary == "cinder-volume"
                )
            )
        ).scalars()
    )
    return found | {core.conf.storage_availability_zone}


async def _zone(core: VolumeCore, session: AsyncSession, zone: Any) -> str:
    if zone is None:
        return core.conf.default_availability_zone or core.conf.storage_availability_zone
    if not isinstance(zone, str):
        raise BadRequest("availability_zone must be a string.")
    if zone not in await zones(core, session):
        if core.conf.allow_availability_zone_fallback:
            return core.conf.storage_availability_zone
        raise BadRequest(f"Availability zone '{zone}' is invalid.")
    return zone


# -- list -------------------------------------------------------------------------------------
_FILTERS = (
    "name",
    "status",
    "availability_zone",
    "bootable",
    "project_id",
    "size",
    "volume_type",
    "user_id",
    "multiattach",
    "group_id",
    "host",
)


async def listing(
    core: VolumeCore,
    ctx: RequestContext,
    params: Mapping[str, str],
    page: PageRequest,
    with_count: bool = False,
) -> tuple[list[Volume], int | None]:
    core.enforce(ctx, "volume:get_all")
    admin = core.is_admin(ctx)
    stmt: Select[Any] = select(Volume)
    all_tenants = admin and str(params.get("all_tenants", "")).lower() in ("1", "true", "yes", "")
    all_tenants = all_tenants and "all_tenants" in params
    if admin and params.get("project_id") and all_tenants:
        stmt = stmt.where(Volume.project_id == params["project_id"])
    elif not all_tenants:
        stmt = stmt.where(Volume.project_id == ctx.project_id)
    for key in _FILTERS:
        value = params.get(key)
        if value is None or key == "project_id":
            continue
        if key == "name":
            stmt = stmt.where(Volume.name == value)
        elif key in ("bootable", "multiattach"):
            stmt = stmt.where(getattr(Volume, key).is_(types._bool(value, key)))
        elif key == "size":
            stmt = stmt.where(Volume.size == parse_size(value))
        elif key == "volume_type":
            from onestack.volume.models import VolumeType

            ids = select(VolumeType.id).where((VolumeType.name == value) | (VolumeType.id == value))
            stmt = stmt.where(Volume.volume_type_id.in_(ids))
        elif key == "group_id":
            stmt = stmt.where(false())  # no groups here
        elif key == "host" and admin:
            stmt = stmt.where(Volume.host.like(f"{value}%"))
        elif key != "host":
            stmt = stmt.where(getattr(Volume, key) == value)
    if params.get("name~"):
        stmt = stmt.where(Volume.name.like(f"%{params['name~']}%"))
    if params.get("metadata"):
        meta = _dict_param(params["metadata"], "metadata")
        for key, value in meta.items():
            stmt = stmt.where(
                exists().where(
                    VolumeMetadata.volume_id == Volume.id,
                    VolumeMetadata.key == key,
                    VolumeMetadata.value == str(value),
                )
            )
    if params.get("glance_metadata"):
        meta = _dict_param(params["glance_metadata"], "glance_metadata")
        for key, value in meta.items():
            stmt = stmt.where(
                exists().where(
                    VolumeImageMetadata.volume_id == Volume.id,
                    VolumeImageMetadata.key == key,
                    VolumeImageMetadata.value == str(value),
                )
            )
    async with core.read() as session:
        count = None
        if with_count:
            count = (
                await session.execute(select(func.count()).select_from(stmt.subquery()))
            ).scalar_one()
        return await paginate(session, stmt, Volume, page), count


def _dict_param(text: str, name: str) -> dict[str, Any]:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid filter {name}: a dictionary is required, e.g. {{'k': 'v'}}.")
    return value


# -- update and delete ------------------------------------------------------------------------
async def update(
    core: VolumeCore, ctx: RequestContext, volume_id: str, body: dict[str, Any]
) -> Volume:
    known = {"name", "description", "metadata", "display_name", "display_description"}
    if not body or not set(body) & known:
        raise BadRequest("Invalid input: the volume update needs name, description or metadata.")
    async with core.write() as session:
        volume = await get(core, session, ctx, volume_id, "volume:update")
        if "name" in body or "display_name" in body:
            volume.name = _text(body, "name" if "name" in body else "display_name")
        if "description" in body or "display_description" in body:
            key = "description" if "description" in body else "display_description"
            volume.description = _text(body, key)
        if "metadata" in body:
            await replace_metadata(session, volume.id, check_metadata(body["metadata"]))
        volume.updated_at = utcnow()
    return volume


async def replace_metadata(session: AsyncSession, volume_id: str, meta: dict[str, str]) -> None:
    await session.execute(delete(VolumeMetadata).where(VolumeMetadata.volume_id == volume_id))
    for key, value in meta.items():
        session.add(VolumeMetadata(volume_id=volume_id, key=key, value=value))


async def merge_metadata(session: AsyncSession, volume_id: str, meta: dict[str, str]) -> None:
    for key, value in meta.items():
        row = await session.get(VolumeMetadata, (volume_id, key))
        if row is None:
            session.add(VolumeMetadata(volume_id=volume_id, key=key, value=value))
        else:
            row.value = value


async def delete_volume(
    core: VolumeCore,
    ctx: RequestContext,
    volume_id: str,
    *,
    cascade: bool = False,
    force: bool = False,
) -> None:
    async with core.write() as session:
        volume = await get(
            core, session, ctx, volume_id, "volume:force_delete" if force else "volume:delete"
        )
        if not force:
            if volume.status not in states.DELETABLE:
                raise BadRequest(
                    f"Invalid volume: Volume status must be available or error or "
                    f"error_restoring or error_extending or error_managing and must not be "
                    f"migrating, attached, belong to a group, have snapshots, awaiting a "
                    f"transfer, or be disassociated from snapshots after volume transfer "
                    f"(it is {volume.status})."
                )
            if volume.attach_status != "detached":
                raise BadRequest("Invalid volume: Volume is attached; detach it first.")
        snaps = list(
            (
                await session.execute(select(Snapshot).where(Snapshot.volume_id == volume.id))
            ).scalars()
        )
        if snaps and not cascade:
            raise BadRequest(
                "Invalid volume: Volume has snapshots; delete them first or use cascade."
            )
        if cascade and any(s.status not in (states.AVAILABLE, states.ERROR) for s in snaps):
            raise BadRequest(
                "Invalid volume: a snapshot of the volume is busy; cascade "
                "deletion needs every snapshot available or in error."
            )
        for snap in snaps:
            snap.status = states.DELETING
        host = volume.host
        if host is None:  # never reached a backend: nothing to remove but the row
            await session.delete(volume)
        else:
            volume.status = states.DELETING
            volume.updated_at = utcnow()
    await core.notify(ctx, "volume.delete.start", {"volume_id": volume_id})
    if host is not None:
        await core.agents.cast(ctx, host, "delete_volume", volume_id=volume_id)


# -- actions ----------------------------------------------------------------------------------
async def extend(
    core: VolumeCore, ctx: RequestContext, volume_id: str, body: Any, attached_ok: bool
) -> None:
    if not isinstance(body, dict) or "new_size" not in body:
        raise BadRequest("Invalid input for field/attribute os-extend: new_size is required.")
    new_size = parse_size(body["new_size"], "new_size")
    async with core.write() as session:
        volume = await get(core, session, ctx, volume_id, "volume:extend")
        allowed = (states.AVAILABLE, states.IN_USE) if attached_ok else (states.AVAILABLE,)
        if volume.status not in allowed:
            raise BadRequest(
                f"Invalid volume: Volume status must be {' or '.join(allowed)} to "
                f"extend, currently {volume.status}."
            )
        if new_size <= volume.size:
            raise BadRequest(
                f"Invalid input received: New size for extend must be greater than "
                f"current size. (current: {volume.size}, extended: {new_size})."
            )
        from onestack.volume.models import VolumeType

        vtype = await session.get(VolumeType, volume.volume_type_id)
        delta = new_size - volume.size
        await core.quotas.check(
            session,
            volume.project_id,
            {"gigabytes": delta, f"gigabytes_{vtype.name if vtype else ''}": delta},
        )
        volume.status = states.EXTENDING
        host = volume.host
    assert host is not None
    await core.agents.cast(ctx, host, "extend_volume", volume_id=volume_id, new_size=new_size)


async def set_flag(
    core: VolumeCore, ctx: RequestContext, volume_id: str, flag: str, value: Any, rule: str
) -> None:
    parsed = types._bool(value, flag)
    async with core.write() as session:
        volume = await get(core, session, ctx, volume_id, rule)
        if flag == "read_only" and volume.status != states.AVAILABLE:
            raise BadRequest(
                "Invalid volume: the read-only flag changes only on an available volume."
            )
        setattr(volume, flag, parsed)
        volume.updated_at = utcnow()


async def reset_status(core: VolumeCore, ctx: RequestContext, volume_id: str, body: Any) -> None:
    if not isinstance(body, dict) or not body:
        raise BadRequest("os-reset_status needs status, attach_status or migration_status.")
    status = body.get("status")
    attach = body.get("attach_status")
    if status is not None and status not in states.VOLUME_STATUSES:
        raise BadRequest(f"Must specify a valid status: {status} is not one.")
    if attach is not None and attach not in ("attached", "detached"):
        raise BadRequest(f"Must specify a valid attach status: {attach} is not one.")
    async with core.write() as session:
        volume = await get(
            core, session, ctx, volume_id, "volume_extension:volume_admin_actions:reset_status"
        )
        if status is not None:
            volume.status = status
        if attach is not None:
            volume.attach_status = attach
        if "migration_status" in body:
            volume.migration_status = body["migration_status"]
        volume.updated_at = utcnow()
