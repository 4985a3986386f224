"""Inventories: replace, add, update, delete; generations; in-use; validation."""

from __future__ import annotations

from tests.functional.placement.conftest import Placement, new_uuid


async def test_inventory_lifecycle(placement: Placement) -> None:
    rp = await placement.provider()
    base = f"/resource_providers/{rp}/inventories"
    r = await placement.get(base)
    assert r.json() == {"inventories": {}, "resource_provider_generation": 0}
    r = await placement.put(
        base,
        json={
            "resource_provider_generation": 0,
            "inventories": {
                "VCPU": {"total": 8, "allocation_ratio": 16.0, "max_unit": 8},
                "MEMORY_MB": {"total": 4096, "reserved": 512},
            },
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["resource_provider_generation"] == 1
    assert body["inventories"]["VCPU"] == {
        "total": 8,
        "reserved": 0,
        "min_unit": 1,
        "max_unit": 8,
        "step_size": 1,
        "allocation_ratio": 16.0,
    }
    r = await placement.post(
        base, json={"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 1}
    )
    assert r.status_code == 201 and r.json()["resource_provider_generation"] == 2
    assert r.headers["location"].endswith(f"{base}/DISK_GB")
    r = await placement.post(
        base, json={"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 2}
    )
    assert r.status_code == 409
    r = await placement.get(f"{base}/DISK_GB")
    assert r.json()["total"] == 100 and r.json()["resource_provider_generation"] == 2
    r = await placement.put(
        f"{base}/DISK_GB", json={"total": 200, "resource_provider_generation": 2}
    )
    assert r.status_code == 200 and r.json()["total"] == 200
    r = await placement.put(
        f"{base}/DISK_GB", json={"total": 300, "resource_provider_generation": 2}
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.concurrent_update"
    assert (await placement.delete(f"{base}/DISK_GB")).status_code == 204
    assert (await placement.get(f"{base}/DISK_GB")).status_code == 404
    r = await placement.put(f"{base}/DISK_GB", json={"total": 1, "resource_provider_generation": 4})
    assert r.status_code == 400  # PUT of one class updates, it does not create
    r = await placement.get(f"/resource_providers/{rp}/usages")
    assert r.json()["usages"] == {"VCPU": 0, "MEMORY_MB": 0}


async def test_stale_generation_and_in_use(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 4, "DISK_GB": 10})
    base = f"/resource_providers/{rp}/inventories"
    r = await placement.put(
        base, json={"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 2}}}
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.concurrent_update"
    consumer = new_uuid()
    r = await placement.put(
        f"/allocations/{consumer}",
        json={
            "allocations": {rp: {"resources": {"VCPU": 1}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        },
    )
    assert r.status_code == 204
    generation = (await placement.get(base)).json()["resource_provider_generation"]
    r = await placement.put(
        base,
        json={
            "resource_provider_generation": generation,
            "inventories": {"DISK_GB": {"total": 10}},
        },
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.inventory.inuse"
    assert (await placement.delete(f"{base}/VCPU")).status_code == 409
    assert (await placement.delete(base)).status_code == 409
    # shrinking below what is used is allowed (the operator's call), removing is not
    r = await placement.put(
        f"{base}/VCPU", json={"total": 1, "resource_provider_generation": generation}
    )
    assert r.status_code == 200


async def test_reserved_equal_total_from_1_26(placement: Placement) -> None:
    rp = await placement.provider()
    base = f"/resource_providers/{rp}/inventories"
    body = {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4, "reserved": 4}}}
    assert (await placement.put(base, json=body, version="1.25")).status_code == 400
    assert (await placement.put(base, json=body, version="1.26")).status_code == 200
    body = {"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4, "reserved": 5}}}
    assert (await placement.put(base, json=body)).status_code == 400


async def test_inventory_validation(placement: Placement) -> None:
    rp = await placement.provider()
    base = f"/resource_providers/{rp}/inventories"
    for inv in (
        {"total": 0},
        {"total": -1},
        {"total": 2**31},
        {"total": "4"},
        {},
        {"total": 4, "allocation_ratio": 0},
        {"total": 4, "step_size": 0},
        {"total": 4, "min_unit": 5, "max_unit": 2},
        {"total": 4, "bogus": 1},
        {"total": 4.5},
    ):
        r = await placement.put(
            base, json={"resource_provider_generation": 0, "inventories": {"VCPU": inv}}
        )
        assert r.status_code == 400, (inv, r.text)
    r = await placement.put(
        base,
        json={
            "resource_provider_generation": 0,
            "inventories": {"CUSTOM_NEVER_MADE": {"total": 1}},
        },
    )
    assert r.status_code == 400
    raw = b'{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 1e400}}}'
    r = await placement.put(base, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await placement.put(base, json={"inventories": {}})
    assert r.status_code == 400
    r = await placement.put(
        f"/resource_providers/{new_uuid()}/inventories",
        json={"resource_provider_generation": 0, "inventories": {}},
    )
    assert r.status_code == 404
