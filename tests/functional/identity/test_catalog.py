"""/v3/regions, /v3/services, /v3/endpoints in-process."""

from __future__ import annotations

import httpx

V3 = "/identity/v3"
H = dict[str, str]


async def _service(client: httpx.AsyncClient, headers: H, **fields: object) -> dict:
    r = await client.post(
        f"{V3}/services", json={"service": {"type": "x", **fields}}, headers=headers
    )
    assert r.status_code == 201, r.text
    return r.json()["service"]


async def test_region_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    r = await client.post(
        f"{V3}/regions", json={"region": {"description": "auto"}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    auto = r.json()["region"]
    assert len(auto["id"]) == 32 and auto["parent_region_id"] is None
    assert auto["links"]["self"].endswith(f"/v3/regions/{auto['id']}")

    r = await client.post(f"{V3}/regions", json={"region": {"id": "r-top"}}, headers=admin_headers)
    assert r.status_code == 201 and r.json()["region"]["description"] == ""
    r = await client.put(
        f"{V3}/regions/r-child",
        json={"region": {"parent_region_id": "r-top", "color": "red"}},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    child = r.json()["region"]
    assert child["id"] == "r-child" and child["parent_region_id"] == "r-top"
    assert child["color"] == "red"  # free attributes are kept

    r = await client.get(
        f"{V3}/regions", params={"parent_region_id": "r-top"}, headers=admin_headers
    )
    assert [x["id"] for x in r.json()["regions"]] == ["r-child"]
    r = await client.patch(
        f"{V3}/regions/r-child", json={"region": {"description": "kid"}}, headers=admin_headers
    )
    assert r.json()["region"]["description"] == "kid" and r.json()["region"]["color"] == "red"
    r = await client.get(f"{V3}/regions/r-child", headers=admin_headers)
    assert r.json()["region"]["description"] == "kid"

    # deleting a parent takes its children along
    assert (await client.delete(f"{V3}/regions/r-top", headers=admin_headers)).status_code == 204
    for rid in ("r-top", "r-child"):
        r = await client.get(f"{V3}/regions/{rid}", headers=admin_headers)
        assert r.status_code == 404
        assert r.json()["error"]["message"] == f"Could not find region: {rid}."


async def test_region_rules(client: httpx.AsyncClient, admin_headers: H) -> None:
    await client.put(f"{V3}/regions/rr-a", json={"region": {}}, headers=admin_headers)
    r = await client.put(f"{V3}/regions/rr-a", json={"region": {}}, headers=admin_headers)
    assert r.status_code == 409
    r = await client.post(f"{V3}/regions", json={"region": {"id": "rr-a"}}, headers=admin_headers)
    assert r.status_code == 409
    r = await client.put(
        f"{V3}/regions/rr-b", json={"region": {"id": "other"}}, headers=admin_headers
    )
    assert r.status_code == 400
    r = await client.post(
        f"{V3}/regions", json={"region": {"parent_region_id": "nowhere"}}, headers=admin_headers
    )
    assert r.status_code == 400
    await client.put(
        f"{V3}/regions/rr-b", json={"region": {"parent_region_id": "rr-a"}}, headers=admin_headers
    )
    # no cycles: a -> b -> a, nor a region its own parent
    for rid, parent in (("rr-a", "rr-b"), ("rr-a", "rr-a")):
        r = await client.patch(
            f"{V3}/regions/{rid}",
            json={"region": {"parent_region_id": parent}},
            headers=admin_headers,
        )
        assert r.status_code == 400, r.text
    for body in ({"region": {"description": 5}}, {"nope": {}}, {"region": {"id": ""}}):
        r = await client.post(f"{V3}/regions", json=body, headers=admin_headers)
        assert r.status_code == 400, body
    r = await client.patch(f"{V3}/regions/missing", json={"region": {}}, headers=admin_headers)
    assert r.status_code == 404
    # a region (or a child of it) with endpoints cannot be deleted
    svc = await _service(client, admin_headers)
    r = await client.post(
        f"{V3}/endpoints",
        json={
            "endpoint": {
                "service_id": svc["id"],
                "interface": "public",
                "url": "http://b",
                "region_id": "rr-b",
            }
        },
        headers=admin_headers,
    )
    assert r.status_code == 201
    r = await client.delete(f"{V3}/regions/rr-a", headers=admin_headers)
    assert r.status_code == 403
    assert (await client.get(f"{V3}/regions/rr-b", headers=admin_headers)).status_code == 200
    await client.delete(f"{V3}/services/{svc['id']}", headers=admin_headers)
    assert (await client.delete(f"{V3}/regions/rr-a", headers=admin_headers)).status_code == 204


async def test_service_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    svc = await _service(
        client, admin_headers, type="svc-crud", name="alpha", description="d", flavor="vanilla"
    )
    assert svc["enabled"] is True and svc["name"] == "alpha" and svc["flavor"] == "vanilla"
    r = await client.get(f"{V3}/services", params={"type": "svc-crud"}, headers=admin_headers)
    assert [s["id"] for s in r.json()["services"]] == [svc["id"]]
    r = await client.get(f"{V3}/services", params={"name": "alpha"}, headers=admin_headers)
    assert [s["id"] for s in r.json()["services"]] == [svc["id"]]
    r = await client.get(f"{V3}/services", params={"type": "svc-none"}, headers=admin_headers)
    assert r.json()["services"] == []
    r = await client.patch(
        f"{V3}/services/{svc['id']}",
        json={"service": {"enabled": False, "name": "beta"}},
        headers=admin_headers,
    )
    assert r.status_code == 200
    assert r.json()["service"]["enabled"] is False and r.json()["service"]["name"] == "beta"
    assert r.json()["service"]["flavor"] == "vanilla"
    r = await client.get(f"{V3}/services/{svc['id']}", headers=admin_headers)
    assert r.json()["service"]["name"] == "beta"
    assert (
        await client.delete(f"{V3}/services/{svc['id']}", headers=admin_headers)
    ).status_code == 204
    r = await client.get(f"{V3}/services/{svc['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find service: {svc['id']}."


async def test_service_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    for body in (
        {"service": {}},
        {"service": {"type": ""}},
        {"service": {"type": "t" * 256}},
        {"service": {"type": "t", "enabled": "yes"}},
        {"service": {"type": 1}},
    ):
        r = await client.post(f"{V3}/services", json=body, headers=admin_headers)
        assert r.status_code == 400, body
    r = await client.patch(
        f"{V3}/services/nope", json={"service": {"name": "x"}}, headers=admin_headers
    )
    assert r.status_code == 404
    assert (await client.delete(f"{V3}/services/nope", headers=admin_headers)).status_code == 404


async def test_endpoint_crud_and_catalog(client: httpx.AsyncClient, admin_headers: H) -> None:
    svc = await _service(client, admin_headers, type="ep-type", name="ep-svc")
    r = await client.post(
        f"{V3}/endpoints",
        json={
            "endpoint": {
                "service_id": svc["id"],
                "interface": "internal",
                "url": "http://int:1/v1",
                "region": "RegionOne",
            }
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    ep = r.json()["endpoint"]
    assert ep["region_id"] == ep["region"] == "RegionOne" and ep["enabled"] is True
    assert ep["links"]["self"].endswith(f"/v3/endpoints/{ep['id']}")

    # the new endpoint shows up in the catalog at once
    r = await client.get(f"{V3}/auth/catalog", headers=admin_headers)
    (entry,) = [s for s in r.json()["catalog"] if s["id"] == svc["id"]]
    assert entry["type"] == "ep-type" and [e["url"] for e in entry["endpoints"]] == [
        "http://int:1/v1"
    ]

    for params, expected in (
        ({"service_id": svc["id"]}, [ep["id"]]),
        ({"service_id": svc["id"], "interface": "public"}, []),
        ({"service_id": svc["id"], "region_id": "RegionOne"}, [ep["id"]]),
    ):
        r = await client.get(f"{V3}/endpoints", params=params, headers=admin_headers)
        assert [e["id"] for e in r.json()["endpoints"]] == expected, params

    r = await client.patch(
        f"{V3}/endpoints/{ep['id']}",
        json={"endpoint": {"url": "http://int:2/v1", "interface": "public", "enabled": False}},
        headers=admin_headers,
    )
    assert r.status_code == 200
    assert r.json()["endpoint"]["url"] == "http://int:2/v1"
    assert r.json()["endpoint"]["interface"] == "public"
    r = await client.get(f"{V3}/auth/catalog", headers=admin_headers)
    (entry,) = [s for s in r.json()["catalog"] if s["id"] == svc["id"]]
    assert entry["endpoints"] == []  # disabled endpoints leave the catalog

    # deleting the service deletes its endpoints
    await client.delete(f"{V3}/services/{svc['id']}", headers=admin_headers)
    r = await client.get(f"{V3}/endpoints/{ep['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find endpoint: {ep['id']}."


async def test_endpoint_delete_and_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    svc = await _service(client, admin_headers)
    good = {"service_id": svc["id"], "interface": "admin", "url": "https://a/"}
    bad = [
        {**good, "interface": "private"},
        {**good, "url": "not a url"},
        {**good, "service_id": "missing"},
        {**good, "region_id": "missing"},
        {**good, "region": "RegionOne", "region_id": "other"},
        {**good, "enabled": "true"},
        {k: v for k, v in good.items() if k != "url"},
    ]
    for body in bad:
        r = await client.post(f"{V3}/endpoints", json={"endpoint": body}, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.post(f"{V3}/endpoints", json={"endpoint": good}, headers=admin_headers)
    ep = r.json()["endpoint"]
    assert ep["region_id"] is None
    r = await client.patch(
        f"{V3}/endpoints/{ep['id']}",
        json={"endpoint": {"service_id": "missing"}},
        headers=admin_headers,
    )
    assert r.status_code == 400
    assert (
        await client.delete(f"{V3}/endpoints/{ep['id']}", headers=admin_headers)
    ).status_code == 204
    assert (
        await client.delete(f"{V3}/endpoints/{ep['id']}", headers=admin_headers)
    ).status_code == 404


async def test_catalog_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    for _ in range(3):
        await _service(client, admin_headers, type="paged")
    seen: list[str] = []
    url: str | None = f"{V3}/services?type=paged&limit=2"
    while url:
        body = (await client.get(url, headers=admin_headers)).json()
        seen += [s["id"] for s in body["services"]]
        url = body["links"]["next"]
    assert len(seen) == len(set(seen)) >= 3


async def test_catalog_policy(client: httpx.AsyncClient, demo_headers: H, admin_headers: H) -> None:
    svc = await _service(client, admin_headers)
    for method, path, body in (
        ("POST", "/services", {"service": {"type": "evil"}}),
        ("GET", "/services", None),
        ("GET", f"/services/{svc['id']}", None),
        ("PATCH", f"/services/{svc['id']}", {"service": {"name": "x"}}),
        ("DELETE", f"/services/{svc['id']}", None),
        (
            "POST",
            "/endpoints",
            {"endpoint": {"service_id": svc["id"], "interface": "public", "url": "http://evil"}},
        ),
        ("GET", "/endpoints", None),
        ("POST", "/regions", {"region": {"id": "evil"}}),
        ("PUT", "/regions/evil", {"region": {}}),
        ("PATCH", "/regions/RegionOne", {"region": {"description": "x"}}),
        ("DELETE", "/regions/RegionOne", None),
    ):
        r = await client.request(method, f"{V3}{path}", json=body, headers=demo_headers)
        assert r.status_code == 403, (method, path, r.text)
    # regions are readable by anyone with a token
    r = await client.get(f"{V3}/regions/RegionOne", headers=demo_headers)
    assert r.status_code == 200
    assert (await client.get(f"{V3}/regions", headers=demo_headers)).status_code == 200
    assert (await client.get(f"{V3}/regions")).status_code == 401
