"""A provider's aggregates (aggregate rows are created on first use, never listed alone)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.placement.models import aggregates, provider_aggregates
from onestack.placement.providers import Provider, aggregate_uuids, bump


async def of_provider(conn: AsyncConnection, rp_id: int) -> list[str]:
    return sorted((await aggregate_uuids(conn, {rp_id})).get(rp_id, set()))


async def set_for(conn: AsyncConnection, rp: Provider, wanted: list[str]) -> int:
    """Replace the provider's aggregates; the provider's new generation."""
    ids: dict[str, int] = (
        dict(
            (u, i)
            for i, u in await conn.execute(
                select(aggregates.c.id, aggregates.c.uuid).where(aggregates.c.uuid.in_(wanted))
            )
        )
        if wanted
        else {}
    )
    for agg in wanted:
        if agg not in ids:
            ids[agg] = (
                await conn.execute(insert(aggregates).values(uuid=agg))
            ).inserted_primary_key[0]
    await conn.execute(
        delete(provider_aggregates).where(provider_aggregates.c.resource_provider_id == rp.id)
    )
    if wanted:
        await conn.execute(
            insert(provider_aggregates),
            [{"resource_provider_id": rp.id, "aggregate_id": ids[a]} for a in sorted(set(wanted))],
        )
    return await bump(conn, rp.id, rp.generation)
