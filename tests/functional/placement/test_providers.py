"""Resource providers: create per version, show, update, delete, trees, list filters."""

from __future__ import annotations

from tests.functional.placement.conftest import Placement, new_uuid


async def test_create_before_and_after_1_20(placement: Placement) -> None:
    u = new_uuid()
    r = await placement.post(
        "/resource_providers", json={"name": f"old-{u}", "uuid": u}, version="1.19"
    )
    assert r.status_code == 201 and not r.content
    assert r.headers["location"] == f"http://testserver/placement/resource_providers/{u}"
    r = await placement.post("/resource_providers", json={"name": f"new-{u}"}, version="1.20")
    assert r.status_code == 200
    body = r.json()
    assert body["generation"] == 0 and body["root_provider_uuid"] == body["uuid"]
    assert body["parent_provider_uuid"] is None
    rels = [link["rel"] for link in body["links"]]
    assert rels == ["self", "inventories", "usages", "aggregates", "traits", "allocations"]


async def test_links_and_fields_per_version(placement: Placement) -> None:
    rp = await placement.provider()
    r = await placement.get(f"/resource_providers/{rp}", version="1.0")
    body = r.json()
    assert [link["rel"] for link in body["links"]] == ["self", "inventories", "usages"]
    assert "root_provider_uuid" not in body
    r = await placement.get(f"/resource_providers/{rp}", version="1.14")
    assert r.json()["root_provider_uuid"] == rp


