"""GET /resource_providers filters: name, uuid, member_of, resources, in_tree, required."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.placement import providers as rps
from onestack.placement.api.common import bad_request
from onestack.placement.inventories import FIELDS, Inventory, usages_of
from onestack.placement.manager import PlacementManager
from onestack.placement.models import inventories


@dataclass
class ProviderFilters:
    name: str | None = None
    uuid: str | None = None
    in_tree: str | None = None
    member_of: list[frozenset[str]] = field(default_factory=list)
    forbidden_aggs: set[str] = field(default_factory=set)
    resources: dict[str, int] = field(default_factory=dict)
    required: list[frozenset[str]] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)


async def list_providers(
    mgr: PlacementManager, conn: AsyncConnection, f: ProviderFilters
) -> list[rps.Provider]:
    found = await rps.all_providers(conn)
    if f.name is not None:
        found = [p for p in found if p.name == f.name]
    if f.uuid is not None:
        found = [p for p in found if p.uuid == f.uuid]
    if f.in_tree is not None:
        tree = next((p for p in await rps.all_providers(conn) if p.uuid == f.in_tree), None)
        found = [
            p for p in found if tree is not None and p.root_provider_id == tree.root_provider_id
        ]
    if not found:
        return found
    ids = {p.id for p in found}
    if f.member_of or f.forbidden_aggs:
        aggs = await rps.aggregate_uuids(conn, ids)
        found = [
            p
            for p in found
            if not aggs.get(p.id, set()) & f.forbidden_aggs
            and all(aggs.get(p.id, set()) & anyof for anyof in f.member_of)
        ]
    if f.resources:
        class_ids, unknown = await mgr.classes.ids_of(conn, set(f.resources))
        if unknown:
            raise bad_request(
                f"Invalid resource class in resources parameter: No such resource class "
                f"{', '.join(sorted(unknown))}.",
                "placement.query.bad_value",
            )
        rows = await conn.execute(
            select(
                inventories.c.resource_provider_id,
                inventories.c.resource_class_id,
                *(inventories.c[x] for x in FIELDS),
            ).where(inventories.c.resource_class_id.in_(sorted(class_ids.values())))
        )
        invs = {(r[0], r[1]): Inventory(*r[2:]) for r in rows}
        used = await usages_of(conn, None, set(class_ids.values()))

        def fits(rp: int) -> bool:
            for name, amount in f.resources.items():
                inv = invs.get((rp, class_ids[name]))
                if inv is None or not inv.fits(amount):
                    return False
                if used.get((rp, class_ids[name]), 0) + amount > inv.capacity:
                    return False
            return True

        found = [p for p in found if fits(p.id)]
    if f.required or f.forbidden:
        names = {t for s in f.required for t in s} | f.forbidden
        trait_ids, missing = await mgr.traits.ids_of(conn, names)
        if missing:
            raise bad_request(
                f"No such trait(s): {', '.join(sorted(missing))}.", "placement.query.bad_value"
            )
        have = await rps.trait_ids(conn, {p.id for p in found})

        def traits_ok(rp: int) -> bool:
            mine = have.get(rp, set())
            if any(trait_ids[t] in mine for t in f.forbidden):
                return False
            return all(any(trait_ids[t] in mine for t in anyof) for anyof in f.required)

        found = [p for p in found if traits_ok(p.id)]
    return found
