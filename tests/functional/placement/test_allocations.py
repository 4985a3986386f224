"""Allocations: formats per version, consumer generations, capacity, many consumers, usages,
concurrent claims."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.functional.placement.conftest import Placement, new_uuid


def claim(
    rp: str,
    resources: dict[str, int],
    generation: Any = None,
    *,
    project: str = "proj",
    user: str = "user",
    ctype: str = "INSTANCE",
) -> dict[str, Any]:
    return {
        "allocations": {rp: {"resources": resources}},
        "project_id": project,
        "user_id": user,
        "consumer_generation": generation,
        "consumer_type": ctype,
    }


async def test_put_get_delete_and_generations(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 2048})
    c = new_uuid()
    r = await placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 2}, 5))
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.concurrent_update"
    assert (
        await placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 2}))
    ).status_code == 204
    r = await placement.get(f"/allocations/{c}")
    assert r.json() == {
        "allocations": {rp: {"generation": 2, "resources": {"VCPU": 2}}},
        "project_id": "proj",
        "user_id": "user",
        "consumer_generation": 0,
        "consumer_type": "INSTANCE",
    }
    r = await placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 3}, None))
    assert r.status_code == 409  # the consumer exists now
    r = await placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 3, "MEMORY_MB": 512}, 0))
    assert r.status_code == 204
    r = await placement.get(f"/allocations/{c}", version="1.27")
    assert "consumer_generation" not in r.json() and r.json()["project_id"] == "proj"
    r = await placement.get(f"/allocations/{c}", version="1.11")
    assert set(r.json()) == {"allocations"}
    r = await placement.get(f"/resource_providers/{rp}/allocations")
    assert r.json()["allocations"] == {c: {"resources": {"VCPU": 3, "MEMORY_MB": 512}}}
    r = await placement.get(f"/resource_providers/{rp}/usages")
    assert r.json()["usages"] == {"VCPU": 3, "MEMORY_MB": 512}
    # an empty allocation set removes the consumer (1.28+)
    r = await placement.put(f"/allocations/{c}", json={**claim(rp, {}, 1), "allocations": {}})
    assert r.status_code == 204
    assert (await placement.get(f"/allocations/{c}")).json() == {"allocations": {}}
    assert (await placement.delete(f"/allocations/{c}")).status_code == 404
    assert (
        await placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 1}))
    ).status_code == 204
    assert (await placement.delete(f"/allocations/{c}")).status_code == 204


async def test_old_formats(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 8})
    c = new_uuid()
    body = {"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]}
    assert (await placement.put(f"/allocations/{c}", json=body, version="1.7")).status_code == 204
    # 1.8 requires the project and user
    r = await placement.put(f"/allocations/{c}", json=body, version="1.8")
    assert r.status_code == 400
    body.update(project_id="p", user_id="u")
    assert (await placement.put(f"/allocations/{c}", json=body, version="1.8")).status_code == 204
    # the list format is gone at 1.12; consumer_generation is required at 1.28
    assert (await placement.put(f"/allocations/{c}", json=body, version="1.12")).status_code == 400
    dict_body = {"allocations": {rp: {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u"}
    r = await placement.put(f"/allocations/{c}", json=dict_body, version="1.12")
    assert r.status_code == 204
    assert (
        await placement.put(f"/allocations/{c}", json=dict_body, version="1.28")
    ).status_code == 400
    r = await placement.put(
        f"/allocations/{c}", json={**dict_body, "consumer_generation": 2}, version="1.37"
    )
    assert r.status_code == 204  # consumer_type needed only from 1.38
    assert (
        await placement.put(
            f"/allocations/{c}", json={**dict_body, "consumer_generation": 3}, version="1.38"
        )
    ).status_code == 400


async def test_capacity_and_constraints(placement: Placement) -> None:
    rp = await placement.provider(
        inventory={
            "VCPU": {"total": 4, "allocation_ratio": 2.0, "max_unit": 4},
            "DISK_GB": {"total": 100, "reserved": 10, "step_size": 10, "min_unit": 10},
        }
    )
    ok = claim(rp, {"VCPU": 4, "DISK_GB": 90})
    assert (await placement.put(f"/allocations/{new_uuid()}", json=ok)).status_code == 204
    for resources in (
        {"VCPU": 5},
        {"DISK_GB": 15},
        {"DISK_GB": 5},
        {"MEMORY_MB": 1},
        {"DISK_GB": 10},
    ):
        r = await placement.put(f"/allocations/{new_uuid()}", json=claim(rp, resources))
        assert r.status_code == 409, (resources, r.text)
    assert (
        await placement.put(f"/allocations/{new_uuid()}", json=claim(rp, {"VCPU": 4}))
    ).status_code == 204
    assert (
        await placement.put(f"/allocations/{new_uuid()}", json=claim(rp, {"VCPU": 1}))
    ).status_code == 409
    for bad in (
        claim(new_uuid(), {"VCPU": 1}),
        claim(rp, {"VCPU": 0}),
        claim(rp, {"VCPU": -1}),
        claim(rp, {"NO_SUCH_CLASS": 1}),
        claim(rp, {"vcpu": 1}),
        {**claim(rp, {"VCPU": 1}), "consumer_type": "lower"},
        {
            "allocations": {"bad": {"resources": {"VCPU": 1}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "X",
        },
    ):
        r = await placement.put(f"/allocations/{new_uuid()}", json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert (await placement.put("/allocations/not-a-uuid", json=ok)).status_code == 400


async def test_post_many_consumers_is_atomic(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 4})
    a, b, c = new_uuid(), new_uuid(), new_uuid()
    body = {a: claim(rp, {"VCPU": 2}), b: claim(rp, {"VCPU": 2})}
    assert (await placement.post("/allocations", json=body)).status_code == 204
    # moving b's claim to c and adding one more than fits fails as a whole
    body = {b: {**claim(rp, {}, 0), "allocations": {}}, c: claim(rp, {"VCPU": 3})}
    assert (await placement.post("/allocations", json=body)).status_code == 409
    assert (await placement.get(f"/allocations/{b}")).json()["allocations"]
    body = {b: {**claim(rp, {}, 0), "allocations": {}}, c: claim(rp, {"VCPU": 2})}
    assert (await placement.post("/allocations", json=body)).status_code == 204
    assert (await placement.get(f"/allocations/{b}")).json() == {"allocations": {}}
    r = await placement.get(f"/resource_providers/{rp}/usages")
    assert r.json()["usages"] == {"VCPU": 4}
    assert (await placement.post("/allocations", json={})).status_code == 400


async def test_project_usages(placement: Placement, demo_placement: Placement) -> None:
    project = new_uuid()
    rp = await placement.provider(inventory={"VCPU": 32, "MEMORY_MB": 4096})
    for user, ctype, vcpu in (("u1", "INSTANCE", 2), ("u1", "INSTANCE", 1), ("u2", "MIGRATION", 4)):
        r = await placement.put(
            f"/allocations/{new_uuid()}",
            json=claim(
                rp, {"VCPU": vcpu, "MEMORY_MB": 128}, project=project, user=user, ctype=ctype
            ),
        )
        assert r.status_code == 204
    r = await placement.get(f"/usages?project_id={project}", version="1.9")
    assert r.json() == {"usages": {"VCPU": 7, "MEMORY_MB": 384}}
    r = await placement.get(f"/usages?project_id={project}&user_id=u1", version="1.37")
    assert r.json() == {"usages": {"VCPU": 3, "MEMORY_MB": 256}}
    r = await placement.get(f"/usages?project_id={project}")
    assert r.json()["usages"] == {
        "INSTANCE": {"consumer_count": 2, "VCPU": 3, "MEMORY_MB": 256},
        "MIGRATION": {"consumer_count": 1, "VCPU": 4, "MEMORY_MB": 128},
    }
    r = await placement.get(f"/usages?project_id={project}&consumer_type=all")
    assert r.json()["usages"] == {"all": {"consumer_count": 3, "VCPU": 7, "MEMORY_MB": 384}}
    r = await placement.get(f"/usages?project_id={project}&consumer_type=MIGRATION")
    assert r.json()["usages"] == {"MIGRATION": {"consumer_count": 1, "VCPU": 4, "MEMORY_MB": 128}}
    assert (await placement.get("/usages")).status_code == 400
    assert (
        await placement.get("/usages?project_id=x&consumer_type=A", version="1.37")
    ).status_code == 400
    # a project member reads its own project's usages only
    own = (
        await demo_placement.client.get(
            "/identity/v3/auth/tokens",
            headers={
                **demo_placement.headers,
                "X-Subject-Token": demo_placement.headers["X-Auth-Token"],
            },
        )
    ).json()["token"]["project"]["id"]
    assert (await demo_placement.get(f"/usages?project_id={own}")).status_code == 200
    assert (await demo_placement.get(f"/usages?project_id={project}")).status_code == 403


async def test_concurrent_claims_never_overcommit(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 5})
    consumers = [new_uuid() for _ in range(20)]
    results = await asyncio.gather(
        *(placement.put(f"/allocations/{c}", json=claim(rp, {"VCPU": 1})) for c in consumers)
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(204) == 5 and codes.count(409) == 15, codes
    r = await placement.get(f"/resource_providers/{rp}/usages")
    assert r.json()["usages"] == {"VCPU": 5}
    r = await placement.get(f"/resource_providers/{rp}")
    assert r.json()["generation"] == 1 + 5
