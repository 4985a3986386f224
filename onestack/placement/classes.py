"""Resource classes: the standard ones (os-resource-classes) and ``CUSTOM_*``."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.db import utcnow
from onestack.placement.api.common import bad_request, conflict, not_found
from onestack.placement.manager import PlacementManager
from onestack.placement.models import allocations, inventories, resource_classes
from onestack.placement.names import STANDARD_CLASSES, next_custom_class_id


def check_custom(name: str) -> None:
    from onestack.placement.names import NAME_RE

    if not NAME_RE.match(name) or len(name) > 255:
        raise bad_request(f"JSON does not validate: '{name}' does not match '^CUSTOM_[A-Z0-9_]+$'")


async def list_classes(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(resource_classes.c.name).order_by(resource_classes.c.id))
    return list(rows.scalars())


async def create(
    mgr: PlacementManager, conn: AsyncConnection, name: str, *, exists_ok: bool = False
) -> bool:
    """Create a custom class; whether it was created (an existing one is a 409 unless
    ``exists_ok``)."""
    check_custom(name)
    if await mgr.classes.id_of(conn, name) is not None:
        if exists_ok:
            return False
        raise conflict(
            f"Conflicting resource class already exists: {name}", "placement.duplicate_name"
        )
    now = utcnow()
    await conn.execute(
        insert(resource_classes).values(
            id=await next_custom_class_id(conn), name=name, created_at=now, updated_at=now
        )
    )
    return True


async def _in_use(conn: AsyncConnection, rc_id: int) -> bool:
    for table in (inventories, allocations):
        n = (
            await conn.execute(
                select(func.count()).select_from(table).where(table.c.resource_class_id == rc_id)
            )
        ).scalar()
        if n:
            return True
    return False


async def existing(mgr: PlacementManager, conn: AsyncConnection, name: str) -> int:
    rc_id = await mgr.classes.id_of(conn, name)
    if rc_id is None:
        raise not_found(f"No such resource class {name}.")
    return rc_id


async def rename(mgr: PlacementManager, conn: AsyncConnection, old: str, new: str) -> None:
    """1.2-1.6: a custom class takes a new name."""
    if old in STANDARD_CLASSES:
        raise bad_request(f"Cannot update standard resource class {old}")
    rc_id = await existing(mgr, conn, old)
    check_custom(new)
    if await mgr.classes.id_of(conn, new) is not None:
        raise conflict(f"Resource class already exists: {new}", "placement.duplicate_name")
    await conn.execute(
        update(resource_classes)
        .where(resource_classes.c.id == rc_id)
        .values(name=new, updated_at=utcnow())
    )
    mgr.classes.forget(old)


async def remove(mgr: PlacementManager, conn: AsyncConnection, name: str) -> None:
    if name in STANDARD_CLASSES:
        raise bad_request(f"Cannot delete standard resource class {name}")
    rc_id = await existing(mgr, conn, name)
    if await _in_use(conn, rc_id):
        raise conflict(
            f"Unable to delete resource class {name}. The resource class is in use in inventory."
        )
    await conn.execute(delete(resource_classes).where(resource_classes.c.id == rc_id))
    mgr.classes.forget(name)
