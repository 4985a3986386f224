"""Allocation candidates: formats per version, traits, aggregates, trees, granular groups,
group_policy, same_subtree, root_required, limit, provider summaries."""

from __future__ import annotations

from typing import Any

from tests.functional.placement.conftest import Placement, new_uuid


async def candidates(placement: Placement, query: str, version: str = "1.39") -> dict[str, Any]:
    r = await placement.get(f"/allocation_candidates?{query}", version=version)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def providers_of(body: dict[str, Any]) -> list[set[str]]:
    return [set(req["allocations"]) for req in body["allocation_requests"]]


async def test_flat_hosts_formats_and_summaries(placement: Placement) -> None:
    agg = new_uuid()
    inv = {"VCPU": {"total": 8, "allocation_ratio": 2.0}, "MEMORY_MB": 4096, "DISK_GB": 50}
    full = await placement.provider(inventory=inv, aggregates=[agg])
    small = await placement.provider(inventory={"VCPU": 1, "MEMORY_MB": 512}, aggregates=[agg])
    q = f"resources=VCPU:2,MEMORY_MB:1024&member_of={agg}"
    body = await candidates(placement, q, "1.21")
    assert body["allocation_requests"] == [
        {"allocations": {full: {"resources": {"VCPU": 2, "MEMORY_MB": 1024}}}}
    ]
    # before 1.27 only the requested classes; traits from 1.17
    assert body["provider_summaries"] == {
        full: {
            "resources": {
                "VCPU": {"capacity": 16, "used": 0},
                "MEMORY_MB": {"capacity": 4096, "used": 0},
            },
            "traits": [],
        }
    }
    body = await candidates(placement, q, "1.29")
    summary = body["provider_summaries"][full]
    assert summary["resources"]["DISK_GB"] == {"capacity": 50, "used": 0}
    assert summary["root_provider_uuid"] == full and summary["parent_provider_uuid"] is None
    body = await candidates(placement, q, "1.34")
    assert body["allocation_requests"][0]["mappings"] == {"": [full]}
    # the list format before 1.12 (and member_of only from 1.21)
    r = await placement.get(f"/allocation_candidates?{q}", version="1.11")
    assert r.status_code == 400
    r = await placement.get("/allocation_candidates?resources=VCPU:1,MEMORY_MB:1", version="1.11")
    reqs = r.json()["allocation_requests"]
    entry = next(req for req in reqs if req["allocations"][0]["resource_provider"]["uuid"] == small)
    assert entry == {
        "allocations": [
            {"resource_provider": {"uuid": small}, "resources": {"VCPU": 1, "MEMORY_MB": 1}}
        ]
    }
    # used capacity counts
    r = await placement.put(
        f"/allocations/{new_uuid()}",
        json={
            "allocations": {full: {"resources": {"VCPU": 15}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        },
    )
    assert r.status_code == 204
    assert (await candidates(placement, q))["allocation_requests"] == []


async def test_traits_and_aggregates(placement: Placement) -> None:
    agg, other_agg = new_uuid(), new_uuid()
    await placement.put("/traits/CUSTOM_AC_GPU")
    gpu = await placement.provider(
        inventory={"VCPU": 4}, traits=["CUSTOM_AC_GPU"], aggregates=[agg]
    )
    ssd = await placement.provider(
        inventory={"VCPU": 4}, traits=["STORAGE_DISK_SSD"], aggregates=[agg]
    )
    plain = await placement.provider(inventory={"VCPU": 4}, aggregates=[other_agg])
    scope = f"member_of=in:{agg},{other_agg}&resources=VCPU:1"

    async def found(extra: str, version: str = "1.39") -> set[str]:
        body = await candidates(placement, f"{scope}&{extra}" if extra else scope, version)
        return {rp for reqs in providers_of(body) for rp in reqs}

    assert await found("") == {gpu, ssd, plain}
    assert await found("required=CUSTOM_AC_GPU") == {gpu}
    assert await found("required=!CUSTOM_AC_GPU") == {ssd, plain}
    assert await found("required=in:CUSTOM_AC_GPU,STORAGE_DISK_SSD") == {gpu, ssd}
    assert await found("required=in:CUSTOM_AC_GPU,STORAGE_DISK_SSD&required=!CUSTOM_AC_GPU") == {
        ssd
    }
    assert await found(f"member_of={agg}") == {gpu, ssd}
    assert await found(f"member_of=!{other_agg}") == {gpu, ssd}
    assert await found(f"member_of=!in:{agg},{new_uuid()}") == {plain}
    assert await found("root_required=STORAGE_DISK_SSD") == {ssd}
    assert await found("root_required=!STORAGE_DISK_SSD,!CUSTOM_AC_GPU") == {plain}
    r = await placement.get(
        f"/allocation_candidates?{scope}&required=!CUSTOM_AC_GPU", version="1.21"
    )
    assert r.status_code == 400  # forbidden traits from 1.22
    r = await placement.get(f"/allocation_candidates?{scope}&required=CUSTOM_AC_NONE")
    assert r.status_code == 400


async def test_nested_tree_and_granular_groups(placement: Placement) -> None:
    await placement.put("/traits/CUSTOM_AC_PHYSNET1")
    host = await placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 8192})
    numa0 = await placement.provider(parent=host, inventory={"CUSTOM_AC_PCPU": 4})
    numa1 = await placement.provider(parent=host, inventory={"CUSTOM_AC_PCPU": 4})
    nic0 = await placement.provider(
        parent=numa0, inventory={"CUSTOM_AC_VF": 8}, traits=["CUSTOM_AC_PHYSNET1"]
    )
    nic1 = await placement.provider(parent=numa1, inventory={"CUSTOM_AC_VF": 8})
    tree = f"in_tree={host}"
    # unsuffixed: classes may come from different providers of one tree
    body = await candidates(placement, f"{tree}&resources=VCPU:1,CUSTOM_AC_PCPU:2")
    assert sorted(map(sorted, providers_of(body))) == sorted(
        [sorted({host, numa0}), sorted({host, numa1})]
    )
    assert set(body["provider_summaries"]) == {host, numa0, numa1, nic0, nic1}
    assert body["provider_summaries"][nic0]["parent_provider_uuid"] == numa0
    assert body["provider_summaries"][nic0]["root_provider_uuid"] == host
    # granular: each group from one provider; isolate keeps groups apart
    q = (
        f"resources=VCPU:1&in_tree={host}&resources1=CUSTOM_AC_PCPU:3&in_tree1={host}"
        f"&resources2=CUSTOM_AC_PCPU:3&in_tree2={host}"
    )
    r = await placement.get(f"/allocation_candidates?{q}")
    assert r.status_code == 400  # group_policy is required with two groups
    body = await candidates(placement, q + "&group_policy=isolate")
    assert len(body["allocation_requests"]) == 2
    for req in body["allocation_requests"]:
        assert set(req["allocations"]) == {host, numa0, numa1}
        m = req["mappings"]
        assert m[""] == [host] and {m["1"][0], m["2"][0]} == {numa0, numa1}
    # policy none: both groups may land on one NUMA node if it has room (it has not: 6 > 4)
    body = await candidates(placement, q + "&group_policy=none")
    assert len(body["allocation_requests"]) == 2
    q2 = (
        f"resources=VCPU:1&in_tree={host}&resources1=CUSTOM_AC_PCPU:1&in_tree1={host}"
        f"&resources2=CUSTOM_AC_PCPU:1&in_tree2={host}"
    )
    assert len((await candidates(placement, q2 + "&group_policy=none"))["allocation_requests"]) == 4
    assert (
        len((await candidates(placement, q2 + "&group_policy=isolate"))["allocation_requests"]) == 2
    )
    # a VF on a physnet-1 NIC: only nic0
    body = await candidates(
        placement,
        f"{tree}&resources=VCPU:1&resources_NET=CUSTOM_AC_VF:1"
        f"&required_NET=CUSTOM_AC_PHYSNET1&group_policy=none",
    )
    assert providers_of(body) == [{host, nic0}]
    assert body["allocation_requests"][0]["mappings"] == {"": [host], "_NET": [nic0]}
    # same_subtree: the PCPU and the VF under the same NUMA node
    body = await candidates(
        placement,
        f"in_tree_CPU={host}&resources_CPU=CUSTOM_AC_PCPU:1&resources_NET=CUSTOM_AC_VF:1"
        f"&group_policy=none&same_subtree=_CPU,_NET",
    )
    assert sorted(map(sorted, providers_of(body))) == sorted(
        [sorted({numa0, nic0}), sorted({numa1, nic1})]
    )
    # a resourceless group (1.35+) anchors the subtree on a provider with a trait
    body = await candidates(
        placement,
        f"in_tree_CPU={host}&resources_CPU=CUSTOM_AC_PCPU:1&resources_NET=CUSTOM_AC_VF:1"
        f"&required_NIC=CUSTOM_AC_PHYSNET1&group_policy=none&same_subtree=_CPU,_NIC",
    )
    assert providers_of(body) and all(numa0 in req for req in providers_of(body))
    assert all(req["mappings"]["_NIC"] == [nic0] for req in body["allocation_requests"])
    # granular suffixes other than numbers only from 1.33; groups only from 1.25
    r = await placement.get(f"/allocation_candidates?{tree}&resources_X=VCPU:1", version="1.32")
    assert r.status_code == 400
    r = await placement.get("/allocation_candidates?resources1=VCPU:1", version="1.24")
    assert r.status_code == 400


