"""Unified limits in-process: /v3/registered_limits, /v3/limits and /v3/limits/model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_domain,
    add_project,
    add_user,
    headers_for,
    unique,
)
from tests.functional.identity.people_helpers import grant

H = dict[str, str]
RL = f"{V3}/registered_limits"
LIM = f"{V3}/limits"


async def _service(client: httpx.AsyncClient, admin: H) -> str:
    body = {"service": {"type": unique("t"), "name": unique("svc")}}
    r = await client.post(f"{V3}/services", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["service"]["id"])


async def _region(client: httpx.AsyncClient, admin: H) -> str:
    r = await client.post(f"{V3}/regions", json={"region": {"id": unique("reg")}}, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["region"]["id"])


async def _registered(
    client: httpx.AsyncClient, admin: H, service: str, name: str, default: int, **more: Any
) -> dict[str, Any]:
    item = {"service_id": service, "resource_name": name, "default_limit": default, **more}
    r = await client.post(RL, json={"registered_limits": [item]}, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json()["registered_limits"][0])


async def _limit(
    client: httpx.AsyncClient, admin: H, service: str, name: str, value: int, **more: Any
) -> dict[str, Any]:
    item = {"service_id": service, "resource_name": name, "resource_limit": value, **more}
    r = await client.post(LIM, json={"limits": [item]}, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json()["limits"][0])


def _ids(body: dict[str, Any], key: str) -> list[str]:
    return sorted(x["id"] for x in body[key])


def _error(r: httpx.Response, code: int) -> str:
    assert r.status_code == code, r.text
    error = r.json()["error"]
    assert error["code"] == code
    return str(error["message"])


async def test_registered_limits_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    service = await _service(client, admin_headers)
    region = await _region(client, admin_headers)
    batch = [
        {"service_id": service, "resource_name": "image_count_total", "default_limit": 5},
        {
            "service_id": service,
            "region_id": region,
            "resource_name": "image_size_total",
            "default_limit": 1000,
            "description": "MiB",
        },
    ]
    r = await client.post(RL, json={"registered_limits": batch}, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert list(r.json()) == ["registered_limits"]
    count, size = r.json()["registered_limits"]
    assert set(count) == {
        "id",
        "service_id",
        "region_id",
        "resource_name",
        "default_limit",
        "description",
        "links",
    }
    assert count["service_id"] == service and count["region_id"] is None
    assert count["resource_name"] == "image_count_total" and count["default_limit"] == 5
    assert count["description"] is None and len(count["id"]) == 32
    assert count["links"]["self"].endswith(f"/identity/v3/registered_limits/{count['id']}")
    assert size["region_id"] == region and size["description"] == "MiB"

    r = await client.get(f"{RL}/{size['id']}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["registered_limit"] == size
    r = await client.head(f"{RL}/{size['id']}", headers=admin_headers)
    assert r.status_code == 200

    r = await client.get(RL, params={"service_id": service}, headers=admin_headers)
    assert r.status_code == 200 and _ids(r.json(), "registered_limits") == sorted(
        [count["id"], size["id"]]
    )
    assert "links" in r.json()
    r = await client.get(RL, params={"region_id": region}, headers=admin_headers)
    assert _ids(r.json(), "registered_limits") == [size["id"]]
    params = {"service_id": service, "resource_name": "image_count_total"}
    r = await client.get(RL, params=params, headers=admin_headers)
    assert _ids(r.json(), "registered_limits") == [count["id"]]
    r = await client.get(RL, params={"service_id": "nope"}, headers=admin_headers)
    assert r.json()["registered_limits"] == []

    body = {"registered_limit": {"default_limit": 7, "description": "images"}}
    r = await client.patch(f"{RL}/{count['id']}", json=body, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["registered_limit"]["default_limit"] == 7
    assert r.json()["registered_limit"]["description"] == "images"
    body = {"registered_limit": {"region_id": region}}
    r = await client.patch(f"{RL}/{count['id']}", json=body, headers=admin_headers)
    assert r.status_code == 200 and r.json()["registered_limit"]["region_id"] == region
    body = {"registered_limit": {"region_id": None, "description": None}}
    r = await client.patch(f"{RL}/{count['id']}", json=body, headers=admin_headers)
    assert r.json()["registered_limit"]["region_id"] is None
    assert r.json()["registered_limit"]["description"] is None

    assert (await client.delete(f"{RL}/{count['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{RL}/{count['id']}", headers=admin_headers)
    assert _error(r, 404) == f"Could not find registered limit for {count['id']}."
    assert (await client.delete(f"{RL}/{count['id']}", headers=admin_headers)).status_code == 404
    body = {"registered_limit": {"default_limit": 1}}
    r = await client.patch(f"{RL}/{count['id']}", json=body, headers=admin_headers)
    assert r.status_code == 404


async def test_registered_limit_conflicts_and_bad_references(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    service = await _service(client, admin_headers)
    region = await _region(client, admin_headers)
    first = await _registered(client, admin_headers, service, "cores", 10)
    regional = await _registered(client, admin_headers, service, "cores", 20, region_id=region)
    item = {"service_id": service, "resource_name": "cores", "default_limit": 1}
    r = await client.post(RL, json={"registered_limits": [item]}, headers=admin_headers)
    assert "Duplicate entry" in _error(r, 409)
    r = await client.post(
        RL, json={"registered_limits": [item | {"region_id": region}]}, headers=admin_headers
    )
    assert r.status_code == 409

    # a batch is all or nothing: a duplicate inside it creates neither
    new = {"service_id": service, "resource_name": "ram", "default_limit": 1}
    r = await client.post(RL, json={"registered_limits": [new, new]}, headers=admin_headers)
    assert r.status_code == 409
    r = await client.get(RL, params={"service_id": service}, headers=admin_headers)
    assert _ids(r.json(), "registered_limits") == sorted([first["id"], regional["id"]])

    bad = {"service_id": "nope", "resource_name": "x", "default_limit": 1}
    r = await client.post(RL, json={"registered_limits": [bad]}, headers=admin_headers)
    assert _error(r, 400) == "Invalid service_id: could not find service nope."
    r = await client.post(
        RL, json={"registered_limits": [new | {"region_id": "nowhere"}]}, headers=admin_headers
    )
    assert _error(r, 400) == "Invalid region_id: could not find region nowhere."

    # moving onto another's identity is a duplicate too
    body = {"registered_limit": {"region_id": region}}
    r = await client.patch(f"{RL}/{first['id']}", json=body, headers=admin_headers)
    assert r.status_code == 409
    body = {"registered_limit": {"service_id": "nope"}}
    r = await client.patch(f"{RL}/{first['id']}", json=body, headers=admin_headers)
    assert r.status_code == 400


@pytest.mark.parametrize(
    "item",
    [
        {"default_limit": -2},
        {"default_limit": 2**31},
        {"default_limit": "5"},
        {"default_limit": True},
        {"default_limit": 1.5},
        {"default_limit": None},
        {"resource_name": ""},
        {"resource_name": "r" * 256},
        {"service_id": None},
        {"id": "mine"},
        {"links": {}},
    ],
)
async def test_registered_limit_bad_values(
    client: httpx.AsyncClient, admin_headers: H, item: dict[str, Any]
) -> None:
    good = {"service_id": "s", "resource_name": "n", "default_limit": 1}
    r = await client.post(RL, json={"registered_limits": [good | item]}, headers=admin_headers)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "body",
    [{"registered_limits": []}, {"registered_limits": {}}, {"registered_limit": {}}, {}],
)
async def test_registered_limits_bad_bodies(
    client: httpx.AsyncClient, admin_headers: H, body: dict[str, Any]
) -> None:
    r = await client.post(RL, json=body, headers=admin_headers)
    assert r.status_code == 400, r.text


async def test_limits_crud(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H) -> None:
    service = await _service(client, admin_headers)
    region = await _region(client, admin_headers)
    project = await add_project(cloud)
    domain = await add_domain(cloud)
    await _registered(client, admin_headers, service, "volumes", 10)
    await _registered(client, admin_headers, service, "volumes", 3, region_id=region)

    lim = await _limit(client, admin_headers, service, "volumes", 15, project_id=project)
    assert set(lim) == {
        "id",
        "project_id",
        "domain_id",
        "service_id",
        "region_id",
        "resource_name",
        "resource_limit",
        "description",
        "links",
    }
    assert lim["project_id"] == project and lim["domain_id"] is None
    assert (lim["service_id"], lim["region_id"], lim["resource_name"]) == (
        service,
        None,
        "volumes",
    )
    assert lim["resource_limit"] == 15 and lim["description"] is None
    assert lim["links"]["self"].endswith(f"/identity/v3/limits/{lim['id']}")
    regional = await _limit(
        client,
        admin_headers,
        service,
        "volumes",
        4,
        project_id=project,
        region_id=region,
        description="one region",
    )
    assert regional["region_id"] == region and regional["description"] == "one region"
    by_domain = await _limit(client, admin_headers, service, "volumes", 50, domain_id=domain)
    assert by_domain["domain_id"] == domain and by_domain["project_id"] is None

    r = await client.get(f"{LIM}/{lim['id']}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["limit"] == lim
    r = await client.get(LIM, params={"service_id": service}, headers=admin_headers)
    assert _ids(r.json(), "limits") == sorted([lim["id"], regional["id"], by_domain["id"]])
    r = await client.get(LIM, params={"project_id": project}, headers=admin_headers)
    assert _ids(r.json(), "limits") == sorted([lim["id"], regional["id"]])
    r = await client.get(LIM, params={"domain_id": domain}, headers=admin_headers)
    assert _ids(r.json(), "limits") == [by_domain["id"]]
    params = {"region_id": region, "resource_name": "volumes"}
    r = await client.get(LIM, params=params, headers=admin_headers)
    assert _ids(r.json(), "limits") == [regional["id"]]
    r = await client.get(LIM, params={"resource_name": "nothing"}, headers=admin_headers)
    assert r.json()["limits"] == []

    body = {"limit": {"resource_limit": 0, "description": "frozen"}}
    r = await client.patch(f"{LIM}/{lim['id']}", json=body, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["limit"]["resource_limit"] == 0
    assert r.json()["limit"]["description"] == "frozen"
    assert r.json()["limit"]["resource_name"] == "volumes"
    for changes in ({"resource_name": "other"}, {"project_id": project}, {"resource_limit": -5}):
        r = await client.patch(f"{LIM}/{lim['id']}", json={"limit": changes}, headers=admin_headers)
        assert r.status_code == 400, (changes, r.text)

    assert (await client.delete(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{LIM}/{lim['id']}", headers=admin_headers)
    assert _error(r, 404) == f"Could not find limit for {lim['id']}."
    assert (await client.delete(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 404


async def test_limit_needs_a_registered_limit(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    service = await _service(client, admin_headers)
    region = await _region(client, admin_headers)
    project = await add_project(cloud)
    await _registered(client, admin_headers, service, "gigabytes", 100)

    def item(**fields: Any) -> dict[str, Any]:
        base = {"service_id": service, "resource_name": "gigabytes", "resource_limit": 1}
        return {"limits": [base | fields]}

    r = await client.post(
        LIM, json=item(project_id=project, resource_name="x"), headers=admin_headers
    )
    assert _error(r, 403).startswith(
        "Unable to create a limit that has no corresponding registered limit"
    )
    # the region must match too: the registered limit has none
    r = await client.post(
        LIM, json=item(project_id=project, region_id=region), headers=admin_headers
    )
    assert r.status_code == 403
    r = await client.post(LIM, json=item(project_id="nope"), headers=admin_headers)
    assert _error(r, 400) == "Invalid project_id: could not find project nope."
    r = await client.post(LIM, json=item(domain_id="nope"), headers=admin_headers)
    assert _error(r, 400) == "Invalid domain_id: could not find domain nope."
    r = await client.post(
        LIM, json=item(service_id="nope", project_id=project), headers=admin_headers
    )
    assert r.status_code == 400
    r = await client.post(LIM, json=item(), headers=admin_headers)
    assert r.status_code == 400
    r = await client.post(
        LIM, json=item(project_id=project, domain_id="default"), headers=admin_headers
    )
    assert r.status_code == 400

    await _limit(client, admin_headers, service, "gigabytes", 5, project_id=project)
    r = await client.post(LIM, json=item(project_id=project), headers=admin_headers)
    assert "Duplicate entry" in _error(r, 409)
    r = await client.get(LIM, params={"project_id": project}, headers=admin_headers)
    assert len(r.json()["limits"]) == 1
    # a batch is all or nothing
    other = await add_project(cloud)
    body = {"limits": [item(project_id=other)["limits"][0], item(project_id=project)["limits"][0]]}
    r = await client.post(LIM, json=body, headers=admin_headers)
    assert r.status_code == 409
    r = await client.get(LIM, params={"project_id": other}, headers=admin_headers)
    assert r.json()["limits"] == []


async def test_registered_limit_in_use(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    service = await _service(client, admin_headers)
    project = await add_project(cloud)
    reg = await _registered(client, admin_headers, service, "snapshots", 10)
    lim = await _limit(client, admin_headers, service, "snapshots", 2, project_id=project)
    url = f"{RL}/{reg['id']}"
    r = await client.delete(url, headers=admin_headers)
    assert _error(r, 403) == (
        f"Unable to update or delete registered limit {reg['id']} because there are project "
        "limits associated with it."
    )
    r = await client.patch(
        url, json={"registered_limit": {"resource_name": "other"}}, headers=admin_headers
    )
    assert r.status_code == 403
    # the default and the description may change: the limits keep referring to it
    body = {
        "registered_limit": {"default_limit": 11, "description": "d", "resource_name": "snapshots"}
    }
    r = await client.patch(url, json=body, headers=admin_headers)
    assert r.status_code == 200 and r.json()["registered_limit"]["default_limit"] == 11
    assert (await client.delete(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 204
    assert (await client.delete(url, headers=admin_headers)).status_code == 204


async def test_deleting_a_project_deletes_its_limits(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    service = await _service(client, admin_headers)
    project = await add_project(cloud)
    await _registered(client, admin_headers, service, "ports", 10)
    lim = await _limit(client, admin_headers, service, "ports", 2, project_id=project)
    assert (
        await client.delete(f"{V3}/projects/{project}", headers=admin_headers)
    ).status_code == 204
    assert (await client.get(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 404


async def test_limits_outlive_no_service_or_region_behind_their_back(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    """As Keystone: a service or region that registered limits name is not deleted (403), so
    no limit disappears with it; once the limits are gone, it deletes."""
    service, region = await _service(client, admin_headers), await _region(client, admin_headers)
    project = await add_project(cloud)
    reg = await _registered(client, admin_headers, service, "ports", 10, region_id=region)
    lim = await _limit(
        client, admin_headers, service, "ports", 2, project_id=project, region_id=region
    )
    for path in (f"services/{service}", f"regions/{region}"):
        r = await client.delete(f"{V3}/{path}", headers=admin_headers)
        assert r.status_code == 403, r.text
        assert "registered limits" in r.json()["error"]["message"]
    assert (await client.get(f"{RL}/{reg['id']}", headers=admin_headers)).status_code == 200
    assert (await client.get(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 200
    assert (await client.get(f"{V3}/services/{service}", headers=admin_headers)).status_code == 200
    assert (await client.delete(f"{LIM}/{lim['id']}", headers=admin_headers)).status_code == 204
    assert (await client.delete(f"{RL}/{reg['id']}", headers=admin_headers)).status_code == 204
    for path in (f"services/{service}", f"regions/{region}"):
        assert (await client.delete(f"{V3}/{path}", headers=admin_headers)).status_code == 204


async def test_limit_model(client: httpx.AsyncClient, demo_headers: H) -> None:
    r = await client.get(f"{LIM}/model", headers=demo_headers)
    assert r.status_code == 200
    assert r.json() == {
        "model": {
            "name": "flat",
            "description": "Limit enforcement and validation does not take project hierarchy "
            "into consideration.",
        }
    }
    assert (await client.get(f"{LIM}/model")).status_code == 401


async def test_limits_policy(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H) -> None:
    """Admins manage; anyone reads registered limits; a project's users read its limits only;
    a domain's users read the domain's and its projects' limits."""
    service = await _service(client, admin_headers)
    domain = await add_domain(cloud)
    mine, theirs = await add_project(cloud, domain_id=domain), await add_project(cloud)
    user = await add_user(cloud, domain_id=domain)
    await grant(cloud, user, mine, "member")
    await grant(cloud, user, domain, "reader", "UserDomain")
    member = await headers_for(client, user, project_id=mine)
    domain_user = await headers_for(client, user, domain_id=domain)
    unscoped = await headers_for(client, user)
    reg = await _registered(client, admin_headers, service, "floatingips", 3)
    own = await _limit(client, admin_headers, service, "floatingips", 5, project_id=mine)
    other = await _limit(client, admin_headers, service, "floatingips", 6, project_id=theirs)
    dom = await _limit(client, admin_headers, service, "floatingips", 7, domain_id=domain)

    # writes: cloud admins only
    item = {"service_id": service, "resource_name": "x", "default_limit": 1}
    for headers in (member, domain_user):
        r = await client.post(RL, json={"registered_limits": [item]}, headers=headers)
        assert r.status_code == 403
        body = {"registered_limit": {"default_limit": 1}}
        assert (
            await client.patch(f"{RL}/{reg['id']}", json=body, headers=headers)
        ).status_code == 403
        assert (await client.delete(f"{RL}/{reg['id']}", headers=headers)).status_code == 403
        body = {
            "limits": [
                {
                    "service_id": service,
                    "resource_name": "floatingips",
                    "resource_limit": 100,
                    "project_id": theirs,
                }
            ]
        }
        assert (await client.post(LIM, json=body, headers=headers)).status_code == 403
        body = {"limit": {"resource_limit": 100}}
        assert (
            await client.patch(f"{LIM}/{own['id']}", json=body, headers=headers)
        ).status_code == 403
        assert (await client.delete(f"{LIM}/{own['id']}", headers=headers)).status_code == 403

    # registered limits: everyone reads
    for headers in (member, domain_user, unscoped):
        assert (await client.get(f"{RL}/{reg['id']}", headers=headers)).status_code == 200
        r = await client.get(RL, params={"service_id": service}, headers=headers)
        assert _ids(r.json(), "registered_limits") == [reg["id"]]

    # limits: what the scope may see
    r = await client.get(LIM, params={"service_id": service}, headers=member)
    assert _ids(r.json(), "limits") == [own["id"]]
    r = await client.get(LIM, params={"project_id": theirs}, headers=member)
    assert r.json()["limits"] == []
    r = await client.get(LIM, params={"service_id": service}, headers=domain_user)
    assert _ids(r.json(), "limits") == sorted([own["id"], dom["id"]])
    r = await client.get(LIM, params={"service_id": service}, headers=unscoped)
    assert r.status_code == 200 and r.json()["limits"] == []
    r = await client.get(LIM, params={"service_id": service}, headers=admin_headers)
    assert _ids(r.json(), "limits") == sorted([own["id"], other["id"], dom["id"]])
    # a service user (the service role, as the services' own users have) reads every limit
    service_user = await add_user(cloud)
    await grant(cloud, service_user, mine, "service")
    service_headers = await headers_for(client, service_user, project_id=mine)
    r = await client.get(LIM, params={"service_id": service}, headers=service_headers)
    assert _ids(r.json(), "limits") == sorted([own["id"], other["id"], dom["id"]])
    assert (await client.get(f"{LIM}/{other['id']}", headers=service_headers)).status_code == 200
    body = {"limit": {"resource_limit": 100}}
    r = await client.patch(f"{LIM}/{other['id']}", json=body, headers=service_headers)
    assert r.status_code == 403

    assert (await client.get(f"{LIM}/{own['id']}", headers=member)).status_code == 200
    assert (await client.get(f"{LIM}/{other['id']}", headers=member)).status_code == 403
    assert (await client.get(f"{LIM}/{dom['id']}", headers=member)).status_code == 403
    assert (await client.get(f"{LIM}/{own['id']}", headers=domain_user)).status_code == 200
    assert (await client.get(f"{LIM}/{dom['id']}", headers=domain_user)).status_code == 200
    assert (await client.get(f"{LIM}/{other['id']}", headers=domain_user)).status_code == 403
    assert (await client.get(f"{LIM}/{other['id']}", headers=unscoped)).status_code == 403
    assert (await client.get(f"{LIM}/nope", headers=member)).status_code == 403
    assert (await client.get(f"{LIM}/nope", headers=admin_headers)).status_code == 404
    for path in (RL, LIM, f"{RL}/{reg['id']}", f"{LIM}/{own['id']}"):
        assert (await client.get(path)).status_code == 401
