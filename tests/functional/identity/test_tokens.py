"""/v3/auth/tokens and friends, in-process."""

from __future__ import annotations

import datetime as dt

import httpx

from onestack.identity import revoke
from onestack.identity.models import Assignment, Role
from onestack.identity.token_formatter import TokenPayload, new_audit_id
from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth, password_of

TOKENS = "/identity/v3/auth/tokens"


async def test_version_discovery(client: httpx.AsyncClient) -> None:
    for path in ("/identity", "/identity/"):
        r = await client.get(path)
        assert r.status_code == 300
        (v3,) = r.json()["versions"]["values"]
        assert v3["id"].startswith("v3.") and v3["status"] == "stable"
        assert v3["links"][0]["href"] == "http://testserver/identity/v3/"
    r = await client.get("/identity/v3")
    assert r.status_code == 200 and r.json()["version"]["id"] == v3["id"]
    assert r.headers["x-openstack-request-id"].startswith("req-")


async def test_password_project_token(cloud: Cloud, client: httpx.AsyncClient) -> None:
    body = password_auth("admin", password_of(cloud, "admin"), project="admin")
    r = await client.post(TOKENS, json=body)
    assert r.status_code == 201
    token = r.json()["token"]
    assert token["methods"] == ["password"]
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert token["user"]["name"] == "admin" and token["user"]["domain"]["id"] == "default"
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader"}
    assert token["is_domain"] is False
    assert len(token["audit_ids"]) == 1 and len(token["audit_ids"][0]) == 22
    assert token["expires_at"].endswith("Z") and token["issued_at"].endswith("Z")
    expires = dt.datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    issued = dt.datetime.fromisoformat(token["issued_at"].replace("Z", "+00:00"))
    assert 3590 <= (expires - issued).total_seconds() <= 3601
    (identity,) = [s for s in token["catalog"] if s["type"] == "identity"]
    assert {e["interface"] for e in identity["endpoints"]} == {"public", "internal", "admin"}
    assert all(e["region_id"] == "RegionOne" for e in identity["endpoints"])


async def test_user_by_id_and_domain_by_name(cloud: Cloud, client: httpx.AsyncClient,
                                             admin_headers: dict[str, str]) -> None:
    r = await client.get(TOKENS, headers={**admin_headers,
                                          "X-Subject-Token": admin_headers["X-Auth-Token"]})
    user_id = r.json()["token"]["user"]["id"]
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user_id, "password": password_of(cloud, "admin")}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    r = await client.post(TOKENS, json=body)
    assert r.status_code == 201 and r.json()["token"]["user"]["id"] == user_id


async def test_unscoped_default_and_nocatalog(cloud: Cloud, client: httpx.AsyncClient) -> None:
    body = password_auth("demo", password_of(cloud, "demo"))
    # no scope: the default project, where demo holds a role
    r = await client.post(TOKENS, json=body)
    assert r.json()["token"]["project"]["name"] == "demo"
    body["auth"]["scope"] = "unscoped"
    r = await client.post(TOKENS, json=body)
    token = r.json()["token"]
    assert "project" not in token and "roles" not in token and "catalog" not in token
    body = password_auth("demo", password_of(cloud, "demo"), project="demo")
    r = await client.post(TOKENS + "?nocatalog", json=body)
    assert "catalog" not in r.json()["token"] and r.json()["token"]["roles"]


async def test_system_scope(cloud: Cloud, client: httpx.AsyncClient) -> None:
    body = password_auth("admin", password_of(cloud, "admin"), system=True)
    r = await client.post(TOKENS, json=body)
    assert r.status_code == 201
    assert r.json()["token"]["system"] == {"all": True}
    headers = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    r = await client.get("/identity/v3/domains", headers=headers)
    assert r.status_code == 200
    # demo has no system role
    r = await client.post(TOKENS, json=password_auth("demo", password_of(cloud, "demo"),
                                                     system=True))
    assert r.status_code == 401


