"""/v3/groups and group membership, in-process."""

from __future__ import annotations

import httpx

from onestack.server import Cloud
from tests.functional.identity.people_helpers import (
    PASSWORD,
    V3,
    all_pages,
    assignments_of,
    create,
    domain_admin,
    grant,
    unique,
    user_token,
)

BASE = f"{V3}/groups"
H = dict[str, str]


async def test_group_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    name = unique("g")
    r = await client.post(
        BASE, json={"group": {"name": name, "description": "d", "kind": "x"}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    g = r.json()["group"]
    assert (g["name"], g["description"], g["domain_id"], g["kind"]) == (name, "d", "default", "x")
    assert g["links"]["self"].endswith(f"/v3/groups/{g['id']}")
    assert (await client.get(f"{BASE}/{g['id']}", headers=admin_headers)).json()["group"] == g
    r = await client.get(BASE, params={"name": name}, headers=admin_headers)
    assert [x["id"] for x in r.json()["groups"]] == [g["id"]]
    r = await client.get(BASE, params={"name": name, "domain_id": "other"}, headers=admin_headers)
    assert r.json()["groups"] == []
    r = await client.patch(
        f"{BASE}/{g['id']}",
        json={"group": {"name": name + "x", "description": "e"}},
        headers=admin_headers,
    )
    assert r.status_code == 200
    assert (r.json()["group"]["name"], r.json()["group"]["description"]) == (name + "x", "e")
    assert (await client.delete(f"{BASE}/{g['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{BASE}/{g['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find group: {g['id']}."


async def test_group_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    for body in (
        {"group": {}},
        {"group": {"name": ""}},
        {"group": {"name": "x" * 65}},
        {"group": {"name": "ok", "description": 5}},
        {"group": {"name": "ok", "id": "i"}},
        {"groups": {"name": "ok"}},
    ):
        r = await client.post(BASE, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.post(
        BASE, json={"group": {"name": "ok", "domain_id": "missing"}}, headers=admin_headers
    )
    assert r.status_code == 404
    g = await create(client, admin_headers, "group", name=unique("dup"))
    r = await client.post(BASE, json={"group": {"name": g["name"]}}, headers=admin_headers)
    assert r.status_code == 409
    r = await client.patch(
        f"{BASE}/{g['id']}", json={"group": {"domain_id": "other"}}, headers=admin_headers
    )
    assert r.status_code == 400
    r = await client.patch(f"{BASE}/missing", json={"group": {"name": "n"}}, headers=admin_headers)
    assert r.status_code == 404


async def test_group_membership(client: httpx.AsyncClient, admin_headers: H) -> None:
    g = await create(client, admin_headers, "group", name=unique("m"))
    u = await create(client, admin_headers, "user", name=unique("mu"), password=PASSWORD)
    other = await create(client, admin_headers, "user", name=unique("mo"), enabled=False)
    member = f"{BASE}/{g['id']}/users/{u['id']}"
    assert (await client.head(member, headers=admin_headers)).status_code == 404
    assert (await client.put(member, headers=admin_headers)).status_code == 204
    assert (await client.put(member, headers=admin_headers)).status_code == 204  # idempotent
    await client.put(f"{BASE}/{g['id']}/users/{other['id']}", headers=admin_headers)
    assert (await client.head(member, headers=admin_headers)).status_code == 204
    assert (await client.get(member, headers=admin_headers)).status_code == 204

    r = await client.get(f"{BASE}/{g['id']}/users", headers=admin_headers)
    assert {x["id"] for x in r.json()["users"]} == {u["id"], other["id"]}
    r = await client.get(
        f"{BASE}/{g['id']}/users", params={"enabled": "false"}, headers=admin_headers
    )
    assert [x["id"] for x in r.json()["users"]] == [other["id"]]
    r = await client.get(f"{V3}/users/{u['id']}/groups", headers=admin_headers)
    assert [x["id"] for x in r.json()["groups"]] == [g["id"]]

    own = await user_token(client, u)
    assert (await client.get(f"{V3}/users/{u['id']}", headers=own)).status_code == 200
    assert (await client.delete(member, headers=admin_headers)).status_code == 204
    assert (await client.get(f"{V3}/users/{u['id']}", headers=own)).status_code == 401
    r = await client.head(member, headers=admin_headers)
    assert r.status_code == 404
    r = await client.get(member, headers=admin_headers)
    assert r.json()["error"]["message"] == f"User '{u['id']}' not found in group '{g['id']}'."
    assert (await client.delete(member, headers=admin_headers)).status_code == 404
    assert (
        await client.put(f"{BASE}/{g['id']}/users/missing", headers=admin_headers)
    ).status_code == 404
    assert (
        await client.put(f"{BASE}/missing/users/{u['id']}", headers=admin_headers)
    ).status_code == 404
    assert (await client.get(f"{BASE}/missing/users", headers=admin_headers)).status_code == 404


async def test_group_delete_cleans_up(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    g = await create(client, admin_headers, "group", name=unique("gd"))
    u = await create(client, admin_headers, "user", name=unique("gu"), password=PASSWORD)
    p = await create(client, admin_headers, "project", name=unique("gp"))
    await client.put(f"{BASE}/{g['id']}/users/{u['id']}", headers=admin_headers)
    await grant(cloud, g["id"], p["id"], kind="GroupProject")
    scoped = await user_token(client, u, project=p["id"])
    assert (await client.get(f"{V3}/projects/{p['id']}", headers=scoped)).status_code == 200
    assert (await client.delete(f"{BASE}/{g['id']}", headers=admin_headers)).status_code == 204
    assert await assignments_of(cloud, g["id"]) == []
    assert (await client.get(f"{V3}/projects/{p['id']}", headers=scoped)).status_code == 401
    r = await client.get(f"{V3}/users/{u['id']}/groups", headers=admin_headers)
    assert r.json()["groups"] == []


async def test_group_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    dom = await create(client, admin_headers, "domain", name=unique("gpg"))
    for i in range(5):
        await create(client, admin_headers, "group", name=f"gpg-{i}", domain_id=dom["id"])
    seen = await all_pages(client, f"{BASE}?limit=2&domain_id={dom['id']}", admin_headers, "groups")
    assert sorted(seen) == [f"gpg-{i}" for i in range(5)]


async def test_group_policy(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, demo_headers: H
) -> None:
    g = await create(client, admin_headers, "group", name=unique("pol"))
    demo = (await client.get(f"{V3}/users", params={"name": "demo"}, headers=admin_headers)).json()[
        "users"
    ][0]
    assert (await client.get(BASE)).status_code == 401
    for method, url in (
        ("GET", BASE),
        ("POST", BASE),
        ("GET", f"{BASE}/{g['id']}"),
        ("GET", f"{BASE}/missing"),
        ("PATCH", f"{BASE}/{g['id']}"),
        ("DELETE", f"{BASE}/{g['id']}"),
        ("GET", f"{BASE}/{g['id']}/users"),
        ("PUT", f"{BASE}/{g['id']}/users/{demo['id']}"),
        ("HEAD", f"{BASE}/{g['id']}/users/{demo['id']}"),
        ("DELETE", f"{BASE}/{g['id']}/users/{demo['id']}"),
    ):
        r = await client.request(method, url, json={"group": {"name": "x"}}, headers=demo_headers)
        assert r.status_code == 403, (method, url, r.text)
    # a user may list their own groups
    r = await client.get(f"{V3}/users/{demo['id']}/groups", headers=demo_headers)
    assert r.status_code == 200

    domain_id, headers = await domain_admin(client, cloud, admin_headers)
    r = await client.post(BASE, json={"group": {"name": "mine"}}, headers=headers)
    assert r.status_code == 201 and r.json()["group"]["domain_id"] == domain_id
    mine = r.json()["group"]
    assert (
        await client.post(
            BASE, json={"group": {"name": "x", "domain_id": "default"}}, headers=headers
        )
    ).status_code == 403
    assert [x["id"] for x in (await client.get(BASE, headers=headers)).json()["groups"]] == [
        mine["id"]
    ]
    assert (await client.get(f"{BASE}/{g['id']}", headers=headers)).status_code == 403
    local = await create(client, headers, "user", name=unique("local"))
    assert (
        await client.put(f"{BASE}/{mine['id']}/users/{local['id']}", headers=headers)
    ).status_code == 204
    # the domain admin cannot pull a user of another domain into its group
    assert (
        await client.put(f"{BASE}/{mine['id']}/users/{demo['id']}", headers=headers)
    ).status_code == 403
    assert (await client.delete(f"{BASE}/{mine['id']}", headers=headers)).status_code == 204
