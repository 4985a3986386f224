"""Resource providers and their trees: create, read, list with filters, update, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common import errors
from onestack.common.db import utcnow
from onestack.placement.api.common import conflict, not_found
from onestack.placement.models import (
    aggregates,
    allocations,
    inventories,
    provider_aggregates,
    provider_traits,
    providers,
)

_ROOT = providers.alias("root")
_PARENT = providers.alias("parent")
_COLUMNS = (
    providers.c.id,
    providers.c.uuid,
    providers.c.name,
    providers.c.generation,
    providers.c.root_provider_id,
    providers.c.parent_provider_id,
    providers.c.created_at,
    providers.c.updated_at,
    _ROOT.c.uuid.label("root_uuid"),
    _PARENT.c.uuid.label("parent_uuid"),
)
_FROM = providers.join(_ROOT, _ROOT.c.id == providers.c.root_provider_id).outerjoin(
    _PARENT, _PARENT.c.id == providers.c.parent_provider_id
)


@dataclass(slots=True)
class Provider:
    id: int
    uuid: str
    name: str
    generation: int
    root_provider_id: int
    parent_provider_id: int | None
    created_at: Any
    updated_at: Any
    root_uuid: str
    parent_uuid: str | None


def _provider(row: Any) -> Provider:
    return Provider(*row)


def select_providers() -> Any:
    return select(*_COLUMNS).select_from(_FROM)


async def get(conn: AsyncConnection, uuid: str, *, for_what: str = "") -> Provider:
    """The provider ``uuid``; 404 placement.resource_provider.not_found if there is none."""
    row = (await conn.execute(select_providers().where(providers.c.uuid == uuid))).first()
    if row is None:
        suffix = f" {for_what}" if for_what else ""
        raise not_found(
            f"No resource provider with uuid {uuid} found{suffix}",
            "placement.resource_provider.not_found",
        )
    return _provider(row)


async def find(conn: AsyncConnection, uuids: set[str]) -> dict[str, Provider]:
    if not uuids:
        return {}
    rows = await conn.execute(select_providers().where(providers.c.uuid.in_(sorted(uuids))))
    return {row.uuid: _provider(row) for row in rows}


async def by_ids(conn: AsyncConnection, ids: set[int]) -> dict[int, Provider]:
    if not ids:
        return {}
    found: dict[int, Provider] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 900):  # SQLite's bound-parameter limit
        chunk = ordered[start : start + 900]
        rows = await conn.execute(select_providers().where(providers.c.id.in_(chunk)))
        found.update((row.id, _provider(row)) for row in rows)
    return found


async def all_providers(conn: AsyncConnection) -> list[Provider]:
    rows = await conn.execute(select_providers().order_by(providers.c.id))
    return [_provider(row) for row in rows]


async def change_mark(conn: AsyncConnection) -> tuple[Any, ...]:
    """What changes whenever any provider row does, read in one aggregate over the table:
    an update always moves a generation on (so the sum grows), a new provider has a new
    highest id, a delete alone lowers the count, and the newest ``updated_at`` catches a
    new provider taking a deleted one's id. Other processes' writes included, so a cache
    keyed by it stays correct with several Placement processes on one database."""
    row = (
        await conn.execute(
            select(
                func.count(),
                func.max(providers.c.id),
                func.sum(providers.c.generation),
                func.max(providers.c.updated_at),
            )
        )
    ).one()
    return tuple(row)


async def create(conn: AsyncConnection, uuid: str, name: str, parent_uuid: str | None) -> Provider:
    now = utcnow()
    clash = (
        await conn.execute(
            select(providers.c.uuid, providers.c.name).where(
                (providers.c.uuid == uuid) | (providers.c.name == name)
            )
        )
    ).first()
    if clash is not None:
        what = f"uuid: {uuid}" if clash.uuid == uuid else f"name: {name}"
        raise conflict(
            f"Conflicting resource provider {what} already exists.", "placement.duplicate_name"
        )
    parent = None
    if parent_uuid is not None:
        parent = await _parent(conn, parent_uuid)
    result = await conn.execute(
        insert(providers).values(
            uuid=uuid,
            name=name,
            generation=0,
            parent_provider_id=parent.id if parent else None,
            root_provider_id=parent.root_provider_id if parent else None,
            created_at=now,
            updated_at=now,
        )
    )
    new_id = result.inserted_primary_key[0]
    if parent is None:
        await conn.execute(
            update(providers).where(providers.c.id == new_id).values(root_provider_id=new_id)
        )
    return await get(conn, uuid)


async def _parent(conn: AsyncConnection, parent_uuid: str) -> Provider:
    try:
        return await get(conn, parent_uuid)
    except Exception:
        from onestack.placement.api.common import bad_request

        raise bad_request(
            f"parent provider UUID {parent_uuid} does not exist.",
            "placement.resource_provider.not_found",
        ) from None


async def descendant_ids(conn: AsyncConnection, provider: Provider) -> set[int]:
    """Ids of every provider below ``provider`` in its tree."""
    rows = (
        await conn.execute(
            select(providers.c.id, providers.c.parent_provider_id).where(
                providers.c.root_provider_id == provider.root_provider_id
            )
        )
    ).all()
    children: dict[int | None, list[int]] = {}
    for id_, parent in rows:
        children.setdefault(parent, []).append(id_)
    found: set[int] = set()
    stack = list(children.get(provider.id, []))
    while stack:
        id_ = stack.pop()
        if id_ not in found:
            found.add(id_)
            stack.extend(children.get(id_, []))
    return found


async def update_provider(
    conn: AsyncConnection,
    provider: Provider,
    name: str,
    parent_uuid: str | None,
    *,
    parent_given: bool,
    reparent_allowed: bool,
) -> Provider:
    """Rename and (re)parent. Before 1.37 a parent may be set once, never changed or removed;
    from 1.37 a provider moves anywhere but below itself (its subtree moves with it)."""
    from onestack.placement.api.common import bad_request

    values: dict[str, Any] = {"name": name, "updated_at": utcnow()}
    if name != provider.name:
        taken = (await conn.execute(select(providers.c.id).where(providers.c.name == name))).first()
        if taken is not None:
            raise conflict(
                f"Conflicting resource provider name: {name} already exists.",
                "placement.duplicate_name",
            )
    new_root: int | None = None
    if parent_given and parent_uuid != provider.parent_uuid:
        if not reparent_allowed and provider.parent_uuid is not None:
            raise bad_request("re-parenting a provider is not currently allowed.")
        if parent_uuid is None:
            if not reparent_allowed:
                raise bad_request("un-parenting a provider is not currently allowed.")
            values["parent_provider_id"] = None
            new_root = provider.id
        else:
            parent = await _parent(conn, parent_uuid)
            below = await descendant_ids(conn, provider)
            if parent.id == provider.id or parent.id in below:
                raise bad_request("creating loop in the provider tree is not allowed.")
            values["parent_provider_id"] = parent.id
            new_root = parent.root_provider_id
    values["generation"] = provider.generation + 1
    result = await conn.execute(
        update(providers)
        .where(providers.c.id == provider.id, providers.c.generation == provider.generation)
        .values(**values)
    )
    if result.rowcount != 1:
        raise conflict("resource provider generation conflict")
    if new_root is not None and new_root != provider.root_provider_id:
        moved = {provider.id} | await descendant_ids(conn, provider)
        await conn.execute(
            update(providers).where(providers.c.id.in_(moved)).values(root_provider_id=new_root)
        )
    return await get(conn, provider.uuid)


async def delete_provider(conn: AsyncConnection, provider: Provider) -> None:
    used = (
        await conn.execute(
            select(func.count())
            .select_from(allocations)
            .where(allocations.c.resource_provider_id == provider.id)
        )
    ).scalar()
    if used:
        raise conflict(
            f"Unable to delete resource provider {provider.uuid}: Resource provider has "
            f"allocations.",
            "placement.resource_provider.inuse",
        )
    child = (
        await conn.execute(
            select(providers.c.id).where(providers.c.parent_provider_id == provider.id).limit(1)
        )
    ).first()
    if child is not None:
        raise conflict(
            f"Unable to delete parent resource provider {provider.uuid}: It has child "
            f"resource providers.",
            "placement.resource_provider.cannot_delete_parent",
        )
    for table in (inventories, provider_traits, provider_aggregates):
        await conn.execute(delete(table).where(table.c.resource_provider_id == provider.id))
    result = await conn.execute(
        delete(providers).where(
            and_(providers.c.id == provider.id, providers.c.generation == provider.generation)
        )
    )
    if result.rowcount != 1:
        raise conflict("resource provider generation conflict")


class ProviderChanged(errors.Conflict):
    """Another transaction moved a provider's generation on since this one read it."""


