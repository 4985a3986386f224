"""Allocations of consumers against providers: claims in one transaction with generation checks,
reads per consumer and per provider, and usages.

A claim (one consumer or many) reads the providers' generations, checks every amount against
min/max unit, step size and the capacity left, writes the rows and then moves each provider's
generation on only if it is still the one read: two concurrent claims on one provider can never
both succeed, whatever the database's isolation level.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.db import utcnow
from onestack.placement import providers as rps
from onestack.placement.api.common import bad_request, conflict, not_found
from onestack.placement.inventories import FIELDS, Inventory, usages_of
from onestack.placement.manager import PlacementManager
from onestack.placement.models import allocations, consumer_types, consumers, inventories

MISSING: Any = object()


@dataclass(slots=True)
class ConsumerClaim:
    """What one consumer should hold after the write (``resources`` empty: nothing)."""

    uuid: str
    resources: dict[str, dict[str, int]]  # provider uuid -> class name -> amount
    project_id: str | None = None
    user_id: str | None = None
    generation: Any = MISSING  # MISSING: not checked (before 1.28)
    consumer_type: str | None = None
    extra_providers: set[str] = field(default_factory=set)


async def consumer_row(conn: AsyncConnection, uuid: str) -> Any:
    return (
        await conn.execute(
            select(consumers, consumer_types.c.name.label("type_name"))
            .select_from(
                consumers.outerjoin(
                    consumer_types, consumer_types.c.id == consumers.c.consumer_type_id
                )
            )
            .where(consumers.c.uuid == uuid)
        )
    ).first()


_TYPE_IDS: dict[str, int] = {}  # consumer type names never change their id


async def _type_id(conn: AsyncConnection, name: str | None) -> int | None:
    if name is None:
        return None
    cached = _TYPE_IDS.get(name)
    if cached is not None:
        return cached
    found = (
        await conn.execute(select(consumer_types.c.id).where(consumer_types.c.name == name))
    ).scalar()
    if found is None:
        result = await conn.execute(insert(consumer_types).values(name=name))
        found = result.inserted_primary_key[0]
    return int(found)


_USED = (
    select(func.coalesce(func.sum(allocations.c.used), 0))
    .where(
        allocations.c.resource_provider_id == inventories.c.resource_provider_id,
        allocations.c.resource_class_id == inventories.c.resource_class_id,
    )
    .scalar_subquery()
)


async def _targets(
    conn: AsyncConnection, uuids: set[str], class_ids: set[int]
) -> tuple[dict[str, tuple[int, int]], dict[tuple[int, int], tuple[Inventory, int]]]:
    """In one query: each provider's (id, generation) and, for the classes claimed, its
    inventories with what is used of them."""
    rows = await conn.execute(
        select(
            rps.providers.c.uuid,
            rps.providers.c.id,
            rps.providers.c.generation,
            inventories.c.resource_class_id,
            *(inventories.c[f] for f in FIELDS),
            _USED.label("used"),
        )
        .select_from(
            rps.providers.outerjoin(
                inventories,
                (inventories.c.resource_provider_id == rps.providers.c.id)
                & inventories.c.resource_class_id.in_(sorted(class_ids)),
            )
        )
        .where(rps.providers.c.uuid.in_(sorted(uuids)))
    )
    found: dict[str, tuple[int, int]] = {}
    invs: dict[tuple[int, int], tuple[Inventory, int]] = {}
    for row in rows:
        found[row[0]] = (row[1], row[2])
        if row[3] is not None:
            invs[(row[1], row[3])] = (Inventory(*row[4:10]), int(row[10] or 0))
    return found, invs


async def write(mgr: PlacementManager, conn: AsyncConnection, claims: list[ConsumerClaim]) -> None:
    """Replace each consumer's allocations with its claim, atomically (the caller's
    transaction), in few statements: a claim for a new consumer on one provider is five."""
    class_names = {rc for c in claims for res in c.resources.values() for rc in res}
    class_ids, unknown = await mgr.classes.ids_of(conn, class_names)
    if unknown:
        raise bad_request(
            f"Unable to allocate inventory: No such resource class {', '.join(sorted(unknown))}."
        )
    wanted_rps = {rp for c in claims for rp in c.resources}
    found, invs = (
        await _targets(conn, wanted_rps, set(class_ids.values())) if wanted_rps else ({}, {})
    )
    for claim in claims:
        for rp_uuid in claim.resources:
            if rp_uuid not in found:
                raise bad_request(
                    f"Allocation for resource provider '{rp_uuid}' that does not exist.",
                    "placement.resource_provider.not_found",
                )
    uuids = [c.uuid for c in claims]
    existing = {
        row.uuid: row
        for row in await conn.execute(select(consumers).where(consumers.c.uuid.in_(uuids)))
    }
    for claim in claims:
        if claim.generation is MISSING:
            continue
        row = existing.get(claim.uuid)
        if row is None and claim.generation is not None:
            raise conflict(
                f"consumer generation conflict - expected null but got {claim.generation}"
            )
        if row is not None and claim.generation != row.generation:
            raise conflict(
                f"consumer generation conflict - expected {row.generation} but got "
                f"{claim.generation}"
            )
    # what these consumers held is given back before the new amounts are counted
    released: dict[tuple[int, int], int] = {}
    if existing:
        old = await conn.execute(
            select(
                allocations.c.resource_provider_id,
                allocations.c.resource_class_id,
                allocations.c.used,
            ).where(allocations.c.consumer_id.in_(list(existing)))
        )
        for rp_id, rc_id, used in old:
            released[(rp_id, rc_id)] = released.get((rp_id, rc_id), 0) + int(used)
        await conn.execute(delete(allocations).where(allocations.c.consumer_id.in_(uuids)))
    adding: dict[tuple[int, int], int] = {}
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for claim in claims:
        for rp_uuid, resources in claim.resources.items():
            rp_id = found[rp_uuid][0]
            for rc, amount in resources.items():
                key = (rp_id, class_ids[rc])
                entry = invs.get(key)
                if entry is None:
                    raise conflict(
                        f"Unable to allocate inventory: Inventory for '{rc}' on resource "
                        f"provider '{rp_uuid}' invalid.",
                        None,
                    )
                inv = entry[0]
                if not inv.fits(amount):
                    raise conflict(
                        f"Unable to allocate inventory: Unable to create allocation for "
                        f"'{rc}' on resource provider '{rp_uuid}'. The requested amount would "
                        f"violate inventory constraints (min_unit {inv.min_unit}, max_unit "
                        f"{inv.max_unit}, step_size {inv.step_size}).",
                        None,
                    )
                adding[key] = adding.get(key, 0) + amount
                rows.append(
                    {
                        "resource_provider_id": rp_id,
                        "consumer_id": claim.uuid,
                        "resource_class_id": class_ids[rc],
                        "used": amount,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    uuid_of = {v[0]: k for k, v in found.items()}
    name_of = {v: k for k, v in class_ids.items()}
    for key, amount in adding.items():
        inv, used = invs[key]
        if used - released.get(key, 0) + amount > inv.capacity:
            raise conflict(
                f"Unable to allocate inventory: Unable to create allocation for "
                f"'{name_of[key[1]]}' on resource provider '{uuid_of[key[0]]}'. The requested "
                f"amount would exceed the capacity.",
                None,
            )
    if rows:
        await conn.execute(insert(allocations), rows)
    types: list[tuple[str, int]] = []
    for claim in claims:
        row = existing.get(claim.uuid)
        if not claim.resources:
            if row is not None:
                await conn.execute(delete(consumers).where(consumers.c.id == row.id))
            continue
        type_id = await _type_id(conn, claim.consumer_type)
        if claim.consumer_type is not None and type_id is not None:
            types.append((claim.consumer_type, type_id))
        if row is None:
            await conn.execute(
                insert(consumers).values(
                    uuid=claim.uuid,
                    project_id=claim.project_id,
                    user_id=claim.user_id,
                    generation=0,
                    consumer_type_id=type_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            continue
        values: dict[str, Any] = {"generation": row.generation + 1, "updated_at": now}
        if claim.project_id is not None:
            values["project_id"] = claim.project_id
        if claim.user_id is not None:
            values["user_id"] = claim.user_id
        if claim.consumer_type is not None:
            values["consumer_type_id"] = type_id
        result = await conn.execute(
            update(consumers)
            .where(consumers.c.id == row.id, consumers.c.generation == row.generation)
            .values(**values)
        )
        if result.rowcount != 1:
            raise conflict("consumer generation conflict - another process changed it")
    for rp_uuid in sorted(wanted_rps):
        rp_id, generation = found[rp_uuid]
        await rps.bump(conn, rp_id, generation)
    _TYPE_IDS.update(types)  # remembered once the transaction got this far


async def write_retrying(mgr: PlacementManager, claims: list[ConsumerClaim]) -> None:
    """:func:`write` in its own transaction, done again (up to 10 times, as upstream) when
    another claim moved a provider's generation on meanwhile: the capacity is then counted
    afresh, so a retry never overcommits. A stale consumer generation is not retried."""
    for attempt in range(10):
        try:
            async with mgr.write() as conn:
                await write(mgr, conn, claims)
            return
        except rps.ProviderChanged:
            if attempt == 9:
                raise
        except DBAPIError as exc:  # InnoDB picks a deadlock victim among concurrent claims
            if not _is_deadlock(exc):
                raise
            if attempt == 9:
                raise conflict("resource provider generation conflict") from exc
        await asyncio.sleep(0.001 * (attempt + 1))


def _is_deadlock(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "deadlock" in text or "1213" in text or "40p01" in text or "40001" in text


async def of_consumer(
    mgr: PlacementManager, conn: AsyncConnection, uuid: str
) -> tuple[Any, dict[str, dict[str, Any]]]:
    """(the consumer row or None, {provider uuid: {"generation", "resources"}})."""
    row = await consumer_row(conn, uuid)
    result: dict[str, dict[str, Any]] = {}
    query = (
        select(
            rps.providers.c.uuid,
            rps.providers.c.generation,
            allocations.c.resource_class_id,
            allocations.c.used,
        )
        .join(rps.providers, rps.providers.c.id == allocations.c.resource_provider_id)
        .where(allocations.c.consumer_id == uuid)
    )
    for rp_uuid, generation, rc, used in await conn.execute(query):
        entry = result.setdefault(rp_uuid, {"generation": generation, "resources": {}})
        entry["resources"][await mgr.classes.name_of(conn, rc)] = int(used)
    return row, result


async def of_provider(
    mgr: PlacementManager, conn: AsyncConnection, rp_id: int
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    query = select(
        allocations.c.consumer_id, allocations.c.resource_class_id, allocations.c.used
    ).where(allocations.c.resource_provider_id == rp_id)
    for consumer, rc, used in await conn.execute(query):
        entry = result.setdefault(consumer, {"resources": {}})
        entry["resources"][await mgr.classes.name_of(conn, rc)] = int(used)
    return result


async def delete_consumer(conn: AsyncConnection, uuid: str) -> None:
    result = await conn.execute(delete(allocations).where(allocations.c.consumer_id == uuid))
    await conn.execute(delete(consumers).where(consumers.c.uuid == uuid))
    if not result.rowcount:
        raise not_found(f"No allocations for consumer '{uuid}'")


async def provider_usages(
    mgr: PlacementManager, conn: AsyncConnection, rp_id: int
) -> dict[str, int]:
    """Every class the provider has inventory of (or allocations against) -> amount used."""
    classes = set(
        (
            await conn.execute(
                select(inventories.c.resource_class_id).where(
                    inventories.c.resource_provider_id == rp_id
                )
            )
        ).scalars()
    )
    used = await usages_of(conn, {rp_id})
    out = {await mgr.classes.name_of(conn, rc): 0 for rc in classes}
    for (_, rc), amount in used.items():
        out[await mgr.classes.name_of(conn, rc)] = amount
    return out


async def project_usages(
    mgr: PlacementManager,
    conn: AsyncConnection,
    project_id: str,
    user_id: str | None,
    *,
    by_type: bool,
    consumer_type: str | None,
) -> dict[str, Any]:
    """Usages of a project (and user): ``{class: used}``, or from 1.38 grouped by consumer
    type with ``consumer_count`` (``consumer_type`` "all", "unknown" or a type name)."""
    filters = [consumers.c.project_id == project_id]
    if user_id is not None:
        filters.append(consumers.c.user_id == user_id)
    type_name = func.coalesce(consumer_types.c.name, "unknown")
    if consumer_type not in (None, "all"):
        filters.append(type_name == consumer_type)
    source = allocations.join(consumers, consumers.c.uuid == allocations.c.consumer_id).outerjoin(
        consumer_types, consumer_types.c.id == consumers.c.consumer_type_id
    )
    if not by_type:
        rows = await conn.execute(
            select(allocations.c.resource_class_id, func.sum(allocations.c.used))
            .select_from(source)
            .where(*filters)
            .group_by(allocations.c.resource_class_id)
        )
        return {await mgr.classes.name_of(conn, rc): int(n) for rc, n in rows}
    grouped: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        select(type_name, allocations.c.resource_class_id, func.sum(allocations.c.used))
        .select_from(source)
        .where(*filters)
        .group_by(type_name, allocations.c.resource_class_id)
    )
    for tname, rc, n in rows:
        grouped.setdefault(tname, {})[await mgr.classes.name_of(conn, rc)] = int(n)
    counts = await conn.execute(
        select(type_name, func.count(func.distinct(consumers.c.id)))
        .select_from(source)
        .where(*filters)
        .group_by(type_name)
    )
    for tname, n in counts:
        grouped.setdefault(tname, {})["consumer_count"] = int(n)
    if consumer_type == "all" or consumer_type is None:
        total: dict[str, int] = {}
        for usage in grouped.values():
            for key, n in usage.items():
                total[key] = total.get(key, 0) + n
        if consumer_type == "all":
            return {"all": total} if total else {}
    return grouped
