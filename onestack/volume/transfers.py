"""Volume transfers between projects: the giver makes a transfer and gets a one-time auth
key; the receiver accepts with the id and the key, and the volume (and its snapshots, unless
``no_snapshots``) changes project, quota checked in the receiving project."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import states, types, volumes
from onestack.volume.core import VolumeCore
from onestack.volume.models import Snapshot, Transfer, Volume, VolumeType


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


async def get(
    core: VolumeCore,
    session: AsyncSession,
    ctx: RequestContext,
    transfer_id: str,
    rule: str = "volume:get_transfer",
) -> Transfer:
    transfer = await session.get(Transfer, transfer_id)
    if transfer is None or (transfer.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Transfer {transfer_id} could not be found.")
    core.enforce(ctx, rule, {"project_id": transfer.project_id})
    return transfer


async def create(
    core: VolumeCore, ctx: RequestContext, body: dict[str, Any]
) -> tuple[Transfer, str]:
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str):
        raise BadRequest("Invalid input for field/attribute volume_id: it is required.")
    no_snapshots = types._bool(body.get("no_snapshots", False), "no_snapshots")
    key = secrets.token_hex(8)
    salt = secrets.token_hex(8)
    async with core.write() as session:
        volume = await volumes.get(core, session, ctx, volume_id, "volume:create_transfer")
        if volume.status != states.AVAILABLE:
            raise BadRequest(f"Invalid volume: status must be available (it is {volume.status}).")
        transfer = Transfer(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            name=volumes._text(body, "name"),
            salt=salt,
            crypt_hash=_hash(salt, key),
            no_snapshots=no_snapshots,
            created_at=utcnow(),
        )
        session.add(transfer)
        volume.status = states.AWAITING_TRANSFER
    return transfer, key


async def listing(core: VolumeCore, ctx: RequestContext, all_tenants: bool) -> list[Transfer]:
    core.enforce(ctx, "volume:get_all_transfers")
    stmt = select(Transfer).order_by(Transfer.created_at)
    if not (all_tenants and core.is_admin(ctx)):
        stmt = stmt.where(Transfer.project_id == ctx.project_id)
    async with core.read() as session:
        return list((await session.execute(stmt)).scalars())


async def delete(core: VolumeCore, ctx: RequestContext, transfer_id: str) -> None:
    async with core.write() as session:
        transfer = await get(core, session, ctx, transfer_id, "volume:delete_transfer")
        volume = await session.get(Volume, transfer.volume_id)
        if volume is not None and volume.status == states.AWAITING_TRANSFER:
            volume.status = states.AVAILABLE
        await session.delete(transfer)


async def accept(core: VolumeCore, ctx: RequestContext, transfer_id: str, body: Any) -> Transfer:
    core.enforce(ctx, "volume:accept_transfer")
    key = body.get("auth_key") if isinstance(body, dict) else None
    if not isinstance(key, str):
        raise BadRequest("Invalid input for field/attribute auth_key: it is required.")
    async with core.write() as session:
        transfer = await session.get(Transfer, transfer_id)
        if transfer is None:
            raise NotFound(f"Transfer {transfer_id} could not be found.")
        if not hmac.compare_digest(transfer.crypt_hash, _hash(transfer.salt, key)):
            raise BadRequest(
                f"Invalid auth key: Attempt to transfer {transfer.volume_id} with invalid auth key."
            )
        volume = await session.get(Volume, transfer.volume_id)
        assert volume is not None
        snaps = list(
            (
                await session.execute(select(Snapshot).where(Snapshot.volume_id == volume.id))
            ).scalars()
        )
        moved = [] if transfer.no_snapshots else snaps
        vtype = await session.get(VolumeType, volume.volume_type_id)
        name = vtype.name if vtype else ""
        gigabytes = volume.size + sum(s.size for s in moved)
        await core.quotas.check(
            session,
            ctx.project_id or "",
            {
                "volumes": 1,
                "gigabytes": gigabytes,
                "snapshots": len(moved),
                f"volumes_{name}": 1,
                f"gigabytes_{name}": gigabytes,
            },
        )
        volume.project_id = ctx.project_id or ""
        volume.user_id = ctx.user_id
        volume.status = states.AVAILABLE
        volume.updated_at = utcnow()
        for snap in moved:
            snap.project_id = volume.project_id
            snap.user_id = ctx.user_id
        await session.delete(transfer)
    return transfer
