"""Attaching volumes: the attachments API (3.27+: create, update with a connector, complete,
delete) and the older actions Compute used (os-reserve, os-initialize_connection, os-attach,
os-begin_detaching, os-detach, ...). The connection info comes from the volume's agent."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import states, volumes
from onestack.volume.core import VolumeCore
from onestack.volume.models import Attachment, Volume


class InvalidVolume(BadRequest):
    pass


async def _live(session: AsyncSession, volume_id: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count(Attachment.id)).where(
                    Attachment.volume_id == volume_id, Attachment.attach_status != "detached"
                )
            )
        ).scalar_one()
    )


def _attachable(volume: Volume, live: int) -> None:
    if volume.status not in (
        states.AVAILABLE,
        states.IN_USE,
        states.RESERVED,
        states.ATTACHING,
        "downloading",
    ):
        raise InvalidVolume(
            f"Invalid volume: Volume {volume.id} status must be available or "
            f"in-use to attach (it is {volume.status})."
        )
    if live and not volume.multiattach:
        raise InvalidVolume(
            f"Invalid volume: Volume {volume.id} is already attached and is not multiattach."
        )


async def connection(
    core: VolumeCore, ctx: RequestContext | None, volume: Volume, connector: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(connector, dict):
        raise BadRequest("connector must be an object.")
    if volume.host is None:
        raise InvalidVolume(f"Invalid volume: Volume {volume.id} has no backend host.")
    info: dict[str, Any] = await core.agents.call(
        ctx, volume.host, "initialize_connection", volume_id=volume.id, connector=connector
    )
    return info


async def _settle(session: AsyncSession, volume: Volume) -> None:
    """The volume's status from its attachments."""
    rows = list(
        (
            await session.execute(
                select(Attachment).where(
                    Attachment.volume_id == volume.id, Attachment.attach_status != "detached"
                )
            )
        ).scalars()
    )
    if any(a.attach_status == "attached" for a in rows):
        volume.status, volume.attach_status = states.IN_USE, "attached"
    elif any(a.attach_status == "attaching" for a in rows):
        volume.status, volume.attach_status = states.ATTACHING, "attaching"
    elif rows:
        volume.status, volume.attach_status = states.RESERVED, "reserved"
    else:
        volume.status, volume.attach_status = states.AVAILABLE, "detached"
    volume.updated_at = utcnow()


# -- the attachments API (3.27+) ----------------------------------------------------------------
async def create(core: VolumeCore, ctx: RequestContext, body: dict[str, Any]) -> Attachment:
    volume_id = body.get("volume_uuid")
    if not isinstance(volume_id, str):
        raise BadRequest("Invalid input for field/attribute volume_uuid: it is required.")
    connector = body.get("connector")
    mode = body.get("mode", "rw")
    if mode not in ("rw", "ro"):
        raise BadRequest("Invalid attach mode: rw or ro.")
    async with core.write() as session:
        volume = await volumes.get(core, session, ctx, volume_id, "volume:attachment_create")
        _attachable(volume, await _live(session, volume.id))
        if volume.read_only and mode == "rw":
            mode = "ro"
        att = Attachment(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            instance_uuid=body.get("instance_uuid"),
            attach_status="reserved",
            attach_mode=mode,
        )
        session.add(att)
        await session.flush()
        await _settle(session, volume)
    if connector:
        return await update(core, ctx, att.id, {"connector": connector})
    return att


async def get(
    core: VolumeCore,
    session: AsyncSession,
    ctx: RequestContext,
    attachment_id: str,
    rule: str = "volume:attachment_get",
) -> Attachment:
    att = await session.get(Attachment, attachment_id)
    if att is None or (att.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"VolumeAttachment {attachment_id} could not be found.")
    core.enforce(ctx, rule, {"project_id": att.project_id})
    return att


async def update(
    core: VolumeCore, ctx: RequestContext, attachment_id: str, body: dict[str, Any]
) -> Attachment:
    connector = body.get("connector")
    if not isinstance(connector, dict) or not connector:
        raise BadRequest("Invalid input for field/attribute connector: an object is required.")
    async with core.read() as session:
        att = await get(core, session, ctx, attachment_id, "volume:attachment_update")
        volume = await session.get(Volume, att.volume_id)
    assert volume is not None
    info = await connection(core, ctx, volume, connector)
    info["data"]["access_mode"] = att.attach_mode
    async with core.write() as session:
        att = await get(core, session, ctx, attachment_id, "volume:attachment_update")
        att.connector = connector
        att.connection_info = info
        att.attached_host = connector.get("host")
        att.mountpoint = connector.get("mountpoint")
        att.attach_status = "attaching"
        volume = await session.get(Volume, att.volume_id)
        assert volume is not None
        await _settle(session, volume)
    return att


