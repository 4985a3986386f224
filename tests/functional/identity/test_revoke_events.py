"""/v3/OS-REVOKE/events: revocation events as Keystone lists them."""

from __future__ import annotations

import datetime as dt

import httpx

from onestack.server import Cloud
from tests.conftest import issue, password_auth, password_of
from tests.functional.identity.assignment_helpers import V3, add_user, headers_for
from tests.functional.identity.people_helpers import grant

URL = f"{V3}/OS-REVOKE/events"


async def test_revoked_token_is_listed(client: httpx.AsyncClient, cloud: Cloud,
                                       admin_headers: dict[str, str]) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    token = await issue(client, password_auth("demo", password_of(cloud, "demo"),
                                              project="demo"))
    audit_id = (await client.get(f"{V3}/auth/tokens", headers={
        **admin_headers, "X-Subject-Token": token})).json()["token"]["audit_ids"][0]
    r = await client.delete(f"{V3}/auth/tokens",
                            headers={**admin_headers, "X-Subject-Token": token})
    assert r.status_code == 204
    r = await client.get(URL, headers=admin_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["links"]["self"].endswith("/v3/OS-REVOKE/events")
    assert body["links"]["next"] is None
    mine = [e for e in body["events"] if e.get("audit_id") == audit_id]
    assert len(mine) == 1
    event = mine[0]
    assert set(event) == {"audit_id", "issued_before", "revoked_at"}
    assert event["revoked_at"].endswith("Z") and len(event["revoked_at"]) == 27

    since = before.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = await client.get(URL, params={"since": since}, headers=admin_headers)
    assert audit_id in [e.get("audit_id") for e in r.json()["events"]]
    assert all(e["revoked_at"] > since for e in r.json()["events"])
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    r = await client.get(URL, params={"since": later}, headers=admin_headers)
    assert r.json()["events"] == []


async def test_user_and_project_events(client: httpx.AsyncClient, cloud: Cloud,
                                       admin_headers: dict[str, str]) -> None:
    user = await add_user(cloud)
    r = await client.patch(f"{V3}/users/{user}", json={"user": {"enabled": False}},
                           headers=admin_headers)
    assert r.status_code == 200
    events = (await client.get(URL, headers=admin_headers)).json()["events"]
    assert any(e.get("user_id") == user for e in events)


async def test_bad_since_and_policy(client: httpx.AsyncClient, cloud: Cloud,
                                    admin_headers: dict[str, str],
                                    demo_headers: dict[str, str]) -> None:
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "x" * 300):
        r = await client.get(URL, params={"since": bad}, headers=admin_headers)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["code"] == 400
    assert (await client.get(URL, headers=demo_headers)).status_code == 403
    reader = await add_user(cloud)
    await grant(cloud, reader, "system", "reader", "UserSystem")
    r = await client.get(URL, headers=await headers_for(client, reader, system=True))
    assert r.status_code == 403  # Keystone: service users and admins only
    service = await add_user(cloud)
    await grant(cloud, service, "system", "service", "UserSystem")
    r = await client.get(URL, headers=await headers_for(client, service, system=True))
    assert r.status_code == 200
    assert (await client.get(URL)).status_code == 401
