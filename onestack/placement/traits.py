"""Traits (standard from os-traits, ``CUSTOM_*``) and the traits of a provider."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.db import utcnow
from onestack.placement.api.common import bad_request, conflict, not_found
from onestack.placement.manager import PlacementManager
from onestack.placement.models import provider_traits, traits
from onestack.placement.names import standard_traits
from onestack.placement.providers import Provider, bump


async def list_traits(
    conn: AsyncConnection, *, prefix: str | None, names: list[str] | None, associated: bool | None
) -> list[str]:
    query = select(traits.c.name)
    if prefix is not None:
        query = query.where(traits.c.name.startswith(prefix, autoescape=True))
    if names is not None:
        query = query.where(traits.c.name.in_(names))
    if associated is not None:
        used = select(provider_traits.c.trait_id).distinct()
        query = query.where(traits.c.id.in_(used) if associated else traits.c.id.not_in(used))
    return list((await conn.execute(query.order_by(traits.c.name))).scalars())


async def ensure(mgr: PlacementManager, conn: AsyncConnection, name: str) -> bool:
    """Create the custom trait ``name``; whether it was created."""
    if await mgr.traits.id_of(conn, name) is not None:
        return False
    now = utcnow()
    await conn.execute(insert(traits).values(name=name, created_at=now, updated_at=now))
    return True


async def remove(mgr: PlacementManager, conn: AsyncConnection, name: str) -> None:
    if name in standard_traits():
        raise bad_request(f"Cannot delete standard trait {name}.")
    trait_id = await mgr.traits.id_of(conn, name)
    if trait_id is None:
        raise not_found(f"No such trait(s): {name}.")
    used = (
        await conn.execute(
            select(func.count())
            .select_from(provider_traits)
            .where(provider_traits.c.trait_id == trait_id)
        )
    ).scalar()
    if used:
        raise conflict(
            f"The trait {name} is in use by a resource provider.", "placement.trait.in_use"
        )
    await conn.execute(delete(traits).where(traits.c.id == trait_id))
    mgr.traits.forget(name)


async def of_provider(mgr: PlacementManager, conn: AsyncConnection, rp_id: int) -> list[str]:
    ids = (
        await conn.execute(
            select(provider_traits.c.trait_id).where(
                provider_traits.c.resource_provider_id == rp_id
            )
        )
    ).scalars()
    return sorted([await mgr.traits.name_of(conn, i) for i in ids])


async def set_for(
    mgr: PlacementManager, conn: AsyncConnection, rp: Provider, names: list[str]
) -> int:
    ids, missing = await mgr.traits.ids_of(conn, set(names))
    if missing:
        raise bad_request(f"No such trait(s): {', '.join(sorted(missing))}.")
    await conn.execute(
        delete(provider_traits).where(provider_traits.c.resource_provider_id == rp.id)
    )
    if ids:
        await conn.execute(
            insert(provider_traits),
            [{"resource_provider_id": rp.id, "trait_id": i} for i in sorted(ids.values())],
        )
    return await bump(conn, rp.id, rp.generation)
