"""Projects acting as domains: is_domain through /v3/projects."""

from __future__ import annotations

import httpx

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import V3, unique
from tests.functional.identity.people_helpers import domain_admin

H = dict[str, str]


async def test_is_domain_project_is_a_domain(client: httpx.AsyncClient, admin_headers: H) -> None:
    name = unique("dproj")
    r = await client.post(f"{V3}/projects", headers=admin_headers, json={
        "project": {"name": name, "is_domain": True, "description": "d", "tags": ["x"]}})
    assert r.status_code == 201, r.text
    p = r.json()["project"]
    assert p["is_domain"] is True and p["domain_id"] is None and p["parent_id"] is None
    assert p["tags"] == ["x"] and p["enabled"] is True
    # it is a domain: the domain API sees it, and projects can be made in it
    d = (await client.get(f"{V3}/domains/{p['id']}", headers=admin_headers)).json()["domain"]
    assert d["name"] == name and d["description"] == "d"
    r = await client.post(f"{V3}/projects", headers=admin_headers,
                          json={"project": {"name": "inside", "parent_id": p["id"]}})
    assert r.status_code == 201 and r.json()["project"]["domain_id"] == p["id"]
    assert r.json()["project"]["parent_id"] == p["id"]

    got = (await client.get(f"{V3}/projects/{p['id']}", headers=admin_headers)).json()
    assert got["project"]["is_domain"] is True
    # listed with is_domain=true only, never among plain projects
    r = await client.get(f"{V3}/projects", params={"is_domain": "true"}, headers=admin_headers)
    listed = r.json()["projects"]
    assert p["id"] in [x["id"] for x in listed] and all(x["is_domain"] for x in listed)
    assert "default" in [x["id"] for x in listed]
    r = await client.get(f"{V3}/projects", params={"is_domain": "true", "name": name},
                         headers=admin_headers)
    assert [x["id"] for x in r.json()["projects"]] == [p["id"]]
    r = await client.get(f"{V3}/projects", headers=admin_headers)
    assert p["id"] not in [x["id"] for x in r.json()["projects"]]
    r = await client.get(f"{V3}/projects", params={"is_domain": "false"}, headers=admin_headers)
    assert all(not x["is_domain"] for x in r.json()["projects"])

    # update through the project API; is_domain, domain and parent are fixed
    r = await client.patch(f"{V3}/projects/{p['id']}", headers=admin_headers,
                           json={"project": {"description": "new", "tags": ["y"]}})
    assert r.status_code == 200, r.text
    assert r.json()["project"]["description"] == "new" and r.json()["project"]["tags"] == ["y"]
    for change in ({"is_domain": False}, {"domain_id": "default"}, {"parent_id": "default"}):
        r = await client.patch(f"{V3}/projects/{p['id']}", headers=admin_headers,
                               json={"project": change})
        assert r.status_code == 400, (change, r.text)
    r = await client.patch(f"{V3}/projects/{got['project']['id']}", headers=admin_headers,
                           json={"project": {"is_domain": True}})
    assert r.status_code == 200
    # delete: disabled first, as a domain; it takes its projects with it
    assert (await client.delete(f"{V3}/projects/{p['id']}", headers=admin_headers)
            ).status_code == 403
    await client.patch(f"{V3}/projects/{p['id']}", headers=admin_headers,
                       json={"project": {"enabled": False}})
    assert (await client.delete(f"{V3}/projects/{p['id']}", headers=admin_headers)
            ).status_code == 204
    assert (await client.get(f"{V3}/domains/{p['id']}", headers=admin_headers)).status_code == 404
    assert (await client.get(f"{V3}/projects/{p['id']}", headers=admin_headers)
            ).status_code == 404


async def test_is_domain_rules(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                               demo_headers: H) -> None:
    for body in ({"name": unique("x"), "is_domain": True, "parent_id": "default"},
                 {"name": unique("x"), "is_domain": True, "domain_id": "default"},
                 {"name": unique("x"), "is_domain": True, "tags": ["a/b"]}):
        r = await client.post(f"{V3}/projects", json={"project": body}, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.post(f"{V3}/projects", headers=admin_headers,
                          json={"project": {"name": "Default", "is_domain": True}})
    assert r.status_code == 409  # the name of an existing domain
    r = await client.patch(f"{V3}/projects/{(await _demo(client, admin_headers))}",
                           json={"project": {"is_domain": True}}, headers=admin_headers)
    assert r.status_code == 400  # a plain project cannot become a domain

    # only the cloud's admins make domains; a domain admin does not, a member does not
    _, dadmin = await domain_admin(client, cloud, admin_headers)
    for headers in (demo_headers, dadmin):
        r = await client.post(f"{V3}/projects", headers=headers,
                              json={"project": {"name": unique("x"), "is_domain": True}})
        assert r.status_code == 403, r.text
        r = await client.get(f"{V3}/projects/default", headers=headers)
        assert r.status_code == 403
        r = await client.patch(f"{V3}/projects/default", headers=headers,
                               json={"project": {"description": "mine"}})
        assert r.status_code == 403
        r = await client.delete(f"{V3}/projects/default", headers=headers)
        assert r.status_code == 403
    r = await client.get(f"{V3}/projects", params={"is_domain": "true"}, headers=demo_headers)
    assert r.status_code == 403


async def _demo(client: httpx.AsyncClient, admin_headers: H) -> str:
    r = await client.get(f"{V3}/projects", params={"name": "demo"}, headers=admin_headers)
    return str(r.json()["projects"][0]["id"])
