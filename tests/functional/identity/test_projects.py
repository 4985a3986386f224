"""/v3/projects and project tags, in-process."""

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

BASE = f"{V3}/projects"
H = dict[str, str]


async def test_project_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    name = unique("p")
    r = await client.post(
        BASE, json={"project": {"name": name, "color": "blue"}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    p = r.json()["project"]
    assert p["domain_id"] == "default" and p["parent_id"] == "default"
    assert p["is_domain"] is False and p["enabled"] is True
    assert p["tags"] == [] and p["options"] == {} and p["description"] == ""
    assert p["color"] == "blue" and p["links"]["self"].endswith(f"/v3/projects/{p['id']}")

    r = await client.get(f"{BASE}/{p['id']}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["project"]["name"] == name
    r = await client.get(BASE, params={"name": name}, headers=admin_headers)
    assert [x["id"] for x in r.json()["projects"]] == [p["id"]]
    assert set(r.json()["links"]) == {"self", "previous", "next"}

    r = await client.patch(
        f"{BASE}/{p['id']}",
        headers=admin_headers,
        json={"project": {"name": name + "x", "description": "d", "enabled": False, "size": 3}},
    )
    assert r.status_code == 200, r.text
    q = r.json()["project"]
    assert (q["name"], q["description"], q["enabled"]) == (name + "x", "d", False)
    assert q["color"] == "blue" and q["size"] == 3
    r = await client.get(
        BASE, params={"name": name + "x", "enabled": "false"}, headers=admin_headers
    )
    assert len(r.json()["projects"]) == 1
    r = await client.get(
        BASE, params={"name": name + "x", "enabled": "true"}, headers=admin_headers
    )
    assert r.json()["projects"] == []

    assert (await client.delete(f"{BASE}/{p['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{BASE}/{p['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find project: {p['id']}."
    assert (await client.delete(f"{BASE}/{p['id']}", headers=admin_headers)).status_code == 404
    r = await client.patch(
        f"{BASE}/{p['id']}", json={"project": {"name": "z"}}, headers=admin_headers
    )
    assert r.status_code == 404


async def test_project_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    for body in (
        {"project": {}},
        {"project": {"name": ""}},
        {"project": {"name": "x" * 65}},
        {"project": {"name": "ok", "enabled": "yes"}},
        {"project": {"name": "ok", "tags": ["a/b"]}},
        {"project": {"name": "ok", "tags": ["a,b"]}},
        {"project": {"name": "ok", "tags": [f"t{i}" for i in range(81)]}},
        {"project": {"name": "ok", "is_domain": True, "parent_id": "default"}},
        {"project": {"name": "ok", "is_domain": "yes"}},
        {"project": {"name": "ok", "options": {"nope": True}}},
        {"project": {"name": "ok", "links": {}}},
        {"project": {"name": "ok", "domain_id": ""}},
        {"nope": 1},
        [1],
    ):
        r = await client.post(BASE, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["title"] == "Bad Request"
    r = await client.post(BASE, content=b"{nope", headers=admin_headers)
    assert r.status_code == 400
    r = await client.post(
        BASE, json={"project": {"name": "ok", "domain_id": "missing"}}, headers=admin_headers
    )
    assert r.status_code == 404

    p = await create(client, admin_headers, "project", name=unique("dup"))
    r = await client.post(BASE, json={"project": {"name": p["name"]}}, headers=admin_headers)
    assert r.status_code == 409
    other = await create(client, admin_headers, "project", name=unique("dup"))
    r = await client.patch(
        f"{BASE}/{other['id']}", json={"project": {"name": p["name"]}}, headers=admin_headers
    )
    assert r.status_code == 409
    for change in (
        {"domain_id": "elsewhere"},
        {"parent_id": other["id"]},
        {"name": ""},
        {"enabled": 1},
    ):
        r = await client.patch(f"{BASE}/{p['id']}", json={"project": change}, headers=admin_headers)
        assert r.status_code == 400, (change, r.text)
    # unchanged fixed fields are accepted, as Keystone does
    r = await client.patch(
        f"{BASE}/{p['id']}",
        headers=admin_headers,
        json={"project": {"domain_id": "default", "parent_id": "default"}},
    )
    assert r.status_code == 200, r.text
    r = await client.get(BASE, params={"limit": "x"}, headers=admin_headers)
    assert r.status_code == 400


async def test_project_hierarchy(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H) -> None:
    top = await create(client, admin_headers, "project", name=unique("top"))
    mid = await create(client, admin_headers, "project", name=unique("mid"), parent_id=top["id"])
    leaf = await create(client, admin_headers, "project", name=unique("leaf"), parent_id=mid["id"])
    assert mid["parent_id"] == top["id"] and leaf["domain_id"] == "default"

    r = await client.get(f"{BASE}/{leaf['id']}?parents_as_ids", headers=admin_headers)
    assert r.json()["project"]["parents"] == {mid["id"]: {top["id"]: {"default": None}}}
    r = await client.get(f"{BASE}/{top['id']}?subtree_as_ids", headers=admin_headers)
    assert r.json()["project"]["subtree"] == {mid["id"]: {leaf["id"]: None}}
    r = await client.get(f"{BASE}/{leaf['id']}?subtree_as_ids", headers=admin_headers)
    assert r.json()["project"]["subtree"] is None
    r = await client.get(
        f"{BASE}/{top['id']}?subtree_as_list&subtree_as_ids", headers=admin_headers
    )
    assert r.status_code == 400

    # the lists only show projects the caller has a role on
    r = await client.get(f"{BASE}/{leaf['id']}?parents_as_list", headers=admin_headers)
    assert r.json()["project"]["parents"] == []
    user = await create(client, admin_headers, "user", name=unique("u"), password=PASSWORD)
    await grant(cloud, user["id"], mid["id"])
    await grant(cloud, user["id"], leaf["id"])
    headers = await user_token(client, user, project=leaf["id"])
    r = await client.get(f"{BASE}/{leaf['id']}?parents_as_list", headers=headers)
    assert r.status_code == 200, r.text
    assert [x["project"]["id"] for x in r.json()["project"]["parents"]] == [mid["id"]]
    r = await client.get(f"{BASE}/{top['id']}?subtree_as_list", headers=admin_headers)
    assert r.json()["project"]["subtree"] == []

    r = await client.get(BASE, params={"parent_id": top["id"]}, headers=admin_headers)
    assert [x["id"] for x in r.json()["projects"]] == [mid["id"]]
    r = await client.get(
        BASE, params={"parent_id": "default", "name": top["name"]}, headers=admin_headers
    )
    assert [x["id"] for x in r.json()["projects"]] == [top["id"]]

    r = await client.delete(f"{BASE}/{mid['id']}", headers=admin_headers)
    assert r.status_code == 403 and "not a leaf" in r.json()["error"]["message"]

    # a parent given as the domain means top level
    p = await create(client, admin_headers, "project", name=unique("dp"), parent_id="default")
    assert p["parent_id"] == "default"
    r = await client.post(
        BASE, json={"project": {"name": "x", "parent_id": "missing"}}, headers=admin_headers
    )
    assert r.status_code == 404
    dom = await create(client, admin_headers, "domain", name=unique("d"))
    r = await client.post(
        BASE,
        headers=admin_headers,
        json={"project": {"name": "x", "parent_id": top["id"], "domain_id": dom["id"]}},
    )
    assert r.status_code == 400


async def test_project_hierarchy_rules(client: httpx.AsyncClient, admin_headers: H) -> None:
    chain = [await create(client, admin_headers, "project", name=unique("d0"))]
    for depth in range(1, 5):
        chain.append(
            await create(
                client,
                admin_headers,
                "project",
                name=unique(f"d{depth}"),
                parent_id=chain[-1]["id"],
            )
        )
    r = await client.post(
        BASE,
        headers=admin_headers,
        json={"project": {"name": "too-deep", "parent_id": chain[-1]["id"]}},
    )
    assert r.status_code == 403 and "depth" in r.json()["error"]["message"]

    top, child = chain[0], chain[1]
    r = await client.patch(
        f"{BASE}/{top['id']}", json={"project": {"enabled": False}}, headers=admin_headers
    )
    assert r.status_code == 200
    r = await client.post(
        BASE, headers=admin_headers, json={"project": {"name": "under-off", "parent_id": top["id"]}}
    )
    assert r.status_code == 403
    await client.patch(
        f"{BASE}/{child['id']}", json={"project": {"enabled": False}}, headers=admin_headers
    )
    r = await client.patch(
        f"{BASE}/{child['id']}", json={"project": {"enabled": True}}, headers=admin_headers
    )
    assert r.status_code == 403 and "disabled parents" in r.json()["error"]["message"]


async def test_project_immutable(client: httpx.AsyncClient, admin_headers: H) -> None:
    p = await create(
        client, admin_headers, "project", name=unique("imm"), options={"immutable": True}
    )
    assert p["options"] == {"immutable": True}
    for method, url, body in (
        ("PATCH", f"{BASE}/{p['id']}", {"project": {"name": "n"}}),
        ("PUT", f"{BASE}/{p['id']}/tags/x", None),
        ("DELETE", f"{BASE}/{p['id']}", None),
    ):
        r = await client.request(method, url, json=body, headers=admin_headers)
        assert r.status_code == 403, (method, url, r.text)
    r = await client.patch(
        f"{BASE}/{p['id']}",
        json={"project": {"options": {"immutable": None}}},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.json()["project"]["options"] == {}
    assert (await client.delete(f"{BASE}/{p['id']}", headers=admin_headers)).status_code == 204


async def test_project_tags(client: httpx.AsyncClient, admin_headers: H) -> None:
    marker = unique("m")
    a = await create(client, admin_headers, "project", name=unique("ta"), tags=[marker, "x"])
    b = await create(client, admin_headers, "project", name=unique("tb"), tags=[marker, "y"])
    c = await create(client, admin_headers, "project", name=unique("tc"), tags=[marker])
    assert a["tags"] == sorted([marker, "x"])

    async def names(**params: str) -> set[str]:
        r = await client.get(BASE, params=params, headers=admin_headers)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["projects"]}

    assert await names(tags=marker) == {a["id"], b["id"], c["id"]}
    assert await names(tags=f"{marker},x") == {a["id"]}
    assert await names(**{"tags-any": "x,y", "tags": marker}) == {a["id"], b["id"]}
    assert await names(**{"not-tags": f"{marker},x", "tags": marker}) == {b["id"], c["id"]}
    assert await names(**{"not-tags-any": "x,y", "tags": marker}) == {c["id"]}

    url = f"{BASE}/{c['id']}/tags"
    r = await client.put(url, json={"tags": ["one", "two", "one"]}, headers=admin_headers)
    assert r.status_code == 200 and r.json() == {"tags": ["one", "two"]}
    r = await client.get(url, headers=admin_headers)
    assert r.json() == {"tags": ["one", "two"]}
    r = await client.put(f"{url}/three", headers=admin_headers)
    assert r.status_code == 201 and r.headers["Location"].endswith("/tags/three")
    assert (await client.get(f"{url}/three", headers=admin_headers)).status_code == 204
    assert (await client.head(f"{url}/three", headers=admin_headers)).status_code == 204
    assert (await client.get(f"{url}/four", headers=admin_headers)).status_code == 404
    assert (await client.delete(f"{url}/three", headers=admin_headers)).status_code == 204
    assert (await client.delete(f"{url}/three", headers=admin_headers)).status_code == 404
    r = await client.get(f"{BASE}/{c['id']}", headers=admin_headers)
    assert r.json()["project"]["tags"] == ["one", "two"]
    r = await client.patch(
        f"{BASE}/{c['id']}", json={"project": {"tags": ["z"]}}, headers=admin_headers
    )
    assert r.json()["project"]["tags"] == ["z"]
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert (await client.get(url, headers=admin_headers)).json() == {"tags": []}

    for body in ({"tags": ["a/b"]}, {"tags": "a"}, {"tags": [f"t{i}" for i in range(81)]}, {}):
        r = await client.put(url, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    assert (await client.put(f"{url}/a,b", headers=admin_headers)).status_code == 400
    assert (await client.get(f"{BASE}/missing/tags", headers=admin_headers)).status_code == 404
    assert (await client.put(f"{BASE}/missing/tags/x", headers=admin_headers)).status_code == 404


async def test_project_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    marker = unique("page")
    for i in range(5):
        await create(client, admin_headers, "project", name=f"{marker}-{i}", tags=[marker])
    seen = await all_pages(client, f"{BASE}?limit=2&tags={marker}", admin_headers, "projects")
    assert sorted(seen) == [f"{marker}-{i}" for i in range(5)]


async def test_project_policy_member(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, demo_headers: H
) -> None:
    assert (await client.get(BASE)).status_code == 401
    assert (await client.get(BASE, headers=demo_headers)).status_code == 403
    r = await client.post(BASE, json={"project": {"name": "nope"}}, headers=demo_headers)
    assert r.status_code == 403
    demo = (await client.get(BASE, params={"name": "demo"}, headers=admin_headers)).json()[
        "projects"
    ][0]
    admin = (await client.get(BASE, params={"name": "admin"}, headers=admin_headers)).json()[
        "projects"
    ][0]
    r = await client.get(f"{BASE}/{demo['id']}", headers=demo_headers)
    assert r.status_code == 200 and r.json()["project"]["name"] == "demo"
    assert (await client.get(f"{BASE}/{demo['id']}/tags", headers=demo_headers)).status_code == 200
    for method, url in (
        ("GET", f"{BASE}/{admin['id']}"),
        ("GET", f"{BASE}/does-not-exist"),  # no existence leak: 403, not 404
        ("PATCH", f"{BASE}/{demo['id']}"),
        ("DELETE", f"{BASE}/{demo['id']}"),
        ("PUT", f"{BASE}/{demo['id']}/tags/x"),
        ("PUT", f"{BASE}/{demo['id']}/tags"),
        ("DELETE", f"{BASE}/{demo['id']}/tags"),
        ("GET", f"{BASE}/{admin['id']}/tags"),
    ):
        r = await client.request(
            method, url, json={"project": {"name": "x"}, "tags": []}, headers=demo_headers
        )
        assert r.status_code == 403, (method, url, r.text)
    assert r.json()["error"]["title"] == "Forbidden"


async def test_project_policy_domain_admin(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    domain_id, headers = await domain_admin(client, cloud, admin_headers)
    r = await client.post(BASE, json={"project": {"name": "mine"}}, headers=headers)
    assert r.status_code == 201, r.text
    mine = r.json()["project"]
    assert mine["domain_id"] == domain_id  # defaults to the token's domain
    r = await client.post(
        BASE, json={"project": {"name": unique("x"), "domain_id": "default"}}, headers=headers
    )
    assert r.status_code == 403
    r = await client.get(BASE, headers=headers)
    assert r.status_code == 200 and [p["id"] for p in r.json()["projects"]] == [mine["id"]]
    assert (
        await client.get(BASE, params={"domain_id": "default"}, headers=headers)
    ).status_code == 403
    demo = (await client.get(BASE, params={"name": "demo"}, headers=admin_headers)).json()[
        "projects"
    ][0]
    assert (await client.get(f"{BASE}/{demo['id']}", headers=headers)).status_code == 403
    assert (
        await client.patch(f"{BASE}/{demo['id']}", json={"project": {"name": "x"}}, headers=headers)
    ).status_code == 403
    r = await client.patch(
        f"{BASE}/{mine['id']}", json={"project": {"description": "ok"}}, headers=headers
    )
    assert r.status_code == 200
    assert (await client.put(f"{BASE}/{mine['id']}/tags/t", headers=headers)).status_code == 201
    assert (await client.delete(f"{BASE}/{mine['id']}", headers=headers)).status_code == 204


async def test_project_delete_and_disable_revoke(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    user = await create(client, admin_headers, "user", name=unique("pu"), password=PASSWORD)
    p = await create(client, admin_headers, "project", name=unique("gone"))
    q = await create(client, admin_headers, "project", name=unique("off"))
    await grant(cloud, user["id"], p["id"])
    await grant(cloud, user["id"], q["id"])
    on_p = await user_token(client, user, project=p["id"])
    on_q = await user_token(client, user, project=q["id"])
    assert (await client.get(f"{BASE}/{p['id']}", headers=on_p)).status_code == 200
    assert (await client.get(f"{BASE}/{q['id']}", headers=on_q)).status_code == 200

    assert (await client.delete(f"{BASE}/{p['id']}", headers=admin_headers)).status_code == 204
    assert await assignments_of(cloud, p["id"]) == []
    assert (await client.get(f"{BASE}/{p['id']}", headers=on_p)).status_code == 401

    await client.patch(
        f"{BASE}/{q['id']}", json={"project": {"enabled": False}}, headers=admin_headers
    )
    await client.patch(
        f"{BASE}/{q['id']}", json={"project": {"enabled": True}}, headers=admin_headers
    )
    # re-enabling does not bring the old token back
    assert (await client.get(f"{BASE}/{q['id']}", headers=on_q)).status_code == 401