async def test_domain_scope(cloud: Cloud, client: httpx.AsyncClient) -> None:
    mgr = cloud.identity.manager
    async with mgr.write() as s:
        from sqlalchemy import select

        from onestack.identity.models import User
        demo = (await s.execute(select(User).where(User.name == "demo"))).scalar_one()
        reader = (await s.execute(select(Role).where(Role.name == "reader"))).scalar_one()
        s.add(Assignment(type="UserDomain", actor_id=demo.id, target_id="default",
                         role_id=reader.id, inherited=False))
    r = await client.post(TOKENS, json=password_auth("demo", password_of(cloud, "demo"),
                                                     domain="default"))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["domain"] == {"id": "default", "name": "Default"}
    assert [x["name"] for x in token["roles"]] == ["reader"]
    async with mgr.write() as s:
        await s.delete(await s.get(Assignment, ("UserDomain", demo.id, "default", reader.id,
                                                False)))
    r = await client.get(TOKENS, headers={"X-Auth-Token": r.headers["X-Subject-Token"],
                                          "X-Subject-Token": r.headers["X-Subject-Token"]})
    assert r.status_code == 401  # the role is gone: the token no longer validates


async def test_failures_look_alike(cloud: Cloud, client: httpx.AsyncClient) -> None:
    wrong = await client.post(TOKENS, json=password_auth("admin", "wrong", project="admin"))
    ghost = await client.post(TOKENS, json=password_auth("ghost", "wrong", project="admin"))
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.json() == ghost.json()
    assert wrong.headers["www-authenticate"] == 'Keystone uri="http://127.0.0.1:8999/identity"'
    no_role = await client.post(TOKENS, json=password_auth("demo", password_of(cloud, "demo"),
                                                           project="admin"))
    assert no_role.status_code == 401


