"""Allocation candidate filters pushed into the query (traits on the provider or its tree,
root traits, aggregates through the root), randomize_allocation_candidates, and the error
``code`` field from 1.23 only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from onestack.server import Cloud
from tests.functional.placement.conftest import Placement, new_uuid
from tests.functional.placement.test_candidates import candidates, providers_of


async def test_required_trait_in_a_tree_or_on_the_provider(placement: Placement) -> None:
    await placement.put("/traits/CUSTOM_CF_FAST")
    agg = new_uuid()
    # a tree: the trait on the root, the class on a child; the unsuffixed group takes the
    # union of the traits of the providers it allocates from, so only with the root's VCPU
    host = await placement.provider(
        inventory={"VCPU": 4}, traits=["CUSTOM_CF_FAST"], aggregates=[agg]
    )
    child = await placement.provider(parent=host, inventory={"CUSTOM_CF_DISK": 10})
    # a single provider with the class but not the trait, and one with both
    lone = await placement.provider(inventory={"CUSTOM_CF_DISK": 10}, aggregates=[agg])
    fast = await placement.provider(
        inventory={"CUSTOM_CF_DISK": 10}, traits=["CUSTOM_CF_FAST"], aggregates=[agg]
    )
    body = await candidates(placement, "resources=CUSTOM_CF_DISK:1&required=CUSTOM_CF_FAST")
    assert sorted(map(sorted, providers_of(body))) == [[fast]]
    q = "resources=VCPU:1,CUSTOM_CF_DISK:1&required=CUSTOM_CF_FAST"
    body = await candidates(placement, q)
    assert providers_of(body) == [{host, child}]
    # forbidden: any provider allocated from must lack it
    body = await candidates(
        placement, f"resources=CUSTOM_CF_DISK:1&required=!CUSTOM_CF_FAST&member_of={agg}"
    )
    assert sorted(map(sorted, providers_of(body))) == sorted([[lone], [child]])
    body = await candidates(placement, "resources=VCPU:1,CUSTOM_CF_DISK:1&required=!CUSTOM_CF_FAST")
    assert host not in {rp for req in providers_of(body) for rp in req}
    # a suffixed group needs the trait on its own provider
    body = await candidates(placement, "resources1=CUSTOM_CF_DISK:1&required1=CUSTOM_CF_FAST")
    assert providers_of(body) == [{fast}]
    # root_required looks at the root of the tree, whatever it allocates from
    body = await candidates(placement, "resources=CUSTOM_CF_DISK:1&root_required=CUSTOM_CF_FAST")
    assert sorted(map(sorted, providers_of(body))) == sorted([[child], [fast]])
    body = await candidates(
        placement, f"resources=CUSTOM_CF_DISK:1&root_required=!CUSTOM_CF_FAST&member_of={agg}"
    )
    assert providers_of(body) == [{lone}]


async def test_member_of_counts_the_root_aggregate(placement: Placement) -> None:
    """As upstream: a provider is in an aggregate when it or its root is; forbidden
    aggregates exclude a provider when it or its root is in them."""
    root_agg, child_agg = new_uuid(), new_uuid()
    host = await placement.provider(inventory={"VCPU": 2}, aggregates=[root_agg])
    child = await placement.provider(
        parent=host, inventory={"CUSTOM_CF_NIC": 4}, aggregates=[child_agg]
    )
    other = await placement.provider(parent=host, inventory={"CUSTOM_CF_NIC": 4})
    body = await candidates(placement, f"resources=CUSTOM_CF_NIC:1&member_of={root_agg}")
    assert sorted(map(sorted, providers_of(body))) == sorted([[child], [other]])
    body = await candidates(placement, f"resources=CUSTOM_CF_NIC:1&member_of={child_agg}")
    assert providers_of(body) == [{child}]
    body = await candidates(placement, f"resources=CUSTOM_CF_NIC:1&member_of=!{root_agg}")
    assert not {child, other} & {rp for req in providers_of(body) for rp in req}
    body = await candidates(
        placement, f"resources=CUSTOM_CF_NIC:1&member_of=!{child_agg}&in_tree={host}"
    )
    assert providers_of(body) == [{other}]
    # the root's aggregate does not reach a child's sibling through the child's aggregate
    body = await candidates(placement, f"resources=VCPU:1&member_of={child_agg}")
    assert providers_of(body) == []


@contextmanager
def randomized(cloud: Cloud) -> Iterator[None]:
    conf = cloud.settings.placement
    conf.randomize_allocation_candidates = True
    try:
        yield
    finally:
        conf.randomize_allocation_candidates = False


async def test_randomize_allocation_candidates(placement: Placement, cloud: Cloud) -> None:
    agg = new_uuid()
    hosts = [await placement.provider(inventory={"VCPU": 2}, aggregates=[agg]) for _ in range(8)]
    q = f"resources=VCPU:1&member_of={agg}"
    first = [req.pop() for req in providers_of(await candidates(placement, q))]
    assert sorted(first) == sorted(hosts)
    # without the option: always the same first one
    picks = {providers_of(await candidates(placement, q + "&limit=1"))[0].pop() for _ in range(5)}
    assert len(picks) == 1
    with randomized(cloud):
        picks = set()
        for _ in range(20):  # a 1 in 8**19 chance of the same one every time
            body = await candidates(placement, q + "&limit=1")
            assert len(body["allocation_requests"]) == 1
            (rp,) = providers_of(body)[0]
            assert set(body["provider_summaries"]) == {rp}
            picks.add(rp)
        assert len(picks) > 1 and picks <= set(hosts)
        orders = {
            tuple(r.pop() for r in providers_of(await candidates(placement, q))) for _ in range(5)
        }
        assert len(orders) > 1 and all(sorted(o) == sorted(hosts) for o in orders)


async def test_error_code_from_1_23(placement: Placement) -> None:
    missing = f"/resource_providers/{new_uuid()}"
    for version, has_code in (("1.22", False), ("1.0", False), ("1.23", True), ("1.39", True)):
        r = await placement.get(missing, version=version)
        assert r.status_code == 404
        (error,) = r.json()["errors"]
        assert ("code" in error) is has_code, (version, error)
        assert error["status"] == 404 and error["detail"]
    r = await placement.get(missing, version="1.23")
    assert r.json()["errors"][0]["code"] == "placement.resource_provider.not_found"
    r = await placement.get("/allocation_candidates?resources=VCPU:x", version="1.22")
    assert r.status_code == 400 and "code" not in r.json()["errors"][0]
    r = await placement.get("/resource_providers", version="9.99")
    assert r.status_code == 406 and "code" not in r.json()["errors"][0]


async def spacers(placement: Placement, count: int) -> None:
    """Providers with nothing, so the next ones' ids lie beyond a range of ids read."""
    for _ in range(count):
        r = await placement.post("/resource_providers", json={"name": f"sp-{new_uuid()}"})
        assert r.status_code == 200, r.text