async def bump(conn: AsyncConnection, provider_id: int, generation: int) -> int:
    """Increment a provider's generation if it is still ``generation`` (else 409)."""
    result = await conn.execute(
        update(providers)
        .where(providers.c.id == provider_id, providers.c.generation == generation)
        .values(generation=generation + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise ProviderChanged(
            "resource provider generation conflict", error_code="placement.concurrent_update"
        )
    return generation + 1


async def aggregate_uuids(conn: AsyncConnection, provider_ids: set[int]) -> dict[int, set[str]]:
    """Each provider's aggregate uuids."""
    found: dict[int, set[str]] = {}
    if not provider_ids:
        return found
    query = select(provider_aggregates.c.resource_provider_id, aggregates.c.uuid).join(
        aggregates, aggregates.c.id == provider_aggregates.c.aggregate_id
    )
    if len(provider_ids) < 900:
        query = query.where(provider_aggregates.c.resource_provider_id.in_(sorted(provider_ids)))
    for rp_id, agg in await conn.execute(query):
        if rp_id in provider_ids:
            found.setdefault(rp_id, set()).add(agg)
    return found


async def trait_ids(conn: AsyncConnection, provider_ids: set[int] | None) -> dict[int, set[int]]:
    """Each provider's trait ids (every provider's when ``provider_ids`` is None)."""
    query = select(provider_traits.c.resource_provider_id, provider_traits.c.trait_id)
    if provider_ids is not None:
        if not provider_ids:
            return {}
        if len(provider_ids) < 900:
            query = query.where(provider_traits.c.resource_provider_id.in_(sorted(provider_ids)))
    found: dict[int, set[int]] = {}
    for rp_id, trait in await conn.execute(query):
        if provider_ids is None or rp_id in provider_ids:
            found.setdefault(rp_id, set()).add(trait)
    return found