async def test_bad_auth_bodies(cloud: Cloud, client: httpx.AsyncClient) -> None:
    pw = password_of(cloud, "admin")
    cases = [
        ({"auth": {}}, 400),
        ({"auth": {"identity": {"methods": []}}}, 400),
        ({"auth": {"identity": {"methods": ["password"]}}}, 400),
        ({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}, 401),
        ({"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "admin", "password": pw}}}}}, 400),  # name without domain
        ({"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": 5, "domain": {"id": "default"}, "password": pw}}}}}, 400),
        ({**password_auth("admin", pw), "auth": {**password_auth("admin", pw)["auth"],
          "scope": {"project": {"id": "x"}, "domain": {"id": "default"}}}}, 400),
        ({**password_auth("admin", pw), "auth": {**password_auth("admin", pw)["auth"],
          "scope": {"project": {"id": "nope"}}}}, 401),
        ({**password_auth("admin", pw), "auth": {**password_auth("admin", pw)["auth"],
          "scope": {"system": {"some": True}}}}, 400),
    ]
    for body, status in cases:
        r = await client.post(TOKENS, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["code"] == status
    r = await client.post(TOKENS, content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413 and r.json()["error"]["code"] == 413


async def test_validate_check_revoke(cloud: Cloud, client: httpx.AsyncClient,
                                     admin_headers: dict[str, str],
                                     demo_headers: dict[str, str]) -> None:
    await make_user(cloud, "validated-user", "validated-pw")
    token = await issue(client, password_auth("validated-user", "validated-pw", project="demo"))
    own = {"X-Auth-Token": token, "X-Subject-Token": token}
    r = await client.get(TOKENS, headers=own)
    assert r.status_code == 200 and r.headers["X-Subject-Token"] == token
    assert (await client.head(TOKENS, headers=own)).status_code == 200
    # another user's token: only admins and services may look at it
    other = {**demo_headers, "X-Subject-Token": admin_headers["X-Auth-Token"]}
    assert (await client.get(TOKENS, headers=other)).status_code == 403
    r = await client.get(TOKENS, headers={**admin_headers, "X-Subject-Token": token})
    assert r.status_code == 200 and r.json()["token"]["user"]["name"] == "validated-user"
    r = await client.get(TOKENS, headers={**admin_headers, "X-Subject-Token": "garbage"})
    assert r.status_code == 404
    r = await client.delete(TOKENS, headers={**admin_headers, "X-Subject-Token": token})
    assert r.status_code == 204
    r = await client.get(TOKENS, headers={**admin_headers, "X-Subject-Token": token})
    assert r.status_code == 404
    r = await client.get("/identity/v3/domains/default", headers={"X-Auth-Token": token})
    assert r.status_code == 401
    # a fresh token issued right after (same second) is not caught by the revocation
    fresh = await issue(client, password_auth("validated-user", "validated-pw",
                                              project="demo"))
    r = await client.get("/identity/v3/domains/default", headers={"X-Auth-Token": fresh})
    assert r.status_code == 200


async def test_revoking_a_user_spares_tokens_issued_after(cloud: Cloud,
                                                          client: httpx.AsyncClient) -> None:
    pw = "revoke-me-pw"
    user_id = await make_user(cloud, "revoked-user", pw)
    before = await issue(client, password_auth("revoked-user", pw, project="demo"))
    async with cloud.identity.manager.write() as s:
        await revoke.revoke(s, user_id=user_id)
    after = await issue(client, password_auth("revoked-user", pw, project="demo"))
    assert (await client.get("/identity/v3/domains/default",
                             headers={"X-Auth-Token": before})).status_code == 401
    assert (await client.get("/identity/v3/domains/default",
                             headers={"X-Auth-Token": after})).status_code == 200


async def test_rescope_with_token_method(cloud: Cloud, client: httpx.AsyncClient) -> None:
    body = password_auth("admin", password_of(cloud, "admin"))
    body["auth"]["scope"] = "unscoped"
    r = await client.post(TOKENS, json=body)
    unscoped, parent = r.headers["X-Subject-Token"], r.json()["token"]
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}},
                        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    r = await client.post(TOKENS, json=rescope)
    assert r.status_code == 401  # admin holds no role on demo
    rescope["auth"]["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    r = await client.post(TOKENS, json=rescope)
    assert r.status_code == 201
    child = r.json()["token"]
    # as Keystone: a rescoped token keeps the methods that proved its parent
    assert sorted(child["methods"]) == ["password", "token"]
    assert child["audit_ids"][1] == parent["audit_ids"][0]
    assert child["expires_at"] == parent["expires_at"]
    bad = {"auth": {"identity": {"methods": ["token"], "token": {"id": "garbage"}}}}
    assert (await client.post(TOKENS, json=bad)).status_code == 401


async def test_expired_token(cloud: Cloud, client: httpx.AsyncClient,
                             admin_headers: dict[str, str]) -> None:
    info = await cloud.identity.tokens.validate(admin_headers["X-Auth-Token"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    expired = cloud.identity.manager.formatter.create(TokenPayload(
        info.user_id, ["password"], past, [new_audit_id()], project_id=info.payload.project_id))
    r = await client.get("/identity/v3/domains", headers={"X-Auth-Token": expired})
    assert r.status_code == 401
    r = await client.get(TOKENS, headers={**admin_headers, "X-Subject-Token": expired})
    assert r.status_code == 404
    r = await client.get(TOKENS + "?allow_expired=1",
                         headers={**admin_headers, "X-Subject-Token": expired})
    assert r.status_code == 200


async def test_auth_catalog_projects_domains_system(client: httpx.AsyncClient,
                                                   admin_headers: dict[str, str],
                                                   demo_headers: dict[str, str]) -> None:
    r = await client.get("/identity/v3/auth/catalog", headers=admin_headers)
    assert any(s["type"] == "identity" for s in r.json()["catalog"])
    r = await client.get("/identity/v3/auth/projects", headers=demo_headers)
    assert [p["name"] for p in r.json()["projects"]] == ["demo"]
    r = await client.get("/identity/v3/auth/system", headers=admin_headers)
    assert r.json()["system"] == [{"all": True}]
    r = await client.get("/identity/v3/auth/system", headers=demo_headers)
    assert r.json()["system"] == []
    r = await client.get("/identity/v3/auth/domains", headers=demo_headers)
    assert r.status_code == 200 and "domains" in r.json()


async def test_lockout(cloud: Cloud, client: httpx.AsyncClient) -> None:
    conf = cloud.identity.manager.conf
    conf.lockout_failure_attempts, conf.lockout_duration = 2, 600
    try:
        pw = password_of(cloud, "demo")
        for _ in range(2):
            r = await client.post(TOKENS, json=password_auth("demo", "wrong", project="demo"))
            assert r.status_code == 401
        r = await client.post(TOKENS, json=password_auth("demo", pw, project="demo"))
        assert r.status_code == 401 and "locked" in r.json()["error"]["message"]
    finally:
        conf.lockout_failure_attempts = None
        async with cloud.identity.manager.write() as s:
            from sqlalchemy import update

            from onestack.identity.models import User
            await s.execute(update(User).values(failed_auth_count=0, failed_auth_at=None))
    r = await client.post(TOKENS, json=password_auth("demo", pw, project="demo"))
    assert r.status_code == 201