async def test_limit_and_bad_queries(placement: Placement) -> None:
    agg = new_uuid()
    for _ in range(5):
        await placement.provider(inventory={"VCPU": 2}, aggregates=[agg])
    q = f"resources=VCPU:1&member_of={agg}"
    assert len((await candidates(placement, q))["allocation_requests"]) == 5
    body = await candidates(placement, q + "&limit=2")
    assert len(body["allocation_requests"]) == 2 and len(body["provider_summaries"]) == 2
    r = await placement.get(f"/allocation_candidates?{q}&limit=2", version="1.15")
    assert r.status_code == 400
    for bad in (
        "",
        "resources=",
        "resources=VCPU:0",
        "resources=VCPU:1&limit=0",
        "resources=VCPU:1&limit=x",
        "resources=NO_SUCH:1",
        "resources=VCPU:1,VCPU:2",
        "resources=VCPU:1&group_policy=maybe",
        "required=HW_CPU_X86_AVX2",
        "resources=VCPU:1&required1=HW_CPU_X86_AVX2",
        "resources=VCPU:1&same_subtree=_NOPE",
        "resources=VCPU:1&in_tree=nope",
        "resources=VCPU:1&member_of=in:",
        "resources=VCPU:1&nope=1",
        "resources=VCPU:1&required=A,!A",
    ):
        r = await placement.get(f"/allocation_candidates?{bad}")
        assert r.status_code == 400, (bad, r.text)
    body = await candidates(placement, f"resources=VCPU:1&in_tree={new_uuid()}")
    assert body == {"allocation_requests": [], "provider_summaries": {}}
