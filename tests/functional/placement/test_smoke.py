from __future__ import annotations

from tests.functional.placement.conftest import Placement, new_uuid


async def test_smoke(placement: Placement) -> None:
    rp = await placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 4096})
    r = await placement.get("/allocation_candidates?resources=VCPU:2,MEMORY_MB:1024")
    assert r.status_code == 200, r.text
    assert rp in r.json()["provider_summaries"]
    c = new_uuid()
    r = await placement.put(f"/allocations/{c}", json={
        "allocations": {rp: {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u",
        "consumer_generation": None, "consumer_type": "INSTANCE"})
    assert r.status_code == 204, r.text
    r = await placement.get(f"/allocations/{c}")
    assert r.json()["consumer_generation"] == 0, r.text