async def test_limit_reads_trees_by_ranges_in_order(placement: Placement) -> None:
    """With a limit the trees are read a range of root ids at a time: the answer is the
    first ``limit`` of the whole answer, trees whose members lie far apart included."""
    agg = new_uuid()
    first = await placement.provider(inventory={"CUSTOM_CF_SLOT": 2}, aggregates=[agg])
    tree = await placement.provider(inventory={"VCPU": 1}, aggregates=[agg])
    await spacers(placement, 140)
    leaf = await placement.provider(parent=tree, inventory={"CUSTOM_CF_SLOT": 2})
    await spacers(placement, 300)
    last = await placement.provider(inventory={"CUSTOM_CF_SLOT": 2}, aggregates=[agg])
    q = f"resources=CUSTOM_CF_SLOT:1&member_of={agg}"
    whole = [r.pop() for r in providers_of(await candidates(placement, q))]
    assert whole == [first, leaf, last]
    for limit in (1, 2, 3, 5):
        body = await candidates(placement, f"{q}&limit={limit}")
        assert [r.pop() for r in providers_of(body)] == whole[:limit]
        expected = {first, tree, leaf} if limit >= 2 else {first}
        if limit >= 3:
            expected.add(last)
        assert set(body["provider_summaries"]) == expected
    # a two-provider candidate from the far-apart tree
    q = f"resources=CUSTOM_CF_SLOT:1,VCPU:1&member_of={agg}&limit=1"
    assert providers_of(await candidates(placement, q)) == [{tree, leaf}]
