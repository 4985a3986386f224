"""/v3/users/{id}/application_credentials and access_rules in-process, and logging in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from onestack.identity.models import ApplicationCredential
from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth

V3 = "/identity/v3"
TOKENS = f"{V3}/auth/tokens"
H = dict[str, str]


def _app_cred_auth(
    secret: str, *, cred_id: str | None = None, name: str | None = None, user_id: str | None = None
) -> dict[str, Any]:
    method: dict[str, Any] = {"secret": secret}
    if cred_id:
        method["id"] = cred_id
    else:
        method.update(name=name, user={"id": user_id})
    return {
        "auth": {
            "identity": {"methods": ["application_credential"], "application_credential": method}
        }
    }


async def _user(cloud: Cloud, client: httpx.AsyncClient, name: str) -> tuple[str, H]:
    """A member of the demo project and its project-scoped token."""
    uid = await make_user(cloud, name, f"pw-{name}")
    token = await issue(client, password_auth(name, f"pw-{name}", project="demo"))
    return uid, {"X-Auth-Token": token}


async def _create(client: httpx.AsyncClient, uid: str, headers: H, **fields: Any) -> httpx.Response:
    return await client.post(
        f"{V3}/users/{uid}/application_credentials",
        json={"application_credential": fields},
        headers=headers,
    )


async def test_create_and_login(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> None:
    uid, headers = await _user(cloud, client, "ac-login")
    r = await _create(
        client, uid, headers, name="monitoring", description="for cron", roles=[{"name": "reader"}]
    )
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    assert len(cred["secret"]) >= 64 and cred["unrestricted"] is False
    assert [x["name"] for x in cred["roles"]] == ["reader"]
    assert cred["roles"][0]["domain_id"] is None
    assert cred["description"] == "for cron" and cred["expires_at"] is None
    assert cred["links"]["self"].endswith(f"/users/{uid}/application_credentials/{cred['id']}")
    async with cloud.identity.manager.read() as s:
        row = (
            await s.execute(
                select(ApplicationCredential).where(ApplicationCredential.id == cred["id"])
            )
        ).scalar_one()
    assert row.secret_hash.startswith("$2") and cred["secret"] not in row.secret_hash

    # the secret is never shown again
    r = await client.get(f"{V3}/users/{uid}/application_credentials/{cred['id']}", headers=headers)
    assert r.status_code == 200 and "secret" not in r.json()["application_credential"]

    # log in with it, by id and by name + user: scoped to its project with its roles only
    for body in (
        _app_cred_auth(cred["secret"], cred_id=cred["id"]),
        _app_cred_auth(cred["secret"], name="monitoring", user_id=uid),
    ):
        r = await client.post(TOKENS, json=body)
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert token["project"]["name"] == "demo" and token["user"]["id"] == uid
        assert [x["name"] for x in token["roles"]] == ["reader"]
        assert token["application_credential"] == {
            "id": cred["id"],
            "name": "monitoring",
            "restricted": True,
        }
        assert token["methods"] == ["application_credential"]
    r = await client.post(TOKENS, json=_app_cred_auth("wrong", cred_id=cred["id"]))
    assert r.status_code == 401
    app_token = await issue(client, _app_cred_auth(cred["secret"], cred_id=cred["id"]))

    # a restricted one cannot make another, nor delete one
    r = await _create(client, uid, {"X-Auth-Token": app_token}, name="child")
    assert r.status_code == 403
    r = await client.delete(
        f"{V3}/users/{uid}/application_credentials/{cred['id']}",
        headers={"X-Auth-Token": app_token},
    )
    assert r.status_code == 403

    # deleting it invalidates its tokens
    check = {**admin_headers, "X-Subject-Token": app_token}
    assert (await client.get(TOKENS, headers=check)).status_code == 200
    r = await client.delete(
        f"{V3}/users/{uid}/application_credentials/{cred['id']}", headers=headers
    )
    assert r.status_code == 204
    assert (await client.get(TOKENS, headers=check)).status_code == 404
    r = await client.post(TOKENS, json=_app_cred_auth(cred["secret"], cred_id=cred["id"]))
    assert r.status_code == 401
    r = await client.get(f"{V3}/users/{uid}/application_credentials/{cred['id']}", headers=headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == (f"Could not find application credential: {cred['id']}.")


async def test_defaults_and_unrestricted(cloud: Cloud, client: httpx.AsyncClient) -> None:
    uid, headers = await _user(cloud, client, "ac-default")
    r = await _create(
        client, uid, headers, name="all-roles", secret="my-own-secret", unrestricted=True, roles=[]
    )
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    assert cred["secret"] == "my-own-secret"
    assert sorted(x["name"] for x in cred["roles"]) == ["member", "reader"]
    token = await issue(client, _app_cred_auth("my-own-secret", cred_id=cred["id"]))
    # unrestricted: it may create another one
    r = await _create(client, uid, {"X-Auth-Token": token}, name="grandchild")
    assert r.status_code == 201, r.text


async def test_expiry(cloud: Cloud, client: httpx.AsyncClient) -> None:
    uid, headers = await _user(cloud, client, "ac-expiry")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    r = await _create(client, uid, headers, name="old", expires_at=past)
    assert r.status_code == 400
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    r = await _create(
        client, uid, headers, name="soon", expires_at=soon.strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    assert cred["expires_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M:%S"))
    r = await client.post(TOKENS, json=_app_cred_auth(cred["secret"], cred_id=cred["id"]))
    expires = dt.datetime.fromisoformat(r.json()["token"]["expires_at"].replace("Z", "+00:00"))
    assert expires <= soon  # a token never outlives its application credential


async def test_create_rules(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> None:
    uid, headers = await _user(cloud, client, "ac-rules")
    other, _ = await _user(cloud, client, "ac-rules-other")
    # a role the user does not hold on the project
    r = await _create(client, uid, headers, name="x", roles=[{"name": "admin"}])
    assert r.status_code == 400
    r = await _create(client, uid, headers, name="x", roles=[{"name": "no-such-role"}])
    assert r.status_code == 404
    r = await _create(client, uid, headers, name="x", roles=[{"id": "no-such-id"}])
    assert r.status_code == 404
    # only for oneself
    r = await _create(client, other, headers, name="x")
    assert r.status_code == 403
    r = await _create(client, other, admin_headers, name="x")
    assert r.status_code == 403
    # only from a project-scoped token
    unscoped = password_auth("ac-rules", "pw-ac-rules")
    unscoped["auth"]["scope"] = "unscoped"
    r = await _create(client, uid, {"X-Auth-Token": await issue(client, unscoped)}, name="x")
    assert r.status_code == 400
    for fields in (
        {},
        {"name": ""},
        {"name": "x", "unrestricted": "yes"},
        {"name": "x", "bogus": 1},
        {"name": "x", "roles": "member"},
        {"name": "x", "access_rules": [{"service": "compute", "path": "/s", "method": "FETCH"}]},
    ):
        r = await _create(client, uid, headers, **fields)
        assert r.status_code == 400, fields
    assert (await _create(client, uid, headers, name="dup")).status_code == 201
    assert (await _create(client, uid, headers, name="dup")).status_code == 409
    r = await client.get(
        f"{V3}/users/{uid}/application_credentials", params={"name": "dup"}, headers=headers
    )
    assert [c["name"] for c in r.json()["application_credentials"]] == ["dup"]


async def test_list_and_policy(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    uid, headers = await _user(cloud, client, "ac-list")
    for name in ("one", "two", "three"):
        await _create(client, uid, headers, name=name)
    names: list[str] = []
    url: str | None = f"{V3}/users/{uid}/application_credentials?limit=2"
    while url:
        body = (await client.get(url, headers=headers)).json()
        names += [c["name"] for c in body["application_credentials"]]
        url = body["links"]["next"]
    assert sorted(names) == ["one", "three", "two"]
    # an admin may look, another user may not
    r = await client.get(f"{V3}/users/{uid}/application_credentials", headers=admin_headers)
    assert len(r.json()["application_credentials"]) == 3
    cred_id = r.json()["application_credentials"][0]["id"]
    for method in ("GET", "DELETE"):
        r = await client.request(
            method, f"{V3}/users/{uid}/application_credentials/{cred_id}", headers=demo_headers
        )
        assert r.status_code == 403, method
    r = await client.get(f"{V3}/users/{uid}/application_credentials", headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{V3}/users/{uid}/application_credentials/missing", headers=headers)
    assert r.status_code == 404


async def test_access_rules(cloud: Cloud, client: httpx.AsyncClient, demo_headers: H) -> None:
    uid, headers = await _user(cloud, client, "ac-access")
    rule = {"service": "compute", "path": "/v2.1/servers", "method": "GET"}
    r = await _create(client, uid, headers, name="limited", access_rules=[rule])
    assert r.status_code == 201, r.text
    (stored,) = r.json()["application_credential"]["access_rules"]
    assert {k: stored[k] for k in rule} == rule and stored["id"]
    # the same rule again reuses the same id
    r = await _create(client, uid, headers, name="limited-2", access_rules=[rule])
    assert r.json()["application_credential"]["access_rules"][0]["id"] == stored["id"]
    r = await client.get(f"{V3}/users/{uid}/access_rules", headers=headers)
    (listed,) = r.json()["access_rules"]
    assert listed["id"] == stored["id"] and listed["links"]["self"].endswith(stored["id"])
    r = await client.get(f"{V3}/users/{uid}/access_rules/{stored['id']}", headers=headers)
    assert r.json()["access_rule"]["path"] == "/v2.1/servers"
    r = await client.delete(f"{V3}/users/{uid}/access_rules/{stored['id']}", headers=headers)
    assert r.status_code == 403  # in use by an application credential
    r = await client.get(f"{V3}/users/{uid}/access_rules/nope", headers=headers)
    assert r.status_code == 404
    r = await client.get(f"{V3}/users/{uid}/access_rules", headers=demo_headers)
    assert r.status_code == 403
