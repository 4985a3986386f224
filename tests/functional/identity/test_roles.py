"""/v3/roles, implied roles and /v3/role_inferences in-process."""

from __future__ import annotations

import httpx

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_domain,
    add_project,
    add_user,
    headers_for,
    new_role,
    role_id,
    token_valid,
    unique,
)

BASE = f"{V3}/roles"


async def test_role_crud(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    name = unique("crud")
    r = await client.post(
        BASE, json={"role": {"name": name, "description": "d"}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    role = r.json()["role"]
    assert role["name"] == name and role["domain_id"] is None and role["description"] == "d"
    assert role["options"] == {} and role["links"]["self"].endswith(f"/v3/roles/{role['id']}")

    r = await client.get(f"{BASE}/{role['id']}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["role"] == role
    r = await client.get(BASE, params={"name": name}, headers=admin_headers)
    assert [x["id"] for x in r.json()["roles"]] == [role["id"]]
    assert r.json()["links"]["self"].startswith("http://testserver/identity/v3/roles")

    renamed = unique("renamed")
    r = await client.patch(
        f"{BASE}/{role['id']}",
        json={"role": {"name": renamed, "description": "new"}},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"]["name"] == renamed and r.json()["role"]["description"] == "new"

    assert (await client.delete(f"{BASE}/{role['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{BASE}/{role['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find role: {role['id']}."
    assert (await client.delete(f"{BASE}/{role['id']}", headers=admin_headers)).status_code == 404
    r = await client.patch(
        f"{BASE}/{role['id']}", json={"role": {"description": "x"}}, headers=admin_headers
    )
    assert r.status_code == 404


async def test_domain_specific_roles(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    name = unique("dsr")
    global_role = await new_role(client, admin_headers, name=name)
    r = await client.post(
        BASE, json={"role": {"name": name, "domain_id": domain}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text  # same name, other "domain": allowed
    scoped = r.json()["role"]
    assert scoped["domain_id"] == domain

    r = await client.get(BASE, params={"name": name}, headers=admin_headers)
    assert [x["id"] for x in r.json()["roles"]] == [global_role["id"]]  # only global roles
    r = await client.get(BASE, params={"domain_id": domain}, headers=admin_headers)
    assert [x["id"] for x in r.json()["roles"]] == [scoped["id"]]

    for body in ({"name": name, "domain_id": domain}, {"name": name}):
        r = await client.post(BASE, json={"role": body}, headers=admin_headers)
        assert r.status_code == 409, body
    r = await client.patch(
        f"{BASE}/{scoped['id']}", json={"role": {"name": name}}, headers=admin_headers
    )
    assert r.status_code == 200  # renaming to its own name is no conflict
    other = await new_role(client, admin_headers)
    r = await client.patch(
        f"{BASE}/{other['id']}", json={"role": {"name": name}}, headers=admin_headers
    )
    assert r.status_code == 409

    r = await client.post(
        BASE, json={"role": {"name": "x", "domain_id": "nope"}}, headers=admin_headers
    )
    assert r.status_code == 404
    r = await client.patch(
        f"{BASE}/{scoped['id']}", json={"role": {"domain_id": "default"}}, headers=admin_headers
    )
    assert r.status_code == 400  # domain_id is immutable
    r = await client.patch(
        f"{BASE}/{scoped['id']}", json={"role": {"domain_id": domain}}, headers=admin_headers
    )
    assert r.status_code == 200


async def test_role_bad_input(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for body in (
        {"role": {}},
        {"role": {"name": ""}},
        {"role": {"name": "x" * 256}},
        {"role": {"name": "ok", "bogus": 1}},
        {"role": {"name": 5}},
        {"role": {"name": "ok", "options": {"unknown": True}}},
        {"role": {"name": "ok", "options": {"immutable": "yes"}}},
        {"nope": 1},
        [1],
    ):
        r = await client.post(BASE, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["title"] == "Bad Request"
    r = await client.post(BASE, content=b"{not json", headers=admin_headers)
    assert r.status_code == 400
    role = await new_role(client, admin_headers)
    for body in ({"role": {"name": None}}, {"role": {"name": ""}}, {"role": {"id": "x"}}):
        r = await client.patch(f"{BASE}/{role['id']}", json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.get(BASE, params={"limit": "x"}, headers=admin_headers)
    assert r.status_code == 400


async def test_immutable_role(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    role = await new_role(client, admin_headers, options={"immutable": True})
    assert role["options"] == {"immutable": True}
    url = f"{BASE}/{role['id']}"
    r = await client.patch(url, json={"role": {"description": "x"}}, headers=admin_headers)
    assert r.status_code == 403
    r = await client.patch(
        url,
        json={"role": {"description": "x", "options": {"immutable": False}}},
        headers=admin_headers,
    )
    assert r.status_code == 403  # only the unset alone is allowed
    assert (await client.delete(url, headers=admin_headers)).status_code == 403
    other = await new_role(client, admin_headers)
    r = await client.put(f"{url}/implies/{other['id']}", headers=admin_headers)
    assert r.status_code == 403

    r = await client.patch(
        url, json={"role": {"options": {"immutable": False}}}, headers=admin_headers
    )
    assert r.status_code == 200 and r.json()["role"]["options"] == {"immutable": False}
    r = await client.patch(
        url, json={"role": {"options": {"immutable": None}}}, headers=admin_headers
    )
    assert r.json()["role"]["options"] == {}
    assert (await client.delete(url, headers=admin_headers)).status_code == 204


async def test_role_pagination(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    prefix = unique("page")
    for i in range(5):
        await new_role(client, admin_headers, name=f"{prefix}-{i}")
    seen: list[str] = []
    url: str | None = f"{BASE}?limit=2"
    while url:
        body = (await client.get(url, headers=admin_headers)).json()
        assert len(body["roles"]) <= 2
        seen += [x["name"] for x in body["roles"]]
        url = body["links"]["next"]
    assert sorted(n for n in seen if n.startswith(prefix)) == [f"{prefix}-{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


async def test_role_policy(
    cloud: Cloud,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
) -> None:
    role = await new_role(client, admin_headers)
    url = f"{BASE}/{role['id']}"
    assert (await client.get(BASE, headers=demo_headers)).status_code == 403
    assert (await client.get(url, headers=demo_headers)).status_code == 403
    r = await client.post(BASE, json={"role": {"name": "nope"}}, headers=demo_headers)
    assert r.status_code == 403
    r = await client.patch(url, json={"role": {"name": "nope"}}, headers=demo_headers)
    assert r.status_code == 403
    assert (await client.delete(url, headers=demo_headers)).status_code == 403
    assert (await client.get(BASE)).status_code == 401
    assert (await client.get(url, headers=admin_headers)).status_code == 200  # untouched

    # A domain admin reads global roles (it grants them in its domain) and its own domain's,
    # but cannot create roles or read another domain's.
    domain, other = await add_domain(cloud), await add_domain(cloud)
    boss = await add_user(cloud, domain_id=domain)
    r = await client.put(
        f"{V3}/domains/{domain}/users/{boss}/roles/{await role_id(cloud, 'admin')}",
        headers=admin_headers,
    )
    assert r.status_code == 204
    boss_headers = await headers_for(client, boss, domain_id=domain)
    assert (await client.get(BASE, headers=boss_headers)).status_code == 200
    assert (await client.get(url, headers=boss_headers)).status_code == 200
    theirs = await new_role(client, admin_headers, domain_id=other)
    assert (await client.get(f"{BASE}/{theirs['id']}", headers=boss_headers)).status_code == 403
    r = await client.get(BASE, params={"domain_id": other}, headers=boss_headers)
    assert r.status_code == 403
    r = await client.post(BASE, json={"role": {"name": unique("x")}}, headers=boss_headers)
    assert r.status_code == 403


async def test_implied_roles(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    a, b, c = [await new_role(client, admin_headers) for _ in range(3)]
    url = f"{BASE}/{a['id']}/implies/{b['id']}"
    r = await client.put(url, headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["role_inference"]["prior_role"]["id"] == a["id"]
    assert body["role_inference"]["prior_role"]["name"] == a["name"]
    assert body["role_inference"]["implies"]["id"] == b["id"]
    assert body["role_inference"]["implies"]["links"]["self"].endswith(f"/roles/{b['id']}")
    assert body["links"]["self"].endswith(f"/v3/roles/{a['id']}/implies/{b['id']}")
    assert (await client.put(url, headers=admin_headers)).status_code == 409

    r = await client.get(url, headers=admin_headers)
    assert r.status_code == 200 and r.json()["role_inference"] == body["role_inference"]
    assert (await client.head(url, headers=admin_headers)).status_code == 204
    r = await client.put(f"{BASE}/{b['id']}/implies/{c['id']}", headers=admin_headers)
    assert r.status_code == 201

    r = await client.get(f"{BASE}/{a['id']}/implies", headers=admin_headers)
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["role_inference"]["implies"]] == [b["id"]]
    r = await client.get(f"{V3}/role_inferences", headers=admin_headers)
    rules = {
        x["prior_role"]["id"]: [i["id"] for i in x["implies"]] for x in r.json()["role_inferences"]
    }
    assert rules[a["id"]] == [b["id"]] and rules[b["id"]] == [c["id"]]
    admin_id, member_id = await role_id(cloud, "admin"), await role_id(cloud, "member")
    assert member_id in rules[admin_id]  # the bootstrap rules are listed too

    # loops, self-implication, the prohibited admin role, unknown roles
    for prior, implied, status in (
        (c["id"], a["id"], 400),
        (b["id"], a["id"], 400),
        (a["id"], a["id"], 400),
        (a["id"], admin_id, 403),
        (a["id"], "nope", 404),
        ("nope", a["id"], 404),
    ):
        r = await client.put(f"{BASE}/{prior}/implies/{implied}", headers=admin_headers)
        assert r.status_code == status, (prior, implied, r.text)
    assert (
        await client.get(f"{BASE}/{a['id']}/implies/{c['id']}", headers=admin_headers)
    ).status_code == 404
    assert (await client.get(f"{BASE}/nope/implies", headers=admin_headers)).status_code == 404

    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert (await client.head(url, headers=admin_headers)).status_code == 404
    assert (await client.delete(url, headers=admin_headers)).status_code == 404


async def test_domain_specific_implied_roles(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    scoped = await new_role(client, admin_headers, domain_id=domain)
    plain = await new_role(client, admin_headers)
    r = await client.put(f"{BASE}/{plain['id']}/implies/{scoped['id']}", headers=admin_headers)
    assert r.status_code == 403  # a global role cannot imply a domain-specific one
    r = await client.put(f"{BASE}/{scoped['id']}/implies/{plain['id']}", headers=admin_headers)
    assert r.status_code == 201  # the other way round is what domain roles are for


async def test_implied_role_policy(
    client: httpx.AsyncClient, admin_headers: dict[str, str], demo_headers: dict[str, str]
) -> None:
    a, b = await new_role(client, admin_headers), await new_role(client, admin_headers)
    url = f"{BASE}/{a['id']}/implies/{b['id']}"
    assert (await client.put(url, headers=demo_headers)).status_code == 403
    assert (await client.put(url, headers=admin_headers)).status_code == 201
    assert (await client.get(url, headers=demo_headers)).status_code == 403
    assert (await client.head(url, headers=demo_headers)).status_code == 403
    assert (await client.delete(url, headers=demo_headers)).status_code == 403
    assert (await client.get(f"{BASE}/{a['id']}/implies", headers=demo_headers)).status_code == 403
    assert (await client.get(f"{V3}/role_inferences", headers=demo_headers)).status_code == 403
    assert (await client.head(url, headers=admin_headers)).status_code == 204


async def test_delete_role_removes_grants_rules_and_tokens(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    role, implied = await new_role(client, admin_headers), await new_role(client, admin_headers)
    await client.put(f"{BASE}/{role['id']}/implies/{implied['id']}", headers=admin_headers)
    user, project = await add_user(cloud), await add_project(cloud)
    grant = f"{V3}/projects/{project}/users/{user}/roles/{role['id']}"
    assert (await client.put(grant, headers=admin_headers)).status_code == 204
    token = (await headers_for(client, user, project_id=project))["X-Auth-Token"]
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers, "X-Subject-Token": token})
    assert {x["id"] for x in r.json()["token"]["roles"]} == {role["id"], implied["id"]}

    assert (await client.delete(f"{BASE}/{role['id']}", headers=admin_headers)).status_code == 204
    assert not await token_valid(client, admin_headers, token)
    r = await client.get(f"{V3}/role_assignments", params={"user.id": user}, headers=admin_headers)
    assert r.json()["role_assignments"] == []
    r = await client.get(f"{V3}/role_inferences", headers=admin_headers)
    assert role["id"] not in {x["prior_role"]["id"] for x in r.json()["role_inferences"]}
    assert (await client.get(f"{BASE}/{implied['id']}", headers=admin_headers)).status_code == 200
