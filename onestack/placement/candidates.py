"""Allocation candidates: which providers (trees) can satisfy a request, and how.

A handful of set-based queries (inventories with usage of the requested classes, the few
multi-provider trees, the sharing providers and the trees they share with, the traits and
aggregates named), then set work in Python: each request group's candidate providers per
tree, combined tree by tree (lazily, up to ``limit``) under ``group_policy``,
``same_subtree`` and ``root_required``.

Sharing providers (trait ``MISC_SHARES_VIA_AGGREGATE``) serve, besides their own tree, every
tree with a provider in one of their aggregates (the tree's "anchor" is its root), as
upstream: the unsuffixed group takes each class from the tree or from such a sharing
provider (not with ``in_tree``), a granular group may be served by a sharing provider alone,
and ``root_required`` applies to the anchor. A request that more than one anchor could serve
(only sharing providers in it) is answered once, at the lowest such anchor.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.placement.api.common import bad_request
from onestack.placement.manager import PlacementManager
from onestack.placement.models import (
    aggregates,
    inventories,
    provider_aggregates,
    provider_traits,
    providers,
)
from onestack.placement.rows import capacity_expr, fetch_all, gc_paused, used_expr


@dataclass
class RequestGroup:
    suffix: str  # "" for the unsuffixed group
    resources: dict[str, int] = field(default_factory=dict)
    required: list[frozenset[str]] = field(default_factory=list)  # all of these any-of sets
    forbidden: set[str] = field(default_factory=set)
    member_of: list[frozenset[str]] = field(default_factory=list)
    forbidden_aggs: set[str] = field(default_factory=set)
    in_tree: str | None = None


@dataclass
class CandidateRequest:
    groups: list[RequestGroup]
    group_policy: str | None = None
    limit: int | None = None
    root_required: list[frozenset[str]] = field(default_factory=list)
    root_forbidden: set[str] = field(default_factory=set)
    same_subtree: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    id: int
    uuid: str
    generation: int
    root: int
    parent: int | None


@dataclass
class Result:
    requests: list[tuple[dict[int, dict[int, int]], dict[str, list[int]]]]
    nodes: dict[int, Node]
    summary_ids: set[int]
    #: (class, capacity, used) of the inventories of the requested classes read, by provider:
    #: every such inventory of each provider named (the filters read all of a provider's or
    #: none), so the summaries need not read them again
    inventories: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)


SHARES = "MISC_SHARES_VIA_AGGREGATE"


class _Data:
    """What the queries found: providers, inventories and free capacity, traits, aggregates;
    the sharing providers (by id) with the roots of the trees they share with, and the range
    of root ids whose trees this read covers (None: all)."""

    def __init__(
        self,
        sharing: dict[int, frozenset[int]] | None = None,
        roots: tuple[int, int] | None = None,
    ) -> None:
        self.sharing = sharing or {}
        self.roots = roots
        self.nodes: dict[int, Node] = {}
        self.units: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.free: dict[tuple[int, int], int] = {}
        self.read: dict[int, list[tuple[int, int, int]]] = {}
        self.by_class: dict[int, list[int]] = {}
        self.traits: dict[int, set[int]] = {}
        self.aggs: dict[int, set[str]] = {}
        self.tree_members: dict[int, list[int]] = {}


async def compute(
    mgr: PlacementManager, conn: AsyncConnection, req: CandidateRequest, randomize: bool = False
) -> Result:
    """The candidates of ``req``: the first ``limit`` found, or with ``randomize`` (the
    ``randomize_allocation_candidates`` option) a random ``limit`` of all of them."""
    class_names = {rc for g in req.groups for rc in g.resources}
    class_ids, unknown = await mgr.classes.ids_of(conn, class_names)
    if unknown:
        raise bad_request(
            f"Invalid resource class in resources parameter: No such resource class "
            f"{', '.join(sorted(unknown))}.",
            "placement.query.bad_value",
        )
    trait_names = {t for g in req.groups for s in g.required for t in s}
    trait_names |= {t for g in req.groups for t in g.forbidden}
    trait_names |= {t for s in req.root_required for t in s} | req.root_forbidden
    trait_ids, missing = await mgr.traits.ids_of(conn, trait_names)
    if missing:
        raise bad_request(
            f"No such trait(s): {', '.join(sorted(missing))}.", "placement.query.bad_value"
        )
    in_tree_roots: dict[str, int | None] = {}
    for g in req.groups:
        if g.in_tree and g.in_tree not in in_tree_roots:
            row = (
                await conn.execute(
                    select(providers.c.root_provider_id).where(providers.c.uuid == g.in_tree)
                )
            ).first()
            in_tree_roots[g.in_tree] = row[0] if row else None
    sharing = await _sharing(mgr, conn)
    if randomize or req.limit is None:  # every candidate: one pass over every tree
        data = _Data(sharing)
        await _load(conn, req, data, class_ids, trait_ids, None)
        solver = _Solver(req, data, class_ids, trait_ids, in_tree_roots)
        with gc_paused():
            requests = list(solver.solve())
        if randomize:  # as upstream: a random sample of all of them, or all of them shuffled
            if req.limit is not None and req.limit < len(requests):
                requests = random.sample(requests, req.limit)
            else:
                random.shuffle(requests)
        nodes, read = data.nodes, data.read
    else:
        requests, nodes, read = await _first(
            conn, req, class_ids, trait_ids, in_tree_roots, sharing
        )
    used_ids = {rp for alloc, mapping in requests for rp in alloc} | {
        rp for _, mapping in requests for ids in mapping.values() for rp in ids
    }
    return Result(requests, nodes, used_ids, read)


async def _sharing(mgr: PlacementManager, conn: AsyncConnection) -> dict[int, frozenset[int]]:
    """The sharing providers, each with the roots of the trees it serves: its own and those
    of every provider in one of its aggregates."""
    trait = mgr.traits.by_name.get(SHARES)
    if trait is None:
        return {}
    shared = select(provider_traits.c.resource_provider_id).where(
        provider_traits.c.trait_id == trait
    )
    found: dict[int, set[int]] = {
        rp: {root}
        for rp, root in await fetch_all(
            conn,
            select(providers.c.id, providers.c.root_provider_id).where(providers.c.id.in_(shared)),
        )
    }
    if not found:
        return {}
    mine, theirs, member = (
        provider_aggregates.alias("mine"),
        provider_aggregates.alias("theirs"),
        providers.alias("member"),
    )
    for rp, root in await fetch_all(
        conn,
        select(mine.c.resource_provider_id, member.c.root_provider_id)
        .join(theirs, theirs.c.aggregate_id == mine.c.aggregate_id)
        .join(member, member.c.id == theirs.c.resource_provider_id)
        .where(mine.c.resource_provider_id.in_(shared))
        .distinct(),
    ):
        found[rp].add(root)
    return {rp: frozenset(roots) for rp, roots in found.items()}


async def _first(
    conn: AsyncConnection,
    req: CandidateRequest,
    class_ids: dict[str, int],
    trait_ids: dict[str, int],
    in_tree_roots: dict[str, int | None],
    sharing: dict[int, frozenset[int]],
) -> tuple[list[Any], dict[int, Node], dict[int, list[tuple[int, int, int]]]]:
    """The first ``limit`` candidates, in the order of their trees' root ids, reading the
    trees a range of root ids at a time (growing) until there are enough: a candidate lies
    within one tree, so each range's candidates follow the previous range's."""
    assert req.limit is not None
    top = (await fetch_all(conn, select(func.max(providers.c.id))))[0][0] or 0
    requests: list[Any] = []
    nodes: dict[int, Node] = {}
    read: dict[int, list[tuple[int, int, int]]] = {}
    low, step = 0, max(4 * req.limit, 128)
    while len(requests) < req.limit and low <= top:
        high = min(low + step, top + 1)  # ids stay within the column's type
        data = _Data(sharing, (low, high))
        await _load(conn, req, data, class_ids, trait_ids, (low, high))
        solver = _Solver(req, data, class_ids, trait_ids, in_tree_roots)
        with gc_paused():
            requests.extend(itertools.islice(solver.solve(), req.limit - len(requests)))
        nodes.update(data.nodes)
        read.update(data.read)
        low, step = high, step * 2
    return requests, nodes, read


async def _load(
    conn: AsyncConnection,
    req: CandidateRequest,
    data: _Data,
    class_map: dict[str, int],
    trait_map: dict[str, int],
    roots: tuple[int, int] | None,
) -> None:
    """The rows of the trees whose root id is in the range ``roots`` (all trees if None),
    and those of the sharing providers (and their trees) wherever they are."""
    trait_ids = set(trait_map.values())
    # one row per (provider, class) of the classes asked for, with its capacity and usage as
    # the database computes them; those without room for the least amount asked are skipped
    least: dict[int, int] = {}
    for g in req.groups:
        for rc_name, amount in g.resources.items():
            rc_id = class_map[rc_name]
            least[rc_id] = min(amount, least.get(rc_id, amount))
    in_range: list[Any] = []
    sharing = sorted(data.sharing)
    if roots is not None:
        scope: Any = and_(
            providers.c.root_provider_id >= roots[0],
            providers.c.root_provider_id < roots[1],
        )
        if sharing:
            scope = or_(scope, providers.c.id.in_(sharing))
        in_range = [scope]
    rows = await fetch_all(
        conn,
        _prefiltered(
            req,
            trait_map,
            sharing,
            select(
                inventories.c.resource_provider_id,
                inventories.c.resource_class_id,
                inventories.c.min_unit,
                inventories.c.max_unit,
                inventories.c.step_size,
                capacity_expr(conn.dialect.name),
                used_expr(),
                providers.c.uuid,
                providers.c.generation,
                providers.c.root_provider_id,
                providers.c.parent_provider_id,
            )
            .join(providers, providers.c.id == inventories.c.resource_provider_id)
            .where(inventories.c.resource_class_id.in_(sorted(least)), *in_range),
        ),
    )
    nodes, units, free_of, by_class = data.nodes, data.units, data.free, data.by_class
    read = data.read
    with gc_paused():
        for row in rows:
            rp, rc, min_unit, max_unit, step, capacity, used, uuid, generation, root, parent = row
            read.setdefault(rp, []).append((rc, capacity, used))
            room = capacity - used
            if room < least[rc]:  # here rather than in the query: it computes it only once
                continue
            key = (rp, rc)
            units[key] = (min_unit, max_unit, step)
            free_of[key] = int(room)
            by_class.setdefault(rc, []).append(rp)
            if rp not in nodes:
                nodes[rp] = Node(rp, uuid, generation, root, parent)
    # the trees with more than one provider (those with a child): load their other members
    found_roots = {n.root for n in data.nodes.values()}
    tree_scope = in_range
    if data.roots is not None and sharing:
        shared_roots = sorted({data.nodes[rp].root for rp in sharing if rp in data.nodes})
        tree_scope = [or_(*in_range, providers.c.root_provider_id.in_(shared_roots))]
    nested = [
        r
        for (r,) in await fetch_all(
            conn,
            select(providers.c.root_provider_id)
            .where(providers.c.parent_provider_id.is_not(None), *tree_scope)
            .distinct(),
        )
        if r in found_roots
    ]
    for start in range(0, len(nested), 900):
        chunk = nested[start : start + 900]
        for row in await fetch_all(
            conn,
            select(
                providers.c.id,
                providers.c.uuid,
                providers.c.generation,
                providers.c.root_provider_id,
                providers.c.parent_provider_id,
            ).where(providers.c.root_provider_id.in_(chunk)),
        ):
            data.nodes.setdefault(row[0], Node(*row))
    for node in data.nodes.values():
        data.tree_members.setdefault(node.root, []).append(node.id)
    if trait_ids:
        for rp, trait in await fetch_all(
            conn,
            select(provider_traits.c.resource_provider_id, provider_traits.c.trait_id).where(
                provider_traits.c.trait_id.in_(sorted(trait_ids))
            ),
        ):
            data.traits.setdefault(rp, set()).add(trait)
    agg_names = {a for g in req.groups for s in g.member_of for a in s}
    agg_names |= {a for g in req.groups for a in g.forbidden_aggs}
    if agg_names:
        for rp, agg in await fetch_all(
            conn,
            select(provider_aggregates.c.resource_provider_id, aggregates.c.uuid)
            .join(aggregates, aggregates.c.id == provider_aggregates.c.aggregate_id)
            .where(aggregates.c.uuid.in_(sorted(agg_names))),
        ):
            data.aggs.setdefault(rp, set()).add(agg)


def _in_aggregates(uuids: set[str]) -> Any:
    """Ids of the providers in any of the aggregates ``uuids`` (a subquery)."""
    return (
        select(provider_aggregates.c.resource_provider_id)
        .join(aggregates, aggregates.c.id == provider_aggregates.c.aggregate_id)
        .where(aggregates.c.uuid.in_(sorted(uuids)))
    )


def _with_traits(ids: set[int]) -> Any:
    """Ids of the providers that have any of the traits ``ids`` (a subquery)."""
    return select(provider_traits.c.resource_provider_id).where(
        provider_traits.c.trait_id.in_(sorted(ids))
    )


def _prefiltered(
    req: CandidateRequest, trait_map: dict[str, int], sharing: list[int], query: Any
) -> Any:
    """Filters that only drop inventory rows no candidate can use go into the inventory query
    itself, so only the rows that can matter come back (the solver checks all of them again).

    Always: the root traits (``root_required``; not for the ``sharing`` providers, whose
    anchor's root counts). With one request group also its aggregates (a provider qualifies
    through its own aggregates or its root's, as upstream), its tree, its forbidden traits,
    and its required traits on the provider itself, or, for the unsuffixed group, anywhere in
    a tree of several providers (whose other members may bring the trait to the candidate;
    with sharing providers not at all: they may bring it too)."""

    def unless_sharing(condition: Any) -> Any:
        return or_(condition, providers.c.id.in_(sharing)) if sharing else condition

    for anyof in req.root_required:
        ids = {trait_map[t] for t in anyof}
        query = query.where(unless_sharing(providers.c.root_provider_id.in_(_with_traits(ids))))
    if req.root_forbidden:
        ids = {trait_map[t] for t in req.root_forbidden}
        query = query.where(unless_sharing(providers.c.root_provider_id.not_in(_with_traits(ids))))
    if len(req.groups) != 1:
        return query
    group = req.groups[0]
    for anyof in group.member_of:
        query = query.where(
            or_(
                providers.c.id.in_(_in_aggregates(set(anyof))),
                providers.c.root_provider_id.in_(_in_aggregates(set(anyof))),
            )
        )
    if group.forbidden_aggs:
        query = query.where(
            providers.c.id.not_in(_in_aggregates(group.forbidden_aggs)),
            providers.c.root_provider_id.not_in(_in_aggregates(group.forbidden_aggs)),
        )
    if group.in_tree is not None:
        root = providers.alias("tree")
        query = query.where(
            providers.c.root_provider_id.in_(
                select(root.c.root_provider_id).where(root.c.uuid == group.in_tree)
            )
        )
    if group.forbidden:
        ids = {trait_map[t] for t in group.forbidden}
        query = query.where(providers.c.id.not_in(_with_traits(ids)))
    if group.required and not (sharing and group.suffix == ""):
        child = providers.alias("child")
        nested_roots = select(child.c.root_provider_id).where(
            child.c.parent_provider_id.is_not(None)
        )
        for anyof in group.required:
            own: Any = providers.c.id.in_(_with_traits({trait_map[t] for t in anyof}))
            if group.suffix == "":
                own = or_(own, providers.c.root_provider_id.in_(nested_roots))
            query = query.where(own)
    return query


class _Solver:
    def __init__(
        self,
        req: CandidateRequest,
        data: _Data,
        class_ids: dict[str, int],
        trait_ids: dict[str, int],
        in_tree_roots: dict[str, int | None],
    ):
        self.req = req
        self.data = data
        self.class_ids = class_ids
        self.trait_ids = trait_ids
        self.in_tree_roots = in_tree_roots

    # -- per-provider tests -------------------------------------------------------------
    def _has_traits(
        self, traits: set[int], required: list[frozenset[str]], forbidden: set[str]
    ) -> bool:
        ids = self.trait_ids
        if any(ids[t] in traits for t in forbidden):
            return False
        return all(any(ids[t] in traits for t in anyof) for anyof in required)

    def _in_aggs(self, rp: int, group: RequestGroup) -> bool:
        if not group.member_of and not group.forbidden_aggs:
            return True
        node = self.data.nodes[rp]
        mine = self.data.aggs.get(rp, set()) | self.data.aggs.get(node.root, set())
        if mine & group.forbidden_aggs:
            return False
        return all(mine & anyof for anyof in group.member_of)

    def _in_tree(self, rp: int, group: RequestGroup) -> bool:
        if group.in_tree is None:
            return True
        root = self.in_tree_roots.get(group.in_tree)
        return root is not None and self.data.nodes[rp].root == root

    def _supplies(self, rp: int, rc: int, amount: int) -> bool:
        units = self.data.units.get((rp, rc))
        if units is None:
            return False
        min_unit, max_unit, step = units
        return (
            min_unit <= amount <= max_unit
            and amount % step == 0
            and self.data.free[(rp, rc)] >= amount
        )

    def _suppliers(self, rc_name: str, amount: int, group: RequestGroup) -> list[int]:
        rc = self.class_ids[rc_name]
        plain = not (group.member_of or group.forbidden_aggs or group.in_tree)
        return [
            rp
            for rp in self.data.by_class.get(rc, ())
            if self._supplies(rp, rc, amount)
            and (plain or (self._in_aggs(rp, group) and self._in_tree(rp, group)))
        ]

    # -- combination --------------------------------------------------------------------
    def solve(self) -> Iterator[tuple[dict[int, dict[int, int]], dict[str, list[int]]]]:
        flat = self._flat()
        if flat is not None:
            yield from flat
            return
        yield from self._solve_trees()

    def _flat(self) -> Iterator[tuple[dict[int, dict[int, int]], dict[str, list[int]]]] | None:
        """The common case fast: one unsuffixed group and every provider that could serve it
        alone in its tree; each such provider with room for all of it is a candidate."""
        req = self.req
        if len(req.groups) != 1 or req.groups[0].suffix or not req.groups[0].resources:
            return None
        group = req.groups[0]
        data = self.data
        wanted = [(self.class_ids[n], a) for n, a in sorted(group.resources.items())]
        suppliers = [set(self._suppliers(n, a, group)) for n, a in sorted(group.resources.items())]
        everyone = set().union(*suppliers)
        if not everyone.isdisjoint(data.sharing) or any(
            len(data.tree_members.get(data.nodes[rp].root, ())) > 1 for rp in everyone
        ):
            return None
        common = sorted(set.intersection(*suppliers))
        if group.required or group.forbidden or req.root_required or req.root_forbidden:
            common = [
                rp
                for rp in common
                if self._has_traits(data.traits.get(rp, set()), group.required, group.forbidden)
                and self._root_ok(rp)
            ]
        amounts = dict(wanted)  # one dict for all: the answer only reads it
        return (({rp: amounts}, {"": [rp]}) for rp in common)

    def _solve_trees(self) -> Iterator[tuple[dict[int, dict[int, int]], dict[str, list[int]]]]:
        data = self.data
        # per group: {root: [options]}; an option is a tuple of (rp, rc, amount) per class
        plans: list[tuple[RequestGroup, dict[int, list[tuple[tuple[int, int, int], ...]]]]] = []
        for group in self.req.groups:
            per_root: dict[int, list[tuple[tuple[int, int, int], ...]]] = {}
            if group.suffix == "" or not group.resources:
                if not group.resources:  # a resourceless group: any provider with the traits
                    for rp in data.nodes:
                        if (
                            self._has_traits(
                                data.traits.get(rp, set()), group.required, group.forbidden
                            )
                            and self._in_aggs(rp, group)
                            and self._in_tree(rp, group)
                        ):
                            for root in self._anchors_here(rp, group):
                                per_root.setdefault(root, []).append(((rp, -1, 0),))
                else:
                    by_class: dict[int, dict[int, list[tuple[int, int, int]]]] = {}
                    for rc_name, amount in sorted(group.resources.items()):
                        rc = self.class_ids[rc_name]
                        trees = by_class.setdefault(rc, {})
                        for rp in self._suppliers(rc_name, amount, group):
                            for root in self._anchors_here(rp, group):
                                trees.setdefault(root, []).append((rp, rc, amount))
                    if len(by_class) < len(group.resources):
                        return
                    roots = set.intersection(*(set(v) for v in by_class.values()))
                    for root in sorted(roots):
                        combos = itertools.product(*(by_class[rc][root] for rc in by_class))
                        if group.required or group.forbidden:
                            options = [
                                combo
                                for combo in combos
                                if self._has_traits(
                                    set().union(*(data.traits.get(p, set()) for p, _, _ in combo)),
                                    group.required,
                                    group.forbidden,
                                )
                            ]
                        else:
                            options = list(combos)
                        if options:
                            per_root[root] = options
            else:
                rcs = [(self.class_ids[n], a) for n, a in sorted(group.resources.items())]
                first = self._suppliers(*sorted(group.resources.items())[0], group)
                for rp in first:
                    if all(self._supplies(rp, rc, a) for rc, a in rcs) and self._has_traits(
                        data.traits.get(rp, set()), group.required, group.forbidden
                    ):
                        option = tuple((rp, rc, a) for rc, a in rcs)
                        for root in self._anchors_here(rp, group):
                            per_root.setdefault(root, []).append(option)
            if not per_root:
                return
            plans.append((group, per_root))
        roots = set.intersection(*(set(per_root) for _, per_root in plans))
        seen: set[Any] = set()
        for root in sorted(roots):
            if not self._root_ok(root):
                continue
            for choice in itertools.product(*(per_root[root] for _, per_root in plans)):
                built = self._check(plans, choice)
                if built is None:
                    continue
                if data.sharing and not self._lowest_anchor(plans, choice, root):
                    continue
                if len(plans) > 1:  # one group never yields the same request twice
                    key = (
                        frozenset((rp, frozenset(r.items())) for rp, r in built[0].items()),
                        frozenset((k, tuple(v)) for k, v in built[1].items()),
                    )
                    if key in seen:
                        continue
                    seen.add(key)
                yield built

    def _anchors(self, rp: int, group: RequestGroup) -> frozenset[int] | tuple[int]:
        """The roots of the trees ``rp`` may serve ``group`` in: its own, and for a sharing
        provider every tree it shares with (not for the unsuffixed group with ``in_tree``)."""
        shared = self.data.sharing.get(rp)
        if shared is None or (group.suffix == "" and group.in_tree is not None):
            return (self.data.nodes[rp].root,)
        return shared

    def _anchors_here(self, rp: int, group: RequestGroup) -> list[int]:
        """Those of ``_anchors`` within the range of roots read."""
        span = self.data.roots
        return [r for r in self._anchors(rp, group) if span is None or span[0] <= r < span[1]]

    def _lowest_anchor(self, plans: list[Any], choice: tuple[Any, ...], root: int) -> bool:
        """Whether ``root`` is the lowest root that can serve ``choice``: a choice made of
        sharing providers only can be served at every tree all of them share with."""
        anchors: set[int] | None = None
        for (group, _), option in zip(plans, choice, strict=True):
            for rp, _, _ in option:
                if rp not in self.data.sharing:
                    return True  # a provider of this very tree
                mine = self._anchors(rp, group)
                anchors = set(mine) if anchors is None else anchors.intersection(mine)
        return not anchors or min(a for a in anchors if self._root_ok(a)) == root

    def _root_ok(self, root: int) -> bool:
        if not self.req.root_required and not self.req.root_forbidden:
            return True
        return self._has_traits(
            self.data.traits.get(root, set()), self.req.root_required, self.req.root_forbidden
        )

    def _check(
        self, plans: list[Any], choice: tuple[Any, ...]
    ) -> tuple[dict[int, dict[int, int]], dict[str, list[int]]] | None:
        alloc: dict[int, dict[int, int]] = {}
        mapping: dict[str, list[int]] = {}
        suffixed: list[int] = []
        for (group, _), option in zip(plans, choice, strict=True):
            rps: list[int] = []
            for rp, rc, amount in option:
                if rp not in rps:
                    rps.append(rp)
                if rc < 0:
                    continue
                resources = alloc.setdefault(rp, {})
                resources[rc] = resources.get(rc, 0) + amount
            mapping[group.suffix] = rps
            if group.suffix and group.resources:
                suffixed.extend(rps)
        if self.req.group_policy == "isolate" and len(set(suffixed)) != len(suffixed):
            return None
        for rp, resources in alloc.items():
            for rc, amount in resources.items():
                if amount > self.data.free[(rp, rc)]:
                    return None
        for suffixes in self.req.same_subtree:
            chosen = {rp for s in suffixes for rp in mapping.get(s, [])}
            if not any(all(self._below(other, top) for other in chosen) for top in chosen):
                return None
        return alloc, mapping

    def _below(self, rp: int, top: int) -> bool:
        nodes = self.data.nodes
        current: int | None = rp
        while current is not None:
            if current == top:
                return True
            node = nodes.get(current)
            current = node.parent if node else None
        return False
