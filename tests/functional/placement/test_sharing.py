"""Sharing providers (trait MISC_SHARES_VIA_AGGREGATE) in allocation candidates: a sharing
provider's inventory serves every tree with a provider in one of its aggregates, combined
with the tree's own providers in the unsuffixed group, alone in a granular group, under
group_policy, same_subtree and root_required (which looks at the anchor tree's root), and
it appears in the provider summaries and the mappings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.functional.placement.conftest import Placement, new_uuid
from tests.functional.placement.test_candidate_filters import spacers
from tests.functional.placement.test_candidates import candidates

SHARES = "MISC_SHARES_VIA_AGGREGATE"


@dataclass
class Site:
    agg: str
    diskless: str  # VCPU and MEMORY_MB only
    local: str  # VCPU, MEMORY_MB and its own DISK_GB
    host: str  # a tree: the root in the aggregate, its child with the VCPU
    numa: str
    shared: str  # DISK_GB, shared through the aggregate
    elsewhere: str  # diskless, in an aggregate without a sharing provider


@pytest.fixture(scope="module")
async def site(placement: Placement) -> Site:
    agg, other = new_uuid(), new_uuid()
    for trait in ("CUSTOM_SH_GOLD", "CUSTOM_SH_NFS"):
        await placement.put(f"/traits/{trait}")
    cpu = {"VCPU": 8, "MEMORY_MB": 2048}
    diskless = await placement.provider(inventory=cpu, aggregates=[agg], traits=["CUSTOM_SH_GOLD"])
    local = await placement.provider(inventory={**cpu, "DISK_GB": 100}, aggregates=[agg])
    host = await placement.provider(aggregates=[agg])
    numa = await placement.provider(parent=host, inventory=cpu)
    elsewhere = await placement.provider(inventory=cpu, aggregates=[other])
    await spacers(placement, 150)  # the sharing provider lies beyond a range of roots read
    shared = await placement.provider(
        inventory={"DISK_GB": 1000}, traits=[SHARES, "CUSTOM_SH_NFS"], aggregates=[agg]
    )
    return Site(agg, diskless, local, host, numa, shared, elsewhere)


def allocations(body: dict[str, Any]) -> list[dict[str, dict[str, int]]]:
    return [
        {rp: a["resources"] for rp, a in req["allocations"].items()}
        for req in body["allocation_requests"]
    ]


def canon(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted((k, canon(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset, list)):
        return sorted(canon(v) for v in value)
    return value


def same(found: list[Any], expected: list[Any]) -> bool:
    """Equal as multisets, sets and dicts compared whatever their order (the order of
    candidates and of the providers in a mapping is not part of the contract)."""
    return sorted(map(canon, found)) == sorted(map(canon, expected))


async def test_unsuffixed_group_combines_a_tree_with_the_sharing_provider(
    placement: Placement, site: Site
) -> None:
    s = site
    q = f"resources=VCPU:1,MEMORY_MB:64,DISK_GB:10&member_of={s.agg}"
    body = await candidates(placement, q)
    cpu = {"VCPU": 1, "MEMORY_MB": 64}
    disk = {"DISK_GB": 10}
    assert same(
        allocations(body),
        [
            {s.diskless: cpu, s.shared: disk},
            {s.local: {**cpu, **disk}},
            {s.local: cpu, s.shared: disk},
            {s.numa: cpu, s.shared: disk},
        ],
    )
    assert same(
        [req["mappings"] for req in body["allocation_requests"]],
        [
            {"": [s.diskless, s.shared]},
            {"": [s.local]},
            {"": [s.local, s.shared]},
            {"": [s.numa, s.shared]},
        ],
    )
    # the summaries: every provider of the trees involved, the sharing one included
    summaries = body["provider_summaries"]
    assert set(summaries) == {s.diskless, s.local, s.host, s.numa, s.shared}
    assert summaries[s.shared] == {
        "resources": {"DISK_GB": {"capacity": 1000, "used": 0}},
        "traits": ["CUSTOM_SH_NFS", SHARES],
        "parent_provider_uuid": None,
        "root_provider_uuid": s.shared,
    }
    assert summaries[s.numa]["root_provider_uuid"] == s.host
    # before 1.27 the summaries show the requested classes only; the sharing one is there
    body = await candidates(placement, q, "1.26")
    assert body["provider_summaries"][s.shared]["resources"] == {
        "DISK_GB": {"capacity": 1000, "used": 0}
    }
    # a tree outside the sharing provider's aggregates does not get its disk
    body = await candidates(placement, f"resources=VCPU:1,DISK_GB:10&in_tree={s.elsewhere}")
    assert body["allocation_requests"] == []
    # with in_tree the unsuffixed group stays within the tree: no sharing provider
    body = await candidates(placement, f"resources=VCPU:1,DISK_GB:10&in_tree={s.diskless}")
    assert body["allocation_requests"] == []
    body = await candidates(placement, f"resources=VCPU:1,DISK_GB:10&in_tree={s.local}")
    assert allocations(body) == [{s.local: {"VCPU": 1, "DISK_GB": 10}}]


async def test_a_sharing_provider_alone_is_one_candidate(placement: Placement, site: Site) -> None:
    """It could be anchored to several trees; the answer has it once."""
    s = site
    q = f"resources=DISK_GB:10&member_of={s.agg}"
    body = await candidates(placement, q)
    assert same(allocations(body), [{s.shared: {"DISK_GB": 10}}, {s.local: {"DISK_GB": 10}}])
    assert set(body["provider_summaries"]) == {s.shared, s.local}
    for limit in (1, 2, 3):
        limited = await candidates(placement, f"{q}&limit={limit}")
        assert allocations(limited) == allocations(body)[:limit]
    # used capacity of the sharing provider counts
    consumer = new_uuid()
    r = await placement.put(
        f"/allocations/{consumer}",
        json={
            "allocations": {s.shared: {"resources": {"DISK_GB": 995}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        },
    )
    assert r.status_code == 204, r.text
    body = await candidates(placement, f"resources=VCPU:1,DISK_GB:10&member_of={s.agg}")
    assert allocations(body) == [{s.local: {"VCPU": 1, "DISK_GB": 10}}]
    assert (await placement.delete(f"/allocations/{consumer}")).status_code == 204


async def test_limit_keeps_the_order_of_the_whole_answer(placement: Placement, site: Site) -> None:
    s = site
    q = f"resources=VCPU:1,DISK_GB:10&member_of={s.agg}"
    whole = allocations(await candidates(placement, q))
    assert len(whole) == 4
    for limit in range(1, 6):
        body = await candidates(placement, f"{q}&limit={limit}")
        assert allocations(body) == whole[:limit]
        used = {rp for a in allocations(body) for rp in a}
        trees = used | ({s.host} if s.numa in used else set())
        assert set(body["provider_summaries"]) == trees


async def test_traits_count_the_sharing_provider_and_root_required_the_anchor(
    placement: Placement, site: Site
) -> None:
    s = site
    base = f"resources=VCPU:1,DISK_GB:10&member_of={s.agg}"
    # a required trait may come from the sharing provider (the union of the providers')
    body = await candidates(placement, f"{base}&required=CUSTOM_SH_NFS")
    assert same(
        [set(a) for a in allocations(body)],
        [{s.diskless, s.shared}, {s.local, s.shared}, {s.numa, s.shared}],
    )
    # forbidden on any provider allocated from
    body = await candidates(placement, f"{base}&required=!{SHARES}")
    assert allocations(body) == [{s.local: {"VCPU": 1, "DISK_GB": 10}}]
    # root_required looks at the anchor's root, not the sharing provider's own
    body = await candidates(placement, f"{base}&root_required=CUSTOM_SH_GOLD")
    assert allocations(body) == [{s.diskless: {"VCPU": 1}, s.shared: {"DISK_GB": 10}}]
    body = await candidates(placement, f"{base}&root_required=!CUSTOM_SH_GOLD")
    assert same(
        [set(a) for a in allocations(body)],
        [{s.local}, {s.local, s.shared}, {s.numa, s.shared}],
    )
    body = await candidates(
        placement, f"resources=DISK_GB:10&member_of={s.agg}&root_required=CUSTOM_SH_GOLD"
    )
    assert allocations(body) == [{s.shared: {"DISK_GB": 10}}]
    assert set(body["provider_summaries"]) == {s.shared}


async def test_granular_groups_with_a_sharing_provider(placement: Placement, site: Site) -> None:
    s = site
    q = (
        f"resources1=VCPU:1&member_of1={s.agg}&resources2=DISK_GB:10&member_of2={s.agg}"
        f"&required1=!CUSTOM_SH_GOLD"
    )
    body = await candidates(placement, q + "&group_policy=none")
    expected = [
        {"1": [s.local], "2": [s.local]},
        {"1": [s.local], "2": [s.shared]},
        {"1": [s.numa], "2": [s.shared]},
    ]
    assert same([req["mappings"] for req in body["allocation_requests"]], expected)
    local = next(a for a in allocations(body) if list(a) == [s.local])
    assert local == {s.local: {"VCPU": 1, "DISK_GB": 10}}
    body = await candidates(placement, q + "&group_policy=isolate")
    assert same([req["mappings"] for req in body["allocation_requests"]], expected[1:])
    assert s.shared in body["provider_summaries"]
    # same_subtree: the sharing provider is in no tree's subtree
    body = await candidates(placement, q + "&group_policy=none&same_subtree=1,2")
    assert [req["mappings"] for req in body["allocation_requests"]] == [expected[0]]
    # the unsuffixed group with a granular one: both may use the sharing provider
    body = await candidates(
        placement,
        f"resources=VCPU:1,DISK_GB:10&member_of={s.agg}&resources1=DISK_GB:5"
        f"&member_of1={s.agg}&required=CUSTOM_SH_GOLD&group_policy=none",
    )
    assert allocations(body) == [{s.diskless: {"VCPU": 1}, s.shared: {"DISK_GB": 15}}]
    assert same(
        [req["mappings"] for req in body["allocation_requests"]],
        [{"": [s.diskless, s.shared], "1": [s.shared]}],
    )
