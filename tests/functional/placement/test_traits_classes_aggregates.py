"""Traits, resource classes and provider aggregates."""

from __future__ import annotations

from tests.functional.placement.conftest import Placement, new_uuid


async def test_traits(placement: Placement) -> None:
    r = await placement.get("/traits")
    names = r.json()["traits"]
    assert "HW_CPU_X86_AVX2" in names and "COMPUTE_STATUS_DISABLED" in names
    assert (await placement.put("/traits/CUSTOM_TT_ONE")).status_code == 201
    assert (await placement.put("/traits/CUSTOM_TT_ONE")).status_code == 204
    assert (await placement.put("/traits/NOT_CUSTOM")).status_code == 400
    assert (await placement.put("/traits/CUSTOM_lower")).status_code == 400
    assert (await placement.get("/traits/CUSTOM_TT_ONE")).status_code == 204
    assert (await placement.get("/traits/CUSTOM_TT_NONE")).status_code == 404
    r = await placement.get("/traits?name=startswith:CUSTOM_TT_")
    assert r.json()["traits"] == ["CUSTOM_TT_ONE"]
    r = await placement.get("/traits?name=in:CUSTOM_TT_ONE,HW_CPU_X86_SSE,NOPE")
    assert r.json()["traits"] == ["CUSTOM_TT_ONE", "HW_CPU_X86_SSE"]
    assert (await placement.get("/traits?name=CUSTOM_TT_ONE")).status_code == 400
    assert (await placement.get("/traits?associated=maybe")).status_code == 400
    rp = await placement.provider()
    base = f"/resource_providers/{rp}/traits"
    r = await placement.put(
        base,
        json={"traits": ["CUSTOM_TT_ONE", "HW_CPU_X86_SSE"], "resource_provider_generation": 0},
    )
    assert r.status_code == 200 and r.json()["resource_provider_generation"] == 1
    r = await placement.put(
        base, json={"traits": ["CUSTOM_TT_ONE"], "resource_provider_generation": 0}
    )
    assert r.status_code == 409
    r = await placement.put(
        base, json={"traits": ["CUSTOM_TT_MISSING"], "resource_provider_generation": 1}
    )
    assert r.status_code == 400
    r = await placement.get(base)
    assert r.json() == {
        "traits": ["CUSTOM_TT_ONE", "HW_CPU_X86_SSE"],
        "resource_provider_generation": 1,
    }
    r = await placement.get("/traits?name=startswith:CUSTOM_TT_&associated=true")
    assert r.json()["traits"] == ["CUSTOM_TT_ONE"]
    assert (await placement.delete("/traits/CUSTOM_TT_ONE")).status_code == 409
    assert (await placement.delete("/traits/HW_CPU_X86_SSE")).status_code == 400
    assert (await placement.delete(base)).status_code == 204
    assert (await placement.get(base)).json()["traits"] == []
    assert (await placement.delete("/traits/CUSTOM_TT_ONE")).status_code == 204
    assert (await placement.delete("/traits/CUSTOM_TT_ONE")).status_code == 404


async def test_resource_classes(placement: Placement) -> None:
    r = await placement.get("/resource_classes")
    names = [c["name"] for c in r.json()["resource_classes"]]
    assert names[:3] == ["VCPU", "MEMORY_MB", "DISK_GB"]
    r = await placement.post("/resource_classes", json={"name": "CUSTOM_RC_A"})
    assert r.status_code == 201
    assert r.headers["location"] == "http://testserver/placement/resource_classes/CUSTOM_RC_A"
    r = await placement.post("/resource_classes", json={"name": "CUSTOM_RC_A"})
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.duplicate_name"
    for bad in ({"name": "VCPU2"}, {"name": "CUSTOM_a"}, {}, {"name": "CUSTOM_" + "X" * 300}):
        assert (await placement.post("/resource_classes", json=bad)).status_code == 400
    r = await placement.get("/resource_classes/CUSTOM_RC_A")
    assert r.json()["links"][0]["href"] == "/placement/resource_classes/CUSTOM_RC_A"
    assert (await placement.get("/resource_classes/CUSTOM_RC_NO")).status_code == 404
    # 1.7+: PUT creates; 1.2-1.6: PUT renames
    assert (await placement.put("/resource_classes/CUSTOM_RC_B")).status_code == 201
    assert (await placement.put("/resource_classes/CUSTOM_RC_B")).status_code == 204
    r = await placement.put(
        "/resource_classes/CUSTOM_RC_B", version="1.6", json={"name": "CUSTOM_RC_C"}
    )
    assert r.status_code == 200 and r.json()["name"] == "CUSTOM_RC_C"
    assert (await placement.get("/resource_classes/CUSTOM_RC_B")).status_code == 404
    r = await placement.put("/resource_classes/VCPU", version="1.6", json={"name": "CUSTOM_V"})
    assert r.status_code == 400
    assert (await placement.delete("/resource_classes/VCPU")).status_code == 400
    rp = await placement.provider(inventory={"CUSTOM_RC_C": 3})
    assert (await placement.delete("/resource_classes/CUSTOM_RC_C")).status_code == 409
    assert (await placement.delete(f"/resource_providers/{rp}")).status_code == 204
    assert (await placement.delete("/resource_classes/CUSTOM_RC_C")).status_code == 204
    assert (await placement.delete("/resource_classes/CUSTOM_RC_A")).status_code == 204


async def test_aggregates_with_and_without_generation(placement: Placement) -> None:
    rp = await placement.provider()
    base = f"/resource_providers/{rp}/aggregates"
    a, b = new_uuid(), new_uuid()
    r = await placement.put(base, json=[a, b], version="1.18")
    assert r.status_code == 200 and sorted(r.json()["aggregates"]) == sorted([a, b])
    assert "resource_provider_generation" not in r.json()
    r = await placement.get(base, version="1.19")
    assert r.json()["resource_provider_generation"] == 1
    r = await placement.put(base, json={"aggregates": [a], "resource_provider_generation": 0})
    assert r.status_code == 409
    r = await placement.put(base, json={"aggregates": [a], "resource_provider_generation": 1})
    assert r.json() == {"aggregates": [a], "resource_provider_generation": 2}
    for bad in (
        [a],
        {"aggregates": ["nope"], "resource_provider_generation": 2},
        {"aggregates": [a, a], "resource_provider_generation": 2},
    ):
        assert (await placement.put(base, json=bad)).status_code == 400
    assert (await placement.put(base, json={"aggregates": [a]}, version="1.18")).status_code == 400