async def complete(core: VolumeCore, ctx: RequestContext, attachment_id: str) -> None:
    async with core.write() as session:
        att = await get(core, session, ctx, attachment_id, "volume:attachment_complete")
        att.attach_status = "attached"
        att.attach_time = utcnow()
        volume = await session.get(Volume, att.volume_id)
        assert volume is not None
        await _settle(session, volume)


async def delete(core: VolumeCore, ctx: RequestContext, attachment_id: str) -> None:
    async with core.write() as session:
        att = await get(core, session, ctx, attachment_id, "volume:attachment_delete")
        volume = await session.get(Volume, att.volume_id)
        await session.delete(att)
        await session.flush()
        if volume is not None:
            await _settle(session, volume)


async def listing(
    core: VolumeCore, ctx: RequestContext, params: dict[str, str]
) -> list[Attachment]:
    core.enforce(ctx, "volume:attachment_get_all")
    stmt = select(Attachment).order_by(Attachment.created_at)
    if not (core.is_admin(ctx) and "all_tenants" in params):
        stmt = stmt.where(Attachment.project_id == ctx.project_id)
    for key, column in (
        ("volume_id", Attachment.volume_id),
        ("instance_id", Attachment.instance_uuid),
        ("status", Attachment.attach_status),
    ):
        if params.get(key):
            stmt = stmt.where(column == params[key])
    async with core.read() as session:
        return list((await session.execute(stmt)).scalars())


# -- the older actions ------------------------------------------------------------------------
async def legacy(
    core: VolumeCore, ctx: RequestContext, volume_id: str, action: str, body: Any
) -> dict[str, Any] | None:
    """os-reserve, os-unreserve, os-initialize_connection, os-terminate_connection,
    os-attach, os-begin_detaching, os-roll_detaching, os-detach, os-force_detach."""
    body = body if isinstance(body, dict) else {}
    rule = f"volume_extension:volume_actions:{action.removeprefix('os-')}"
    if action == "os-force_detach":
        rule = "volume_extension:volume_admin_actions:force_detach"
    if action == "os-initialize_connection":
        async with core.read() as session:
            volume = await volumes.get(core, session, ctx, volume_id, rule)
        return {"connection_info": await connection(core, ctx, volume, body.get("connector"))}
    async with core.write() as session:
        volume = await volumes.get(core, session, ctx, volume_id, rule)
        if action == "os-terminate_connection":
            return None
        if action == "os-reserve":
            _attachable(volume, await _live(session, volume.id))
            volume.status = states.ATTACHING
        elif action == "os-unreserve":
            if volume.status == states.ATTACHING:
                await _settle(session, volume)
        elif action == "os-attach":
            if volume.status not in (
                states.ATTACHING,
                states.AVAILABLE,
                states.IN_USE,
                states.RESERVED,
            ):
                raise InvalidVolume(
                    f"Invalid volume: Volume {volume_id} status must be "
                    f"attaching or available (it is {volume.status})."
                )
            if volume.status != states.ATTACHING:
                _attachable(volume, await _live(session, volume.id))
            mode = body.get("mode", "rw")
            if mode not in ("rw", "ro"):
                raise BadRequest("Invalid attach mode: rw or ro.")
            if volume.read_only and mode == "rw":
                raise InvalidVolume("Invalid volume: a read-only volume attaches only in ro mode.")
            session.add(
                Attachment(
                    id=str(uuid.uuid4()),
                    volume_id=volume.id,
                    project_id=volume.project_id,
                    instance_uuid=body.get("instance_uuid"),
                    attached_host=body.get("host_name"),
                    mountpoint=body.get("mountpoint"),
                    attach_status="attached",
                    attach_mode=mode,
                    attach_time=utcnow(),
                )
            )
            await session.flush()
            await _settle(session, volume)
        elif action == "os-begin_detaching":
            if volume.status != states.IN_USE:
                raise InvalidVolume(
                    f"Invalid volume: Volume {volume_id} status must be in-use "
                    f"to detach (it is {volume.status})."
                )
            volume.status = states.DETACHING
        elif action == "os-roll_detaching":
            if volume.status == states.DETACHING:
                volume.status = states.IN_USE
        elif action in ("os-detach", "os-force_detach"):
            stmt = select(Attachment).where(Attachment.volume_id == volume.id)
            if body.get("attachment_id"):
                stmt = stmt.where(Attachment.id == body["attachment_id"])
            rows = list((await session.execute(stmt)).scalars())
            if not rows and action == "os-detach":
                raise InvalidVolume(f"Invalid volume: Volume {volume_id} is not attached.")
            if len(rows) > 1 and not body.get("attachment_id") and action == "os-detach":
                raise InvalidVolume(
                    "Invalid volume: the volume has several attachments; name the attachment_id."
                )
            for row in rows:
                await session.delete(row)
            await session.flush()
            await _settle(session, volume)
    return None