async def test_duplicates_and_bad_bodies(placement: Placement) -> None:
    name = f"dup-{new_uuid()}"
    rp = await placement.provider(name)
    r = await placement.post("/resource_providers", json={"name": name})
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.duplicate_name"
    r = await placement.post("/resource_providers", json={"name": "x", "uuid": rp})
    assert r.status_code == 409
    for bad in (
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": 5},
        {"name": "a", "extra": 1},
        {"name": "a", "uuid": "not-a-uuid"},
        [],
        "text",
    ):
        r = await placement.post("/resource_providers", json=bad)
        assert r.status_code == 400, (bad, r.text)
    r = await placement.post(
        "/resource_providers", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    r = await placement.post(
        "/resource_providers", content=b'{"name": "x"}', headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415
    r = await placement.post(
        "/resource_providers",
        json={"name": "a", "parent_provider_uuid": new_uuid()},
        version="1.13",
    )
    assert r.status_code == 400  # no parents before 1.14


async def test_show_update_delete(placement: Placement) -> None:
    rp = await placement.provider()
    assert (await placement.get(f"/resource_providers/{new_uuid()}")).status_code == 404
    r = await placement.get(f"/resource_providers/{new_uuid()}")
    assert r.json()["errors"][0]["code"] == "placement.resource_provider.not_found"
    r = await placement.put(f"/resource_providers/{rp}", json={"name": f"renamed-{rp}"})
    assert r.status_code == 200 and r.json()["name"] == f"renamed-{rp}"
    assert r.json()["generation"] == 1
    other = await placement.provider()
    r = await placement.put(f"/resource_providers/{other}", json={"name": f"renamed-{rp}"})
    assert r.status_code == 409
    assert (await placement.delete(f"/resource_providers/{rp}")).status_code == 204
    assert (await placement.delete(f"/resource_providers/{rp}")).status_code == 404


async def test_trees_and_reparenting(placement: Placement) -> None:
    root = await placement.provider()
    child = await placement.provider(parent=root)
    grandchild = await placement.provider(parent=child)
    r = await placement.get(f"/resource_providers/{grandchild}")
    assert r.json()["root_provider_uuid"] == root
    assert r.json()["parent_provider_uuid"] == child
    r = await placement.get(f"/resource_providers?in_tree={child}")
    assert {p["uuid"] for p in r.json()["resource_providers"]} == {root, child, grandchild}
    # a parent with children cannot go
    r = await placement.delete(f"/resource_providers/{root}")
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.resource_provider.cannot_delete_parent"
    other = await placement.provider()
    name = (await placement.get(f"/resource_providers/{child}")).json()["name"]
    # before 1.37: a parent may not change nor go away
    r = await placement.put(
        f"/resource_providers/{child}",
        version="1.36",
        json={"name": name, "parent_provider_uuid": other},
    )
    assert r.status_code == 400
    r = await placement.put(
        f"/resource_providers/{child}",
        version="1.36",
        json={"name": name, "parent_provider_uuid": None},
    )
    assert r.status_code == 400
    # but an orphan may get one
    lone = await placement.provider()
    lname = (await placement.get(f"/resource_providers/{lone}")).json()["name"]
    r = await placement.put(
        f"/resource_providers/{lone}",
        version="1.14",
        json={"name": lname, "parent_provider_uuid": other},
    )
    assert r.status_code == 200 and r.json()["root_provider_uuid"] == other
    # from 1.37 a subtree moves, never below itself
    r = await placement.put(
        f"/resource_providers/{child}", json={"name": name, "parent_provider_uuid": grandchild}
    )
    assert r.status_code == 400
    r = await placement.put(
        f"/resource_providers/{child}", json={"name": name, "parent_provider_uuid": other}
    )
    assert r.status_code == 200 and r.json()["root_provider_uuid"] == other
    r = await placement.get(f"/resource_providers/{grandchild}")
    assert r.json()["root_provider_uuid"] == other
    r = await placement.put(
        f"/resource_providers/{child}", json={"name": name, "parent_provider_uuid": None}
    )
    assert r.status_code == 200 and r.json()["root_provider_uuid"] == child
    r = await placement.get(f"/resource_providers/{grandchild}")
    assert r.json()["root_provider_uuid"] == child
    r = await placement.post(
        "/resource_providers",
        json={"name": f"orphan-{new_uuid()}", "parent_provider_uuid": new_uuid()},
    )
    assert r.status_code == 400


async def test_list_filters(placement: Placement) -> None:
    agg, agg2 = new_uuid(), new_uuid()
    a = await placement.provider(
        inventory={"VCPU": 4, "DISK_GB": 100}, traits=["HW_CPU_X86_AVX2"], aggregates=[agg]
    )
    b = await placement.provider(
        inventory={"VCPU": 1}, traits=["CUSTOM_FILTER_TEST"], aggregates=[agg2]
    )

    async def listed(query: str, version: str = "1.39") -> set[str]:
        r = await placement.get(f"/resource_providers?{query}", version=version)
        assert r.status_code == 200, r.text
        return {p["uuid"] for p in r.json()["resource_providers"]}

    assert await listed(f"uuid={a}") == {a}
    name = (await placement.get(f"/resource_providers/{a}")).json()["name"]
    assert await listed(f"name={name}") == {a}
    assert await listed(f"member_of={agg}") == {a}
    assert await listed(f"member_of=in:{agg},{agg2}") == {a, b}
    assert await listed(f"member_of={agg}&member_of={agg2}") == set()
    assert b in await listed(f"member_of=!{agg}") and a not in await listed(f"member_of=!{agg}")
    assert a in await listed("resources=VCPU:2,DISK_GB:10")
    assert b not in await listed("resources=VCPU:2")
    assert await listed("required=CUSTOM_FILTER_TEST") == {b}
    assert a not in await listed("required=!HW_CPU_X86_AVX2")
    assert await listed("required=in:CUSTOM_FILTER_TEST,HW_CPU_X86_AVX2") >= {a, b}
    # parameters that do not exist yet are refused
    r = await placement.get("/resource_providers?required=HW_CPU_X86_AVX2", version="1.17")
    assert r.status_code == 400
    r = await placement.get(f"/resource_providers?member_of=!{agg}", version="1.31")
    assert r.status_code == 400
    r = await placement.get("/resource_providers?required=in:A,B", version="1.38")
    assert r.status_code == 400
    for bad in (
        "resources=VCPU",
        "resources=VCPU:0",
        "resources=VCPU:x",
        "member_of=nope",
        "required=",
        "resources=NO_SUCH_CLASS:1",
        "required=NO_SUCH_TRAIT",
        "in_tree=bad",
        "bogus=1",
        "uuid=bad",
    ):
        r = await placement.get(f"/resource_providers?{bad}")
        assert r.status_code == 400, (bad, r.text)
