"""GET /resource_providers (no filter) serves a kept body only while no provider changed,
including changes another Placement process writes straight into the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update

from onestack.common.db import utcnow
from onestack.placement.models import providers
from onestack.server import Cloud
from tests.functional.placement.conftest import Placement, new_uuid


def _manager(cloud: Cloud) -> Any:
    return next(s for s in cloud.services if type(s).__name__ == "PlacementService").manager


async def _listed(placement: Placement, version: str = "1.39") -> dict[str, dict[str, Any]]:
    r = await placement.get("/resource_providers", version=version)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return {p["uuid"]: p for p in r.json()["resource_providers"]}


async def test_list_follows_every_change(placement: Placement) -> None:
    before = await _listed(placement)
    assert before == await _listed(placement)  # kept body, same answer
    rp = await placement.provider()
    seen = await _listed(placement)
    assert set(seen) == set(before) | {rp} and seen[rp]["generation"] == 0
    r = await placement.put(f"/resource_providers/{rp}", json={"name": "renamed-cache"})
    assert r.status_code == 200, r.text
    assert (await _listed(placement))[rp]["name"] == "renamed-cache"
    r = await placement.put(
        f"/resource_providers/{rp}/traits",
        json={"traits": ["HW_CPU_X86_AVX"], "resource_provider_generation": 1},
    )
    assert r.status_code == 200, r.text
    assert (await _listed(placement))[rp]["generation"] == 2
    child = await placement.provider(parent=rp)
    got = await _listed(placement)
    assert got[child]["parent_provider_uuid"] == rp and got[child]["root_provider_uuid"] == rp
    # each microversion keeps its own shape
    old = await _listed(placement, "1.0")
    assert "root_provider_uuid" not in old[child]
    assert {link["rel"] for link in old[child]["links"]} == {"self", "inventories", "usages"}
    assert "root_provider_uuid" in (await _listed(placement))[child]
    for gone in (child, rp):
        r = await placement.delete(f"/resource_providers/{gone}")
        assert r.status_code == 204, r.text
    assert set(await _listed(placement)) == set(before)


async def test_list_sees_another_process_writes(cloud: Cloud, placement: Placement) -> None:
    await _listed(placement)  # a body is kept now
    db = _manager(cloud).db
    uuid, now = new_uuid(), utcnow()
    async with db.engine.begin() as conn:  # as a second Placement process would
        result = await conn.execute(
            insert(providers).values(
                uuid=uuid, name=f"other-{uuid[:8]}", generation=0, created_at=now, updated_at=now
            )
        )
        rp_id = result.inserted_primary_key[0]
        await conn.execute(
            update(providers).where(providers.c.id == rp_id).values(root_provider_id=rp_id)
        )
    assert (await _listed(placement))[uuid]["generation"] == 0
    async with db.engine.begin() as conn:
        await conn.execute(
            update(providers)
            .where(providers.c.id == rp_id)
            .values(name="other-renamed", generation=1)
        )
    assert (await _listed(placement))[uuid]["name"] == "other-renamed"
    async with db.engine.begin() as conn:
        await conn.execute(delete(providers).where(providers.c.id == rp_id))
    assert uuid not in await _listed(placement)
