"""provider_summaries of an allocation candidates answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.microversions import Version
from onestack.placement.candidates import Result
from onestack.placement.inventories import FIELDS, Inventory, usages_of
from onestack.placement.manager import PlacementManager
from onestack.placement.models import inventories, provider_traits


async def provider_summaries(
    mgr: PlacementManager, conn: AsyncConnection, result: Result, requested: set[str], v: Version
) -> dict[str, Any]:
    nodes = result.nodes
    ids = set(result.summary_ids)
    if v >= "1.29":  # every provider of the trees involved
        roots = {nodes[i].root for i in ids}
        ids = {n.id for n in nodes.values() if n.root in roots}
    if not ids:
        return {}
    invs: dict[int, dict[int, Inventory]] = {}
    ordered = sorted(ids)
    big = len(ordered) > 900
    query = select(
        inventories.c.resource_provider_id,
        inventories.c.resource_class_id,
        *(inventories.c[f] for f in FIELDS),
    )
    if not big:
        query = query.where(inventories.c.resource_provider_id.in_(ordered))
    for row in await conn.execute(query):
        if row[0] in ids:
            invs.setdefault(row[0], {})[row[1]] = Inventory(*row[2:])
    used = await usages_of(conn, ids)
    traits: dict[int, list[int]] = {}
    if v >= "1.17":
        tq = select(provider_traits.c.resource_provider_id, provider_traits.c.trait_id)
        if not big:
            tq = tq.where(provider_traits.c.resource_provider_id.in_(ordered))
        for rp, t in await conn.execute(tq):
            if rp in ids:
                traits.setdefault(rp, []).append(t)
    requested_ids = {mgr.classes.by_name[n] for n in requested if n in mgr.classes.by_name}
    out: dict[str, Any] = {}
    for rp in ordered:
        node = nodes[rp]
        resources = {}
        for rc, inv in sorted(invs.get(rp, {}).items()):
            if v < "1.27" and rc not in requested_ids:
                continue
            name = await mgr.classes.name_of(conn, rc)
            resources[name] = {"capacity": inv.capacity, "used": used.get((rp, rc), 0)}
        entry: dict[str, Any] = {"resources": resources}
        if v >= "1.17":
            entry["traits"] = sorted(
                [await mgr.traits.name_of(conn, t) for t in traits.get(rp, [])]
            )
        if v >= "1.29":
            entry["parent_provider_uuid"] = nodes[node.parent].uuid if node.parent else None
            entry["root_provider_uuid"] = nodes[node.root].uuid
        out[node.uuid] = entry
    return out
