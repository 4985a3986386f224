"""/v3/domains in-process."""

from __future__ import annotations

import httpx

BASE = "/identity/v3/domains"


async def test_domain_crud(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post(BASE, json={"domain": {"name": "d-crud", "description": "x"}},
                          headers=admin_headers)
    assert r.status_code == 201, r.text
    domain = r.json()["domain"]
    assert domain["enabled"] is True and domain["links"]["self"].endswith(domain["id"])

    r = await client.get(f"{BASE}/{domain['id']}", headers=admin_headers)
    assert r.json()["domain"]["name"] == "d-crud"
    r = await client.head(f"{BASE}/{domain['id']}", headers=admin_headers)
    assert r.status_code == 200  # HEAD answers like GET
    r = await client.get(BASE, params={"name": "d-crud"}, headers=admin_headers)
    assert [d["id"] for d in r.json()["domains"]] == [domain["id"]]

    r = await client.delete(f"{BASE}/{domain['id']}", headers=admin_headers)
    assert r.status_code == 403  # enabled domains cannot be deleted
    r = await client.patch(f"{BASE}/{domain['id']}", json={"domain": {"enabled": False}},
                           headers=admin_headers)
    assert r.json()["domain"]["enabled"] is False
    assert (await client.delete(f"{BASE}/{domain['id']}", headers=admin_headers)
            ).status_code == 204
    r = await client.get(f"{BASE}/{domain['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == 404


async def test_domain_bad_input(client: httpx.AsyncClient, admin_headers: dict[str, str]
                                ) -> None:
    for body in ({"domain": {}}, {"domain": {"name": ""}}, {"domain": {"name": "x" * 65}},
                 {"domain": {"name": "ok", "enabled": "yes"}}, {"nope": 1}, [1]):
        r = await client.post(BASE, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["title"] == "Bad Request"
    r = await client.post(BASE, content=b"{not json", headers=admin_headers)
    assert r.status_code == 400
    await client.post(BASE, json={"domain": {"name": "dup"}}, headers=admin_headers)
    r = await client.post(BASE, json={"domain": {"name": "dup"}}, headers=admin_headers)
    assert r.status_code == 409


async def test_domain_pagination(client: httpx.AsyncClient, admin_headers: dict[str, str]
                                 ) -> None:
    for i in range(5):
        await client.post(BASE, json={"domain": {"name": f"page-{i}"}}, headers=admin_headers)
    seen: list[str] = []
    url: str | None = f"{BASE}?limit=2"
    while url:
        r = await client.get(url, headers=admin_headers)
        body = r.json()
        seen += [d["name"] for d in body["domains"]]
        url = body["links"]["next"]
    assert sorted(n for n in seen if n.startswith("page-")) == [f"page-{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


async def test_domain_policy(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> None:
    r = await client.get(BASE, headers=demo_headers)
    assert r.status_code == 403
    r = await client.post(BASE, json={"domain": {"name": "nope"}}, headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{BASE}/default", headers=demo_headers)
    assert r.status_code == 200  # one's own domain is visible
    r = await client.get(BASE)
    assert r.status_code == 401


async def test_deep_body_with_nul(client: httpx.AsyncClient, admin_headers: dict[str, str]
                                  ) -> None:
    """Nesting past Python's recursion limit (orjson allows 1024) is still a clean 400."""
    body = '{"domain": {"name": "deep", "options": ' + '{"a": ' * 1020 + '"x\\u0000"' \
        + "}" * 1020 + "}}"
    r = await client.post(BASE, content=body.encode(), headers=admin_headers)
    assert r.status_code == 400 and "NUL" in r.json()["error"]["message"]
