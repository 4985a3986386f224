"""provider_summaries of an allocation candidates answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.microversions import Version
from onestack.placement.candidates import Result
from onestack.placement.manager import PlacementManager
from onestack.placement.models import inventories, provider_traits
from onestack.placement.rows import capacity_expr, fetch_all, gc_paused, used_expr


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
    # (class, capacity, used) of every inventory of these providers: those of the requested
    # classes as the candidates query read them, the others (and those of the providers it
    # did not read) computed by the database now
    requested_ids = {mgr.classes.by_name[n] for n in requested if n in mgr.classes.by_name}
    all_classes = v >= "1.27"
    ordered = sorted(ids)
    big = len(ordered) > 900
    known = result.inventories
    invs: dict[int, list[tuple[int, int, int]]] = {
        rp: [(rc, int(capacity), int(used)) for rc, capacity, used in known[rp]]
        for rp in ordered
        if rp in known
    }
    unread = [rp for rp in ordered if rp not in known]
    wanted: list[Any] = []
    if all_classes:
        wanted.append(inventories.c.resource_class_id.not_in(sorted(requested_ids)))
    every_row = len(unread) > 900  # then sorted out below
    if unread and not every_row:
        wanted.append(inventories.c.resource_provider_id.in_(unread))
    if every_row or wanted:
        query = select(
            inventories.c.resource_provider_id,
            inventories.c.resource_class_id,
            capacity_expr(conn.dialect.name),
            used_expr(),
        )
        if wanted and not every_row:
            query = query.where(or_(*wanted))
        if not big:
            query = query.where(inventories.c.resource_provider_id.in_(ordered))
        for rp, rc, capacity, used in await fetch_all(conn, query):
            if rp in ids and (all_classes or rc in requested_ids):
                row = (rc, int(capacity), int(used))
                if rc not in requested_ids or rp not in known:
                    invs.setdefault(rp, []).append(row)
    traits: dict[int, list[int]] = {}
    if v >= "1.17":
        tq = select(provider_traits.c.resource_provider_id, provider_traits.c.trait_id)
        if not big:
            tq = tq.where(provider_traits.c.resource_provider_id.in_(ordered))
        for rp, t in await fetch_all(conn, tq):
            if rp in ids:
                traits.setdefault(rp, []).append(t)
    with_traits, with_tree = v >= "1.17", v >= "1.29"
    class_name, trait_name = mgr.classes.by_id, mgr.traits.by_id
    seen_classes = {rc for rows in invs.values() for rc, _, _ in rows}
    seen_traits = {t for ts in traits.values() for t in ts}
    if not seen_classes <= class_name.keys():
        await mgr.classes.reload(conn)
    if not seen_traits <= trait_name.keys():
        await mgr.traits.reload(conn)
    class_name, trait_name = mgr.classes.by_id, mgr.traits.by_id
    out: dict[str, Any] = {}
    trait_lists: dict[frozenset[int], list[str]] = {}
    with gc_paused():
        for rp in ordered:
            node = nodes[rp]
            resources = {}
            for rc, capacity, used in sorted(invs.get(rp, ())):
                if not all_classes and rc not in requested_ids:
                    continue
                resources[class_name.get(rc, f"UNKNOWN_{rc}")] = {
                    "capacity": capacity,
                    "used": used,
                }
            entry: dict[str, Any] = {"resources": resources}
            if with_traits:
                ids_of = frozenset(traits.get(rp, ()))
                names = trait_lists.get(ids_of)
                if names is None:  # one list for the providers with the same traits
                    names = trait_lists[ids_of] = sorted([trait_name.get(t, "") for t in ids_of])
                entry["traits"] = names
            if with_tree:
                entry["parent_provider_uuid"] = nodes[node.parent].uuid if node.parent else None
                entry["root_provider_uuid"] = nodes[node.root].uuid
            out[node.uuid] = entry
    return out
