"""/v3/OS-EP-FILTER in-process: project endpoints, endpoint groups, the filtered catalog."""

from __future__ import annotations

from typing import Any

import httpx

from onestack.common.db import new_id
from tests.conftest import issue, make_user, password_auth, password_of

V3 = "/identity/v3"
EP = f"{V3}/OS-EP-FILTER"
H = dict[str, str]


async def _post(client: httpx.AsyncClient, headers: H, path: str, key: str, body: dict) -> dict:
    r = await client.post(f"{V3}/{path}", json={key: body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()[key]


async def _setup(client: httpx.AsyncClient, headers: H) -> tuple[dict, list[dict], dict]:
    """A service with a public and an internal endpoint, and a fresh project."""
    service = await _post(client, headers, "services", "service", {"type": f"t-{new_id()[:8]}"})
    endpoints = [
        await _post(
            client,
            headers,
            "endpoints",
            "endpoint",
            {"service_id": service["id"], "interface": iface, "url": f"http://{iface}.example"},
        )
        for iface in ("public", "internal")
    ]
    project = await _post(client, headers, "projects", "project", {"name": f"p-{new_id()[:8]}"})
    return service, endpoints, project


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(x["id"] for x in items)


async def test_project_endpoint_associations(client: httpx.AsyncClient, admin_headers: H) -> None:
    _service, (pub, internal), project = await _setup(client, admin_headers)
    link = f"{EP}/projects/{project['id']}/endpoints/{pub['id']}"
    assert (await client.head(link, headers=admin_headers)).status_code == 404
    assert (await client.put(link, headers=admin_headers)).status_code == 204
    assert (await client.put(link, headers=admin_headers)).status_code == 204  # idempotent
    assert (await client.head(link, headers=admin_headers)).status_code == 204
    assert (await client.get(link, headers=admin_headers)).status_code == 204

    r = await client.get(f"{EP}/projects/{project['id']}/endpoints", headers=admin_headers)
    assert r.status_code == 200 and _ids(r.json()["endpoints"]) == [pub["id"]]
    assert r.json()["endpoints"][0]["url"] == "http://public.example"
    assert r.json()["links"]["self"].endswith(f"/OS-EP-FILTER/projects/{project['id']}/endpoints")
    r = await client.get(f"{EP}/endpoints/{pub['id']}/projects", headers=admin_headers)
    assert r.status_code == 200 and _ids(r.json()["projects"]) == [project["id"]]
    assert r.json()["projects"][0]["name"] == project["name"]
    r = await client.get(f"{EP}/endpoints/{internal['id']}/projects", headers=admin_headers)
    assert r.json()["projects"] == []

    assert (await client.delete(link, headers=admin_headers)).status_code == 204
    r = await client.delete(link, headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == (
        f"Endpoint {pub['id']} not found in project {project['id']}."
    )
    r = await client.get(f"{EP}/projects/{project['id']}/endpoints", headers=admin_headers)
    assert r.json()["endpoints"] == []


async def test_project_endpoint_unknown_ids(client: httpx.AsyncClient, admin_headers: H) -> None:
    _service, (pub, _), project = await _setup(client, admin_headers)
    r = await client.put(f"{EP}/projects/nope/endpoints/{pub['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Could not find project: nope."
    r = await client.put(f"{EP}/projects/{project['id']}/endpoints/nope", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Could not find endpoint: nope."
    for path in (
        "projects/nope/endpoints",
        "endpoints/nope/projects",
        "projects/nope/endpoint_groups",
    ):
        assert (await client.get(f"{EP}/{path}", headers=admin_headers)).status_code == 404


async def test_endpoint_group_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    service, (pub, internal), project = await _setup(client, admin_headers)
    filters = {"service_id": service["id"], "interface": "internal"}
    r = await client.post(
        f"{EP}/endpoint_groups",
        json={"endpoint_group": {"name": "eg-int", "description": "d", "filters": filters}},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    group = r.json()["endpoint_group"]
    assert group["name"] == "eg-int" and group["description"] == "d"
    assert group["filters"] == filters and len(group["id"]) == 32
    assert group["links"]["self"].endswith(f"/v3/OS-EP-FILTER/endpoint_groups/{group['id']}")
    url = f"{EP}/endpoint_groups/{group['id']}"

    r = await client.get(url, headers=admin_headers)
    assert r.status_code == 200 and r.json()["endpoint_group"] == group
    assert (await client.head(url, headers=admin_headers)).status_code == 200
    r = await client.get(f"{EP}/endpoint_groups", params={"name": "eg-int"}, headers=admin_headers)
    assert [g["id"] for g in r.json()["endpoint_groups"]] == [group["id"]]
    r = await client.get(f"{EP}/endpoint_groups", headers=admin_headers)
    assert group["id"] in _ids(r.json()["endpoint_groups"])
    r = await client.get(f"{url}/endpoints", headers=admin_headers)
    assert _ids(r.json()["endpoints"]) == [internal["id"]]

    r = await client.patch(
        url,
        json={"endpoint_group": {"name": "eg-all", "filters": {"service_id": service["id"]}}},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["endpoint_group"]["name"] == "eg-all"
    assert r.json()["endpoint_group"]["description"] == "d"
    r = await client.get(f"{url}/endpoints", headers=admin_headers)
    assert _ids(r.json()["endpoints"]) == sorted([pub["id"], internal["id"]])

    # project associations
    assoc = f"{url}/projects/{project['id']}"
    assert (await client.head(assoc, headers=admin_headers)).status_code == 404
    assert (await client.put(assoc, headers=admin_headers)).status_code == 204
    r = await client.get(assoc, headers=admin_headers)
    assert r.status_code == 200 and r.json()["project"]["id"] == project["id"]
    assert (await client.head(assoc, headers=admin_headers)).status_code == 200
    r = await client.get(f"{url}/projects", headers=admin_headers)
    assert _ids(r.json()["projects"]) == [project["id"]]
    r = await client.get(f"{EP}/projects/{project['id']}/endpoint_groups", headers=admin_headers)
    assert _ids(r.json()["endpoint_groups"]) == [group["id"]]
    # a project's endpoints include those of its endpoint groups
    r = await client.get(f"{EP}/projects/{project['id']}/endpoints", headers=admin_headers)
    assert _ids(r.json()["endpoints"]) == sorted([pub["id"], internal["id"]])

    assert (await client.delete(assoc, headers=admin_headers)).status_code == 204
    assert (await client.delete(assoc, headers=admin_headers)).status_code == 404
    r = await client.get(f"{url}/projects", headers=admin_headers)
    assert r.json()["projects"] == []

    assert (await client.put(assoc, headers=admin_headers)).status_code == 204
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    r = await client.get(url, headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find endpoint group: {group['id']}."
    r = await client.get(f"{EP}/projects/{project['id']}/endpoint_groups", headers=admin_headers)
    assert r.json()["endpoint_groups"] == []  # the association went with the group


async def test_endpoint_group_unknown_ids(client: httpx.AsyncClient, admin_headers: H) -> None:
    _service, _eps, project = await _setup(client, admin_headers)
    g = f"{EP}/endpoint_groups/nope"
    for method, path in [
        ("GET", g),
        ("HEAD", g),
        ("PATCH", g),
        ("DELETE", g),
        ("GET", f"{g}/endpoints"),
        ("GET", f"{g}/projects"),
        ("PUT", f"{g}/projects/{project['id']}"),
        ("GET", f"{g}/projects/{project['id']}"),
        ("DELETE", f"{g}/projects/{project['id']}"),
    ]:
        body = {"endpoint_group": {"name": "x"}} if method == "PATCH" else None
        r = await client.request(method, path, json=body, headers=admin_headers)
        assert r.status_code == 404, (method, path, r.text)
    group = await _post(
        client,
        admin_headers,
        "OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"name": "eg-x", "filters": {"interface": "admin"}},
    )
    r = await client.put(f"{EP}/endpoint_groups/{group['id']}/projects/nope", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Could not find project: nope."


async def test_endpoint_group_bad_bodies(client: httpx.AsyncClient, admin_headers: H) -> None:
    bad = [
        {},
        {"endpoint_group": {"name": "x"}},  # no filters
        {"endpoint_group": {"filters": {"interface": "public"}}},  # no name
        {"endpoint_group": {"name": "", "filters": {"interface": "public"}}},
        {"endpoint_group": {"name": "x", "filters": {"url": "http://x"}}},
        {"endpoint_group": {"name": "x", "filters": {"interface": 3}}},
        {"endpoint_group": {"name": "x", "filters": "interface=public"}},
        {"endpoint_group": {"name": "x", "filters": {"interface": "public"}, "color": "red"}},
        {"endpoint_group": {"name": "x" * 256, "filters": {"interface": "public"}}},
    ]
    for body in bad:
        r = await client.post(f"{EP}/endpoint_groups", json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    group = await _post(
        client,
        admin_headers,
        "OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"name": "eg-bad", "filters": {"interface": "public"}},
    )
    url = f"{EP}/endpoint_groups/{group['id']}"
    for body in [
        {"endpoint_group": {"filters": {"bogus": "x"}}},
        {"endpoint_group": {"id": "other"}},
        {"group": {}},
    ]:
        r = await client.patch(url, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    # null name / filters (what the CLI sends for options it was not given) change nothing
    r = await client.patch(
        url, json={"endpoint_group": {"name": None, "filters": None}}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["endpoint_group"]["name"] == "eg-bad"
    r = await client.get(url, headers=admin_headers)
    assert r.json()["endpoint_group"]["filters"] == {"interface": "public"}


async def test_demo_is_forbidden(
    client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    _service, (pub, _), project = await _setup(client, admin_headers)
    group = await _post(
        client,
        admin_headers,
        "OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"name": "eg-demo", "filters": {"interface": "public"}},
    )
    pe = f"{EP}/projects/{project['id']}/endpoints/{pub['id']}"
    g = f"{EP}/endpoint_groups/{group['id']}"
    for method, path in [
        ("PUT", pe),
        ("HEAD", pe),
        ("DELETE", pe),
        ("GET", f"{EP}/projects/{project['id']}/endpoints"),
        ("GET", f"{EP}/endpoints/{pub['id']}/projects"),
        ("POST", f"{EP}/endpoint_groups"),
        ("GET", f"{EP}/endpoint_groups"),
        ("GET", g),
        ("PATCH", g),
        ("DELETE", g),
        ("GET", f"{g}/endpoints"),
        ("GET", f"{g}/projects"),
        ("PUT", f"{g}/projects/{project['id']}"),
        ("GET", f"{g}/projects/{project['id']}"),
        ("DELETE", f"{g}/projects/{project['id']}"),
        ("GET", f"{EP}/projects/{project['id']}/endpoint_groups"),
    ]:
        body = {"endpoint_group": {"name": "x", "filters": {"interface": "public"}}}
        r = await client.request(
            method, path, json=body if method in ("POST", "PATCH") else None, headers=demo_headers
        )
        assert r.status_code == 403, (method, path, r.text)
    r = await client.request("GET", f"{EP}/endpoint_groups")
    assert r.status_code == 401
    r = await client.get(g, headers=admin_headers)
    assert r.json()["endpoint_group"]["name"] == "eg-demo"  # untouched


def _catalog_ids(catalog: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for s in catalog for e in s["endpoints"]}


async def test_project_token_catalog_is_filtered(
    cloud: Any, client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    service, (pub, internal), project = await _setup(client, admin_headers)
    name = f"epf-{new_id()[:8]}"
    await make_user(cloud, name, "secret-pw", project=project["name"])
    auth = password_auth(name, "secret-pw", project=project["name"])

    async def catalog() -> set[str]:
        r = await client.post(f"{V3}/auth/tokens", json=auth)
        assert r.status_code == 201, r.text
        issued = _catalog_ids(r.json()["token"]["catalog"])
        token = r.headers["X-Subject-Token"]
        r = await client.get(f"{V3}/auth/catalog", headers={"X-Auth-Token": token})
        assert _catalog_ids(r.json()["catalog"]) == issued
        r = await client.get(
            f"{V3}/auth/tokens", headers={**admin_headers, "X-Subject-Token": token}
        )
        assert _catalog_ids(r.json()["token"]["catalog"]) == issued
        return issued

    unfiltered = await catalog()
    assert {pub["id"], internal["id"]} <= unfiltered and len(unfiltered) > 2

    link = f"{EP}/projects/{project['id']}/endpoints/{pub['id']}"
    assert (await client.put(link, headers=admin_headers)).status_code == 204
    assert await catalog() == {pub["id"]}
    r = await client.post(f"{V3}/auth/tokens", json=auth)
    assert [s["id"] for s in r.json()["token"]["catalog"]] == [service["id"]]  # no empty services

    # other projects keep the whole catalog
    r = await client.get(f"{V3}/auth/catalog", headers=demo_headers)
    assert {pub["id"], internal["id"]} <= _catalog_ids(r.json()["catalog"])
    r = await client.get(f"{V3}/auth/catalog", headers=admin_headers)
    assert _catalog_ids(r.json()["catalog"]) == unfiltered

    # an endpoint group adds its endpoints
    group = await _post(
        client,
        admin_headers,
        "OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"name": "eg-cat", "filters": {"service_id": service["id"], "interface": "internal"}},
    )
    assoc = f"{EP}/endpoint_groups/{group['id']}/projects/{project['id']}"
    assert (await client.put(assoc, headers=admin_headers)).status_code == 204
    assert await catalog() == {pub["id"], internal["id"]}

    assert (await client.delete(link, headers=admin_headers)).status_code == 204
    assert await catalog() == {internal["id"]}
    assert (await client.delete(assoc, headers=admin_headers)).status_code == 204
    assert await catalog() == unfiltered


async def test_deletes_drop_associations(client: httpx.AsyncClient, admin_headers: H) -> None:
    _service, (pub, internal), project = await _setup(client, admin_headers)
    other = await _post(client, admin_headers, "projects", "project", {"name": f"o-{new_id()[:8]}"})
    for p in (project, other):
        for e in (pub, internal):
            r = await client.put(
                f"{EP}/projects/{p['id']}/endpoints/{e['id']}", headers=admin_headers
            )
            assert r.status_code == 204
    group = await _post(
        client,
        admin_headers,
        "OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"name": "eg-del", "filters": {"interface": "admin"}},
    )
    g = f"{EP}/endpoint_groups/{group['id']}"
    assert (
        await client.put(f"{g}/projects/{project['id']}", headers=admin_headers)
    ).status_code == 204

    # deleting an endpoint drops its associations
    assert (
        await client.delete(f"{V3}/endpoints/{pub['id']}", headers=admin_headers)
    ).status_code == 204
    r = await client.get(f"{EP}/projects/{other['id']}/endpoints", headers=admin_headers)
    assert _ids(r.json()["endpoints"]) == [internal["id"]]

    # deleting a project drops its associations
    r = await client.patch(
        f"{V3}/projects/{project['id']}",
        json={"project": {"enabled": False}},
        headers=admin_headers,
    )
    assert (
        await client.delete(f"{V3}/projects/{project['id']}", headers=admin_headers)
    ).status_code == 204
    r = await client.get(f"{EP}/endpoints/{internal['id']}/projects", headers=admin_headers)
    assert _ids(r.json()["projects"]) == [other["id"]]
    r = await client.get(f"{g}/projects", headers=admin_headers)
    assert r.json()["projects"] == []
    assert (
        await client.get(f"{EP}/projects/{project['id']}/endpoints", headers=admin_headers)
    ).status_code == 404


async def test_list_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    for i in range(3):
        await _post(
            client,
            admin_headers,
            "OS-EP-FILTER/endpoint_groups",
            "endpoint_group",
            {"name": "eg-page", "filters": {"region_id": f"r{i}"}},
        )
    r = await client.get(
        f"{EP}/endpoint_groups", params={"name": "eg-page", "limit": 2}, headers=admin_headers
    )
    assert r.status_code == 200 and len(r.json()["endpoint_groups"]) == 2
    assert r.json()["links"]["next"]
    r = await client.get(
        r.json()["links"]["next"].replace("http://testserver", ""), headers=admin_headers
    )
    assert len(r.json()["endpoint_groups"]) == 1


async def test_system_token_catalog_unfiltered(cloud: Any, client: httpx.AsyncClient) -> None:
    """A system-scoped token gets the whole catalog (the filter is per project)."""
    token = await issue(client, password_auth("admin", password_of(cloud, "admin"), system=True))
    r = await client.get(f"{V3}/auth/catalog", headers={"X-Auth-Token": token})
    assert r.status_code == 200 and _catalog_ids(r.json()["catalog"])
