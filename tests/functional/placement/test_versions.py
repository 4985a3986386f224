"""Version discovery, microversion negotiation, version-gated routes, auth and policy."""

from __future__ import annotations

import httpx

from tests.functional.placement.conftest import PL, Placement


async def test_root_document_without_token(client: httpx.AsyncClient) -> None:
    for path in (PL, PL + "/"):
        r = await client.get(path)
        assert r.status_code == 200
        (v,) = r.json()["versions"]
        assert v["id"] == "v1.0" and v["min_version"] == "1.0" and v["max_version"] == "1.39"
        assert v["status"] == "CURRENT"
        assert r.headers["openstack-api-version"] == "placement 1.0"
        assert r.headers["vary"] == "OpenStack-API-Version"


async def test_negotiation(placement: Placement) -> None:
    r = await placement.get("/resource_providers", version="latest")
    assert r.headers["openstack-api-version"] == "placement 1.39"
    r = await placement.client.get(PL + "/resource_providers", headers=placement.headers)
    assert r.headers["openstack-api-version"] == "placement 1.0"
    r = await placement.get("/resource_providers", version="1.40")
    assert r.status_code == 406
    (err,) = r.json()["errors"]
    assert err["status"] == 406 and "1.40" in err["detail"]
    assert err["request_id"] == r.headers["x-openstack-request-id"]
    r = await placement.get("/resource_providers", version="1.x")
    assert r.status_code == 400 and r.json()["errors"][0]["title"] == "Bad Request"


async def test_routes_gated_by_version(placement: Placement) -> None:
    assert (await placement.get("/traits", version="1.5")).status_code == 404
    assert (await placement.get("/traits", version="1.6")).status_code == 200
    assert (await placement.get("/resource_classes", version="1.1")).status_code == 404
    assert (await placement.get("/usages?project_id=x", version="1.8")).status_code == 404
    r = await placement.get("/allocation_candidates?resources=VCPU:1", version="1.9")
    assert r.status_code == 404
    assert (await placement.post("/allocations", json={}, version="1.12")).status_code == 404
    assert (await placement.post("/reshaper", json={}, version="1.29")).status_code == 404
    rp = await placement.provider()
    r = await placement.delete(f"/resource_providers/{rp}/inventories", version="1.4")
    assert r.status_code == 405
    r = await placement.delete(f"/resource_providers/{rp}/inventories", version="1.5")
    assert r.status_code == 204
    r = await placement.get(f"/resource_providers/{rp}/aggregates", version="1.0")
    assert r.status_code == 404


async def test_unknown_route_and_method(placement: Placement) -> None:
    r = await placement.get("/nothing-here")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "placement.undefined_code"
    r = await placement.request("PATCH", "/resource_providers")
    assert r.status_code == 405


async def test_token_and_policy(client: httpx.AsyncClient, demo_placement: Placement) -> None:
    r = await client.get(PL + "/resource_providers")
    assert r.status_code == 401 and r.json()["errors"][0]["status"] == 401
    r = await demo_placement.get("/resource_providers")
    assert r.status_code == 403 and r.json()["errors"][0]["status"] == 403
    r = await demo_placement.post("/resource_providers", json={"name": "sneaky"})
    assert r.status_code == 403
    r = await demo_placement.get("/allocation_candidates?resources=VCPU:1")
    assert r.status_code == 403


async def test_cache_headers_from_1_15(placement: Placement) -> None:
    rp = await placement.provider()
    r = await placement.get(f"/resource_providers/{rp}", version="1.14")
    assert "last-modified" not in r.headers
    r = await placement.get(f"/resource_providers/{rp}", version="1.15")
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["last-modified"].endswith("GMT")
