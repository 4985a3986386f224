"""Grants (project, domain, system, OS-INHERIT) and /v3/role_assignments in-process."""

from __future__ import annotations

from typing import Any

import httpx

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_domain,
    add_group,
    add_project,
    add_user,
    headers_for,
    new_role,
    role_id,
    token_valid,
    user_token,
)

REPORT = f"{V3}/role_assignments"


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    r = await client.get(REPORT, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["role_assignments"]


def summary(entries: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(role, actor id, scope kind, scope id) of each line."""
    out = set()
    for e in entries:
        actor = e.get("user") or e["group"]
        kind = next(k for k in ("project", "domain", "system") if k in e["scope"])
        scope_id = "all" if kind == "system" else e["scope"][kind]["id"]
        out.add((e["role"]["id"], actor["id"], kind, scope_id))
    return out


async def test_project_user_grant(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    user, project = await add_user(cloud), await add_project(cloud)
    role = await new_role(client, admin_headers)
    roles_url = f"{V3}/projects/{project}/users/{user}/roles"
    url = f"{roles_url}/{role['id']}"
    assert (await client.head(url, headers=admin_headers)).status_code == 404
    assert (await client.put(url, headers=admin_headers)).status_code == 204
    assert (await client.put(url, headers=admin_headers)).status_code == 204  # idempotent
    assert (await client.head(url, headers=admin_headers)).status_code == 204
    assert (await client.get(url, headers=admin_headers)).status_code == 204
    r = await client.get(roles_url, headers=admin_headers)
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["roles"]] == [role["id"]]
    assert r.json()["roles"][0]["name"] == role["name"] and "links" in r.json()

    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    r = await client.head(url, headers=admin_headers)
    assert r.status_code == 404
    r = await client.delete(url, headers=admin_headers)
    assert r.status_code == 404 and "Could not find role assignment" in r.json()["error"]["message"]
    assert (await client.get(roles_url, headers=admin_headers)).json()["roles"] == []


async def test_grant_unknown_parties(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    user, project, group = await add_user(cloud), await add_project(cloud), await add_group(cloud)
    role = (await new_role(client, admin_headers))["id"]
    cases = {
        f"projects/nope/users/{user}/roles/{role}": "project: nope",
        f"projects/{project}/users/nope/roles/{role}": "user: nope",
        f"projects/{project}/users/{user}/roles/nope": "role: nope",
        f"projects/{project}/groups/nope/roles/{role}": "group: nope",
        f"domains/nope/users/{user}/roles/{role}": "domain: nope",
        f"domains/default/groups/{group}/roles/nope": "role: nope",
        f"system/users/nope/roles/{role}": "user: nope",
        f"system/groups/{group}/roles/nope": "role: nope",
        f"OS-INHERIT/domains/nope/users/{user}/roles/{role}/inherited_to_projects": "domain: nope",
        f"OS-INHERIT/projects/{project}/groups/nope/roles/{role}/inherited_to_projects": (
            "group: nope"
        ),
    }
    for path, what in cases.items():
        for method in ("PUT", "DELETE", "HEAD"):
            r = await client.request(method, f"{V3}/{path}", headers=admin_headers)
            assert r.status_code == 404, (method, path, r.text)
            if method != "HEAD":
                assert r.json()["error"]["message"] == f"Could not find {what}.", path
    for path in (
        f"projects/nope/users/{user}/roles",
        "domains/default/groups/nope/roles",
        "system/users/nope/roles",
    ):
        assert (await client.get(f"{V3}/{path}", headers=admin_headers)).status_code == 404


async def test_domain_group_and_system_grants(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    user = await add_user(cloud, domain_id=domain)
    group = await add_group(cloud, [user], domain_id=domain)
    role = (await new_role(client, admin_headers))["id"]
    for base in (
        f"{V3}/domains/{domain}/groups/{group}/roles",
        f"{V3}/domains/{domain}/users/{user}/roles",
        f"{V3}/system/users/{user}/roles",
        f"{V3}/system/groups/{group}/roles",
        f"{V3}/projects/{await add_project(cloud, domain_id=domain)}/groups/{group}/roles",
    ):
        assert (await client.put(f"{base}/{role}", headers=admin_headers)).status_code == 204
        assert (await client.head(f"{base}/{role}", headers=admin_headers)).status_code == 204
        r = await client.get(base, headers=admin_headers)
        assert [x["id"] for x in r.json()["roles"]] == [role], base
        assert (await client.delete(f"{base}/{role}", headers=admin_headers)).status_code == 204
        assert (await client.head(f"{base}/{role}", headers=admin_headers)).status_code == 404


async def test_domain_specific_role_stays_in_its_domain(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    scoped = (await new_role(client, admin_headers, domain_id=domain))["id"]
    user = await add_user(cloud)
    inside, outside = await add_project(cloud, domain_id=domain), await add_project(cloud)
    r = await client.put(
        f"{V3}/projects/{outside}/users/{user}/roles/{scoped}", headers=admin_headers
    )
    assert r.status_code == 403
    r = await client.put(f"{V3}/domains/default/users/{user}/roles/{scoped}", headers=admin_headers)
    assert r.status_code == 403
    r = await client.put(
        f"{V3}/projects/{inside}/users/{user}/roles/{scoped}", headers=admin_headers
    )
    assert r.status_code == 204


async def test_token_follows_grants(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    user, project = await add_user(cloud), await add_project(cloud)
    member, reader = await role_id(cloud, "member"), await role_id(cloud, "reader")
    assert (await user_token(client, user, project_id=project)).status_code == 401
    url = f"{V3}/projects/{project}/users/{user}/roles/{member}"
    assert (await client.put(url, headers=admin_headers)).status_code == 204
    token = (await headers_for(client, user, project_id=project))["X-Auth-Token"]
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers, "X-Subject-Token": token})
    assert {x["id"] for x in r.json()["token"]["roles"]} == {member, reader}

    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert not await token_valid(client, admin_headers, token)
    assert (await user_token(client, user, project_id=project)).status_code == 401


async def test_group_grant_revoke_revokes_member_tokens(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    alice, bob = await add_user(cloud), await add_user(cloud)
    group = await add_group(cloud, [alice, bob])
    project = await add_project(cloud)
    url = f"{V3}/projects/{project}/groups/{group}/roles/{await role_id(cloud, 'member')}"
    assert (await client.put(url, headers=admin_headers)).status_code == 204
    tokens = [
        (await headers_for(client, u, project_id=project))["X-Auth-Token"] for u in (alice, bob)
    ]
    assert all([await token_valid(client, admin_headers, t) for t in tokens])
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert not any([await token_valid(client, admin_headers, t) for t in tokens])


async def test_inherited_grants(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    top = await add_project(cloud, domain_id=domain)
    child = await add_project(cloud, domain_id=domain, parent_id=top)
    user = await add_user(cloud)
    role = (await new_role(client, admin_headers))["id"]
    base = f"{V3}/OS-INHERIT/domains/{domain}/users/{user}/roles"
    url = f"{base}/{role}/inherited_to_projects"
    assert (await client.put(url, headers=admin_headers)).status_code == 204
    assert (await client.head(url, headers=admin_headers)).status_code == 204
    r = await client.get(f"{base}/inherited_to_projects", headers=admin_headers)
    assert [x["id"] for x in r.json()["roles"]] == [role]
    r = await client.get(f"{V3}/domains/{domain}/users/{user}/roles", headers=admin_headers)
    assert r.json()["roles"] == []  # not a grant on the domain itself
    r = await client.head(f"{V3}/domains/{domain}/users/{user}/roles/{role}", headers=admin_headers)
    assert r.status_code == 404

    entries = await report(client, admin_headers, **{"user.id": user})
    assert len(entries) == 1
    assert entries[0]["scope"] == {"domain": {"id": domain}, "OS-INHERIT:inherited_to": "projects"}
    assert entries[0]["links"]["assignment"].endswith(
        f"/v3/OS-INHERIT/domains/{domain}/users/{user}/roles/{role}/inherited_to_projects"
    )
    effective = await report(client, admin_headers, **{"user.id": user, "effective": ""})
    assert summary(effective) == {(role, user, "project", top), (role, user, "project", child)}
    inherited = await report(
        client, admin_headers, **{"scope.OS-INHERIT:inherited_to": "projects", "user.id": user}
    )
    assert len(inherited) == 1

    # a token on a project of the domain carries the inherited role (with a member role)
    assert (
        await client.put(
            f"{V3}/projects/{child}/users/{user}/roles/{await role_id(cloud, 'member')}",
            headers=admin_headers,
        )
    ).status_code == 204
    token = (await headers_for(client, user, project_id=child))["X-Auth-Token"]
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers, "X-Subject-Token": token})
    assert role in {x["id"] for x in r.json()["token"]["roles"]}
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert not await token_valid(client, admin_headers, token)

    # inherited from a project to its subtree
    purl = f"{V3}/OS-INHERIT/projects/{top}/users/{user}/roles/{role}/inherited_to_projects"
    assert (await client.put(purl, headers=admin_headers)).status_code == 204
    effective = await report(
        client, admin_headers, **{"user.id": user, "effective": "true", "role.id": role}
    )
    assert summary(effective) == {(role, user, "project", child)}
    assert effective[0]["links"]["assignment"].endswith(
        f"/OS-INHERIT/projects/{top}/users/{user}/roles/{role}/inherited_to_projects"
    )
    assert (await client.delete(purl, headers=admin_headers)).status_code == 204


async def test_role_assignments_filters(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    top = await add_project(cloud, domain_id=domain)
    child = await add_project(cloud, domain_id=domain, parent_id=top)
    alice, bob = await add_user(cloud, domain_id=domain), await add_user(cloud, domain_id=domain)
    group = await add_group(cloud, [alice, bob], domain_id=domain)
    prior = await new_role(client, admin_headers)
    implied = await new_role(client, admin_headers)
    await client.put(f"{V3}/roles/{prior['id']}/implies/{implied['id']}", headers=admin_headers)
    p, i = prior["id"], implied["id"]
    for path in (
        f"projects/{top}/users/{alice}/roles/{p}",
        f"projects/{child}/groups/{group}/roles/{p}",
        f"domains/{domain}/users/{bob}/roles/{p}",
        f"system/users/{alice}/roles/{p}",
    ):
        assert (await client.put(f"{V3}/{path}", headers=admin_headers)).status_code == 204

    assert summary(await report(client, admin_headers, **{"role.id": p})) >= {
        (p, alice, "project", top),
        (p, group, "project", child),
        (p, bob, "domain", domain),
        (p, alice, "system", "all"),
    }
    assert summary(await report(client, admin_headers, **{"user.id": alice})) == {
        (p, alice, "project", top),
        (p, alice, "system", "all"),
    }
    assert summary(await report(client, admin_headers, **{"group.id": group})) == {
        (p, group, "project", child)
    }
    assert summary(await report(client, admin_headers, **{"scope.project.id": top})) == {
        (p, alice, "project", top)
    }
    assert summary(await report(client, admin_headers, **{"scope.domain.id": domain})) == {
        (p, bob, "domain", domain)
    }
    system = await report(client, admin_headers, **{"scope.system": "all", "user.id": alice})
    assert system[0]["scope"] == {"system": {"all": True}}
    assert system[0]["links"]["assignment"].endswith(f"/v3/system/users/{alice}/roles/{p}")
    tree = await report(client, admin_headers, **{"scope.project.id": top, "include_subtree": "1"})
    assert summary(tree) == {(p, alice, "project", top), (p, group, "project", child)}

    # effective: group expanded into members (membership link), implied roles added
    eff = await report(client, admin_headers, **{"scope.project.id": child, "effective": "1"})
    assert summary(eff) == {
        (p, alice, "project", child),
        (i, alice, "project", child),
        (p, bob, "project", child),
        (i, bob, "project", child),
    }
    for e in eff:
        assert e["links"]["assignment"].endswith(f"/projects/{child}/groups/{group}/roles/{p}")
        assert e["links"]["membership"].endswith(f"/v3/groups/{group}/users/{e['user']['id']}")
        assert ("prior_role" in e["links"]) == (e["role"]["id"] == i)
    eff = await report(client, admin_headers, **{"user.id": bob, "effective": "1"})
    assert summary(eff) == {
        (p, bob, "domain", domain),
        (i, bob, "domain", domain),
        (p, bob, "project", child),
        (i, bob, "project", child),
    }
    eff = await report(client, admin_headers, **{"user.id": bob, "effective": "1", "role.id": i})
    assert summary(eff) == {(i, bob, "domain", domain), (i, bob, "project", child)}

    # include_names
    named = await report(
        client,
        admin_headers,
        **{"user.id": alice, "scope.project.id": top, "include_names": "True"},
    )
    assert len(named) == 1
    e = named[0]
    assert e["role"] == {"id": p, "name": prior["name"]}
    assert e["user"]["name"] and e["user"]["domain"]["id"] == domain
    assert e["scope"]["project"]["id"] == top and e["scope"]["project"]["domain"]["id"] == domain
    assert e["scope"]["project"]["domain"]["name"]
    named = await report(client, admin_headers, **{"scope.domain.id": domain, "include_names": ""})
    assert named[0]["scope"]["domain"]["name"] and "domain" not in named[0]["scope"]["domain"]


async def test_role_assignments_bad_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for params in (
        {"user.id": "a", "group.id": "b"},
        {"scope.project.id": "a", "scope.domain.id": "b"},
        {"scope.system": "all", "scope.domain.id": "b"},
        {"effective": "1", "group.id": "b"},
        {"include_subtree": "1"},
        {"scope.system": "some"},
        {"scope.OS-INHERIT:inherited_to": "domains"},
    ):
        r = await client.get(REPORT, params=params, headers=admin_headers)
        assert r.status_code == 400, (params, r.text)
    r = await client.get(REPORT, params={"user.id": "nope"}, headers=admin_headers)
    assert r.status_code == 200 and r.json()["role_assignments"] == []


async def test_grant_policy_for_members(
    cloud: Cloud,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
) -> None:
    user, project = await add_user(cloud), await add_project(cloud)
    member = await role_id(cloud, "member")
    paths = [
        f"projects/{project}/users/{user}/roles/{member}",
        f"domains/default/users/{user}/roles/{member}",
        f"system/users/{user}/roles/{member}",
        f"OS-INHERIT/domains/default/users/{user}/roles/{member}/inherited_to_projects",
    ]
    for path in paths:
        for method in ("PUT", "HEAD", "GET", "DELETE"):
            r = await client.request(method, f"{V3}/{path}", headers=demo_headers)
            assert r.status_code == 403, (method, path)
    r = await client.get(f"{V3}/projects/{project}/users/{user}/roles", headers=demo_headers)
    assert r.status_code == 403
    # demo holds reader (implied by member) on a project: still no report, filtered or not
    for params in ({}, {"user.id": user}, {"scope.project.id": project}):
        assert (await client.get(REPORT, params=params, headers=demo_headers)).status_code == 403
    # unknown ids do not turn 403 into 404 for a stranger
    r = await client.put(f"{V3}/projects/nope/users/nope/roles/nope", headers=demo_headers)
    assert r.status_code == 403
    assert (await client.head(f"{V3}/{paths[0]}", headers=admin_headers)).status_code == 404


async def test_domain_admin_grants_within_its_domain(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await add_domain(cloud)
    boss = await add_user(cloud, domain_id=domain)
    admin, member = await role_id(cloud, "admin"), await role_id(cloud, "member")
    r = await client.put(f"{V3}/domains/{domain}/users/{boss}/roles/{admin}", headers=admin_headers)
    assert r.status_code == 204
    boss_headers = await headers_for(client, boss, domain_id=domain)
    local_user, local_project = (
        await add_user(cloud, domain_id=domain),
        await add_project(cloud, domain_id=domain),
    )
    foreign_user, foreign_project = await add_user(cloud), await add_project(cloud)

    ok = f"{V3}/projects/{local_project}/users/{local_user}/roles/{member}"
    assert (await client.put(ok, headers=boss_headers)).status_code == 204
    assert (await client.head(ok, headers=boss_headers)).status_code == 204
    r = await client.get(
        f"{V3}/projects/{local_project}/users/{local_user}/roles", headers=boss_headers
    )
    assert [x["id"] for x in r.json()["roles"]] == [member]
    for path in (
        f"projects/{foreign_project}/users/{local_user}/roles/{member}",
        f"projects/{local_project}/users/{foreign_user}/roles/{member}",
        f"domains/default/users/{local_user}/roles/{member}",
        f"system/users/{local_user}/roles/{member}",
    ):
        assert (await client.put(f"{V3}/{path}", headers=boss_headers)).status_code == 403, path
    r = await client.head(
        f"{V3}/projects/{foreign_project}/users/{foreign_user}/roles/{member}", headers=boss_headers
    )
    assert r.status_code == 403

    entries = await report(client, boss_headers, **{"scope.domain.id": domain})
    assert summary(entries) == {(admin, boss, "domain", domain)}
    entries = await report(client, boss_headers, **{"scope.project.id": local_project})
    assert summary(entries) == {(member, local_user, "project", local_project)}
    for params in (
        {},
        {"scope.domain.id": "default"},
        {"scope.project.id": foreign_project},
        {"user.id": local_user},
    ):
        assert (await client.get(REPORT, params=params, headers=boss_headers)).status_code == 403
    assert (await client.delete(ok, headers=boss_headers)).status_code == 204
