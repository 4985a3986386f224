"""The reshaper, and hostile input on every route: always a 4xx in Placement's format."""

from __future__ import annotations

import pytest

from tests.functional.placement.conftest import Placement, new_uuid


async def test_reshape_moves_inventory_and_allocations(placement: Placement) -> None:
    host = await placement.provider(inventory={"VCPU": 8, "CUSTOM_RS_VGPU": 4})
    child = await placement.provider(parent=host)
    consumer = new_uuid()
    r = await placement.put(f"/allocations/{consumer}", json={
        "allocations": {host: {"resources": {"VCPU": 1, "CUSTOM_RS_VGPU": 2}}},
        "project_id": "p", "user_id": "u", "consumer_generation": None,
        "consumer_type": "INSTANCE"})
    assert r.status_code == 204
    host_gen = (await placement.get(f"/resource_providers/{host}")).json()["generation"]
    child_gen = (await placement.get(f"/resource_providers/{child}")).json()["generation"]

    def body(consumer_generation: int, host_generation: int) -> dict[str, object]:
        return {
            "inventories": {
                host: {"inventories": {"VCPU": {"total": 8}},
                       "resource_provider_generation": host_generation},
                child: {"inventories": {"CUSTOM_RS_VGPU": {"total": 4}},
                        "resource_provider_generation": child_gen},
            },
            "allocations": {consumer: {
                "allocations": {host: {"resources": {"VCPU": 1}},
                                child: {"resources": {"CUSTOM_RS_VGPU": 2}}},
                "project_id": "p", "user_id": "u", "consumer_generation": consumer_generation,
                "consumer_type": "INSTANCE"}},
        }

    # a stale generation changes nothing
    assert (await placement.post("/reshaper", json=body(0, host_gen - 1))).status_code == 409
    assert (await placement.post("/reshaper", json=body(0, host_gen), version="1.29")
            ).status_code == 404
    # the allocation must move too: leaving it is refused, atomically
    left = body(0, host_gen)
    left["allocations"] = {}
    r = await placement.post("/reshaper", json=left)
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.inventory.inuse"
    r = await placement.get(f"/resource_providers/{host}/inventories")
    assert "CUSTOM_RS_VGPU" in r.json()["inventories"]
    assert (await placement.post("/reshaper", json=body(0, host_gen))).status_code == 204
    r = await placement.get(f"/allocations/{consumer}")
    assert r.json()["allocations"][child]["resources"] == {"CUSTOM_RS_VGPU": 2}
    assert r.json()["consumer_generation"] == 1
    r = await placement.get(f"/resource_providers/{host}/inventories")
    assert set(r.json()["inventories"]) == {"VCPU"}
    for bad in ({}, {"inventories": {}}, {"inventories": {"x": {}}, "allocations": {}},
                {"inventories": {host: {"inventories": {}}}, "allocations": {}}):
        assert (await placement.post("/reshaper", json=bad)).status_code == 400


HOSTILE = [None, 0, -1, 2**63, 1.5, "", "x" * 300, "\u0000", [], {}, [1], {"a": 1}, True]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/resource_providers"),
    ("PUT", "/resource_providers/{rp}"),
    ("PUT", "/resource_providers/{rp}/inventories"),
    ("POST", "/resource_providers/{rp}/inventories"),
    ("PUT", "/resource_providers/{rp}/inventories/VCPU"),
    ("PUT", "/resource_providers/{rp}/aggregates"),
    ("PUT", "/resource_providers/{rp}/traits"),
    ("POST", "/resource_classes"),
    ("PUT", "/allocations/{consumer}"),
    ("POST", "/allocations"),
    ("POST", "/reshaper"),
])
async def test_hostile_bodies(placement: Placement, method: str, path: str) -> None:
    rp = await placement.provider(inventory={"VCPU": 2})
    url = path.format(rp=rp, consumer=new_uuid())
    for value in HOSTILE:
        for body in (value, {"name": value}, {"inventories": value,
                                              "resource_provider_generation": value},
                     {"allocations": value, "project_id": value, "user_id": value,
                      "consumer_generation": value, "consumer_type": value},
                     {"aggregates": value, "traits": value, "resource_provider_generation": 1},
                     {new_uuid(): value}):
            r = await placement.request(method, url, json=body)
            assert 400 <= r.status_code < 500, (method, url, body, r.text)
            assert r.json()["errors"][0]["status"] == r.status_code
    r = await placement.request(method, url, content=b"\xff\xfe not json",
                                headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("path", [
    "/resource_providers/{bad}", "/resource_providers/{bad}/inventories",
    "/resource_providers/{bad}/inventories/VCPU", "/resource_providers/{bad}/usages",
    "/resource_providers/{bad}/aggregates", "/resource_providers/{bad}/traits",
    "/resource_providers/{bad}/allocations", "/allocations/{bad}", "/traits/{bad}",
    "/resource_classes/{bad}",
])
async def test_hostile_path_values(placement: Placement, path: str) -> None:
    for bad in ("nope", "x" * 1000, "%27%3B--", "..%2F..", "CUSTOM_%E2%98%83"):
        r = await placement.get(path.format(bad=bad))
        if path == "/allocations/{bad}" and r.status_code == 200:  # as upstream: nothing held
            assert r.json() == {"allocations": {}}
            continue
        assert r.status_code in (400, 404), (path, bad, r.text)
    r = await placement.get(path.format(bad="a%00b"))
    assert r.status_code == 400


async def test_hostile_queries(placement: Placement) -> None:
    for q in ("resources=VCPU:99999999999999999999", "resources=" + "A" * 5000 + ":1",
              "resources=VCPU:1&limit=99999999999999999999999",
              "resources=VCPU:1&member_of=" + ",".join([new_uuid()] * 3),
              "resources=VCPU:1&required=" + "!" * 10,
              "resources=VCPU:1&resources1=VCPU:1&resources2=VCPU:1&group_policy=",
              "resources=%E2%98%83:1", "resources=VCPU:1&in_tree=" + "a" * 36):
        r = await placement.get(f"/allocation_candidates?{q}")
        assert 200 <= r.status_code < 500 and r.status_code != 500, (q, r.text)
        if r.status_code >= 400:
            assert r.json()["errors"][0]["status"] == r.status_code
