"""The password a guest posts to the metadata API: set once by the guest, shown to and
cleared by the server's owner or an admin (``/servers/{id}/os-server-password``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from onestack.common.context import RequestContext
from onestack.common.errors import Conflict
from onestack.compute import servers
from onestack.compute.models import InstancePassword

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from onestack.compute.core import ComputeCore

#: what a guest may post (Nova's limit)
MAX_SIZE = 256


async def get(session: AsyncSession, uuid: str) -> str:
    """The instance's password, "" when none was posted (or it was cleared)."""
    row = await session.get(InstancePassword, uuid)
    return row.password if row is not None else ""


async def post_once(core: ComputeCore, uuid: str, password: str) -> None:
    """Keep the guest's password; Conflict when one is already kept (two posting at once:
    the primary key lets one in)."""
    try:
        async with core.write() as session:
            if await session.get(InstancePassword, uuid) is not None:
                raise Conflict("The password is already set.")
            session.add(InstancePassword(instance_uuid=uuid, password=password))
    except IntegrityError as exc:
        raise Conflict("The password is already set.") from exc


async def show(core: ComputeCore, ctx: RequestContext, uuid: str) -> str:
    async with core.read() as session:
        await servers.get(session, core, ctx, uuid, "os-server-password:show")
        return await get(session, uuid)


async def clear(core: ComputeCore, ctx: RequestContext, uuid: str) -> None:
    async with core.write() as session:
        await servers.get(session, core, ctx, uuid, "os-server-password:clear")
        await session.execute(
            delete(InstancePassword).where(InstancePassword.instance_uuid == uuid)
        )
