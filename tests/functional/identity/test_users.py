"""/v3/users, passwords, a user's projects, in-process."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from onestack.common.db import new_id, utcnow
from onestack.identity.models import (
    ApplicationCredential,
    Credential,
    GroupMembership,
    PasswordHistory,
    Trust,
    User,
)
from onestack.server import Cloud
from tests.conftest import password_auth
from tests.functional.identity.people_helpers import (
    PASSWORD,
    V3,
    all_pages,
    assignments_of,
    create,
    domain_admin,
    grant,
    unique,
    user_token,
)

BASE = f"{V3}/users"
H = dict[str, str]


async def can_use(client: httpx.AsyncClient, headers: H, user_id: str) -> int:
    """The status of the user reading themselves with ``headers``."""
    return (await client.get(f"{BASE}/{user_id}", headers=headers)).status_code


async def test_user_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    demo = (
        await client.get(f"{V3}/projects", params={"name": "demo"}, headers=admin_headers)
    ).json()["projects"][0]
    name = unique("u")
    r = await client.post(
        BASE,
        headers=admin_headers,
        json={
            "user": {
                "name": name,
                "password": PASSWORD,
                "email": "u@example.org",
                "description": "d",
                "default_project_id": demo["id"],
                "team": {"a": 1},
            }
        },
    )
    assert r.status_code == 201, r.text
    u = r.json()["user"]
    assert "password" not in u and "password_hash" not in u and "extra" not in u
    assert (u["email"], u["description"], u["team"]) == ("u@example.org", "d", {"a": 1})
    assert u["domain_id"] == "default" and u["enabled"] is True
    assert u["default_project_id"] == demo["id"]
    assert u["password_expires_at"] is None and u["options"] == {}
    assert u["links"]["self"].endswith(f"/v3/users/{u['id']}")

    r = await client.get(f"{BASE}/{u['id']}", headers=admin_headers)
    assert r.json()["user"] == u
    r = await client.get(BASE, params={"name": name}, headers=admin_headers)
    assert [x["id"] for x in r.json()["users"]] == [u["id"]]
    r = await client.get(BASE, params={"name": name, "domain_id": "other"}, headers=admin_headers)
    assert r.json()["users"] == []

    r = await client.patch(
        f"{BASE}/{u['id']}",
        headers=admin_headers,
        json={"user": {"name": name + "x", "email": "new@example.org", "default_project_id": None}},
    )
    assert r.status_code == 200, r.text
    v = r.json()["user"]
    assert (v["name"], v["email"], v["description"]) == (name + "x", "new@example.org", "d")
    assert "default_project_id" not in v

    # a user without a default project and no password is fine too
    bare = await create(client, admin_headers, "user", name=unique("bare"))
    assert "default_project_id" not in bare

    assert (await client.delete(f"{BASE}/{u['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{BASE}/{u['id']}", headers=admin_headers)
    assert r.status_code == 404 and r.json()["error"]["message"] == (
        f"Could not find user: {u['id']}."
    )
    assert (await client.delete(f"{BASE}/{u['id']}", headers=admin_headers)).status_code == 404


async def test_user_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    for body in (
        {"user": {}},
        {"user": {"name": ""}},
        {"user": {"name": "x" * 256}},
        {"user": {"name": "ok", "enabled": "yes"}},
        {"user": {"name": "ok", "password": 5}},
        {"user": {"name": "ok", "options": {"unknown_option": True}}},
        {"user": {"name": "ok", "options": {"lock_password": "yes"}}},
        {"user": {"name": "ok", "options": {"multi_factor_auth_rules": "password"}}},
        {"user": {"name": "ok", "default_project_id": "default"}},  # a domain
        {"user": {"name": "ok", "id": "chosen"}},
        {"user": {"name": "ok", "links": {}}},
        {"nope": {}},
    ):
        r = await client.post(BASE, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.post(
        BASE, json={"user": {"name": "ok", "domain_id": "missing"}}, headers=admin_headers
    )
    assert r.status_code == 404
    u = await create(client, admin_headers, "user", name=unique("dup"))
    r = await client.post(BASE, json={"user": {"name": u["name"]}}, headers=admin_headers)
    assert r.status_code == 409
    other = await create(client, admin_headers, "user", name=unique("dup"))
    r = await client.patch(
        f"{BASE}/{other['id']}", json={"user": {"name": u["name"]}}, headers=admin_headers
    )
    assert r.status_code == 409
    r = await client.patch(
        f"{BASE}/{u['id']}", json={"user": {"domain_id": "elsewhere"}}, headers=admin_headers
    )
    assert r.status_code == 400
    for bad in ("lt:not-a-time", "between:2020-01-01T00:00:00Z"):
        r = await client.get(BASE, params={"password_expires_at": bad}, headers=admin_headers)
        assert r.status_code == 400, bad


async def test_user_options(client: httpx.AsyncClient, admin_headers: H) -> None:
    u = await create(
        client,
        admin_headers,
        "user",
        name=unique("opt"),
        options={
            "ignore_password_expiry": True,
            "multi_factor_auth_rules": [["password", "totp"]],
            "lock_password": False,
        },
    )
    assert u["options"] == {
        "ignore_password_expiry": True,
        "lock_password": False,
        "multi_factor_auth_rules": [["password", "totp"]],
    }
    r = await client.patch(
        f"{BASE}/{u['id']}",
        headers=admin_headers,
        json={
            "user": {"options": {"ignore_password_expiry": None, "multi_factor_auth_enabled": True}}
        },
    )
    assert r.json()["user"]["options"] == {
        "lock_password": False,
        "multi_factor_auth_enabled": True,
        "multi_factor_auth_rules": [["password", "totp"]],
    }


async def test_user_password_change(client: httpx.AsyncClient, admin_headers: H) -> None:
    u = await create(client, admin_headers, "user", name=unique("pw"), password=PASSWORD)
    own = await user_token(client, u)
    assert await can_use(client, own, u["id"]) == 200
    url = f"{BASE}/{u['id']}/password"
    r = await client.post(
        url, headers=own, json={"user": {"original_password": "wrong", "password": "new-pw-1"}}
    )
    assert r.status_code == 401
    for body in ({"user": {"password": "x"}}, {"user": {"original_password": PASSWORD}}, {}):
        assert (await client.post(url, json=body, headers=own)).status_code == 400
    # the original password proves the call (as Keystone): without it even an admin may not
    r = await client.post(
        url, headers=admin_headers, json={"user": {"original_password": "wrong", "password": "x"}}
    )
    assert r.status_code == 401
    r = await client.post(
        url, headers=own, json={"user": {"original_password": PASSWORD, "password": "new-pw-1"}}
    )
    assert r.status_code == 204, r.text
    assert await can_use(client, own, u["id"]) == 401  # every old token is revoked
    r = await client.post(
        f"{V3}/auth/tokens", json=password_auth(u["name"], PASSWORD, user_domain="default")
    )
    assert r.status_code == 401
    await user_token(client, u, "new-pw-1")


async def test_admin_reset_and_disable_revoke(client: httpx.AsyncClient, admin_headers: H) -> None:
    u = await create(client, admin_headers, "user", name=unique("rv"), password=PASSWORD)
    own = await user_token(client, u)
    r = await client.patch(
        f"{BASE}/{u['id']}", json={"user": {"password": "reset-pw"}}, headers=admin_headers
    )
    assert r.status_code == 200
    assert await can_use(client, own, u["id"]) == 401
    own = await user_token(client, u, "reset-pw")
    assert await can_use(client, own, u["id"]) == 200
    await client.patch(
        f"{BASE}/{u['id']}", json={"user": {"enabled": False}}, headers=admin_headers
    )
    r = await client.post(
        f"{V3}/auth/tokens", json=password_auth(u["name"], "reset-pw", user_domain="default")
    )
    assert r.status_code == 401
    await client.patch(f"{BASE}/{u['id']}", json={"user": {"enabled": True}}, headers=admin_headers)
    assert await can_use(client, own, u["id"]) == 401  # revoked, not just disabled
    r = await client.get(BASE, params={"name": u["name"], "enabled": "true"}, headers=admin_headers)
    assert len(r.json()["users"]) == 1


async def test_password_rules(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = cloud.identity.manager.conf
    monkeypatch.setattr(conf, "password_regex", r"^(?=.*\d).{8,}$")
    monkeypatch.setattr(conf, "password_regex_description", "at least 8 characters and a digit")
    r = await client.post(
        BASE, json={"user": {"name": unique("rx"), "password": "short"}}, headers=admin_headers
    )
    assert r.status_code == 400
    assert "at least 8 characters and a digit" in r.json()["error"]["message"]

    monkeypatch.setattr(conf, "unique_last_password_count", 2)
    monkeypatch.setattr(conf, "password_expires_days", 10)
    u = await create(client, admin_headers, "user", name=unique("hist"), password="first-pw-1")
    expires = dt.datetime.fromisoformat(u["password_expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=9) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=10)
    url = f"{BASE}/{u['id']}/password"
    own = await user_token(client, u, "first-pw-1")
    r = await client.post(
        url,
        headers=own,
        json={"user": {"original_password": "first-pw-1", "password": "first-pw-1"}},
    )
    assert r.status_code == 400 and "previous password" in r.json()["error"]["message"]
    r = await client.post(
        url,
        headers=own,
        json={"user": {"original_password": "first-pw-1", "password": "second-pw-2"}},
    )
    assert r.status_code == 204
    r = await client.patch(
        f"{BASE}/{u['id']}", json={"user": {"password": "first-pw-1"}}, headers=admin_headers
    )
    assert r.status_code == 400  # still among the last two

    monkeypatch.setattr(conf, "minimum_password_age", 1)
    own = await user_token(client, u, "second-pw-2")
    r = await client.post(
        url,
        headers=own,
        json={"user": {"original_password": "second-pw-2", "password": "third-pw-3"}},
    )
    assert r.status_code == 400 and "minimum password age" in r.json()["error"]["message"]
    r = await client.patch(
        f"{BASE}/{u['id']}", json={"user": {"password": "third-pw-3"}}, headers=admin_headers
    )
    assert r.status_code == 200  # an admin reset is not held by the minimum age
    async with cloud.identity.manager.read() as s:
        rows = await s.execute(select(PasswordHistory).where(PasswordHistory.user_id == u["id"]))
        assert len(rows.all()) == 2  # only what the history rule needs is kept

    # expiry filters
    r = await client.get(
        BASE,
        headers=admin_headers,
        params={"name": u["name"], "password_expires_at": "gt:" + utcnow().isoformat() + "Z"},
    )
    assert [x["id"] for x in r.json()["users"]] == [u["id"]]
    r = await client.get(
        BASE,
        headers=admin_headers,
        params={"name": u["name"], "password_expires_at": "lt:" + utcnow().isoformat() + "Z"},
    )
    assert r.json()["users"] == []
    r = await client.patch(
        f"{BASE}/{u['id']}",
        headers=admin_headers,
        json={"user": {"options": {"ignore_password_expiry": True}}},
    )
    assert r.json()["user"]["password_expires_at"] is None

    locked = await create(
        client,
        admin_headers,
        "user",
        name=unique("lock"),
        password="locked-pw-1",
        options={"lock_password": True},
    )
    own = await user_token(client, locked, "locked-pw-1")
    r = await client.post(
        f"{BASE}/{locked['id']}/password",
        headers=own,
        json={"user": {"original_password": "locked-pw-1", "password": "other-pw-2"}},
    )
    assert r.status_code == 400


async def test_user_delete_cleans_up(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H
) -> None:
    u = await create(client, admin_headers, "user", name=unique("del"), password=PASSWORD)
    g = await create(client, admin_headers, "group", name=unique("g"))
    p = await create(client, admin_headers, "project", name=unique("p"))
    await client.put(f"{V3}/groups/{g['id']}/users/{u['id']}", headers=admin_headers)
    await grant(cloud, u["id"], p["id"])
    own = await user_token(client, u, project=p["id"])
    async with cloud.identity.manager.write() as s:
        s.add(
            Credential(
                id=new_id(), user_id=u["id"], type="ec2", encrypted_blob="x", key_hash="k", extra={}
            )
        )
        s.add(
            ApplicationCredential(
                id=new_id(),
                name="ac",
                secret_hash="x",
                user_id=u["id"],
                project_id=p["id"],
                access_rules=[],
            )
        )
        s.add(
            Trust(
                id=new_id(),
                trustor_user_id=u["id"],
                trustee_user_id="someone",
                project_id=p["id"],
                extra={},
            )
        )
    assert (await client.delete(f"{BASE}/{u['id']}", headers=admin_headers)).status_code == 204
    assert await assignments_of(cloud, u["id"]) == []
    async with cloud.identity.manager.read() as s:
        for model, column in (
            (GroupMembership, GroupMembership.user_id),
            (Credential, Credential.user_id),
            (ApplicationCredential, ApplicationCredential.user_id),
            (Trust, Trust.trustor_user_id),
            (PasswordHistory, PasswordHistory.user_id),
        ):
            rows = (await s.execute(select(model).where(column == u["id"]))).all()
            assert rows == [], model
        assert await s.get(User, u["id"]) is None
    assert (await client.get(f"{V3}/projects/{p['id']}", headers=own)).status_code == 401


async def test_user_projects_and_groups(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, demo_headers: H
) -> None:
    u = await create(client, admin_headers, "user", name=unique("up"), password=PASSWORD)
    direct = await create(client, admin_headers, "project", name=unique("direct"))
    via_group = await create(client, admin_headers, "project", name=unique("viagroup"))
    parent = await create(client, admin_headers, "project", name=unique("parent"))
    child = await create(
        client, admin_headers, "project", name=unique("child"), parent_id=parent["id"]
    )
    await create(client, admin_headers, "project", name=unique("unrelated"))
    dom = await create(client, admin_headers, "domain", name=unique("d"))
    in_dom = await create(
        client, admin_headers, "project", name=unique("indom"), domain_id=dom["id"]
    )
    g = await create(client, admin_headers, "group", name=unique("g"))
    await client.put(f"{V3}/groups/{g['id']}/users/{u['id']}", headers=admin_headers)
    await grant(cloud, u["id"], direct["id"])
    await grant(cloud, g["id"], via_group["id"], kind="GroupProject")
    await grant(cloud, u["id"], parent["id"], inherited=True)
    await grant(cloud, u["id"], dom["id"], kind="UserDomain", inherited=True)

    r = await client.get(f"{BASE}/{u['id']}/projects", headers=admin_headers)
    assert r.status_code == 200, r.text
    ids = {p["id"] for p in r.json()["projects"]}
    assert ids == {direct["id"], via_group["id"], child["id"], in_dom["id"]}
    own = await user_token(client, u)
    r = await client.get(f"{BASE}/{u['id']}/projects", params={"domain_id": dom["id"]}, headers=own)
    assert [p["id"] for p in r.json()["projects"]] == [in_dom["id"]]
    assert (await client.get(f"{BASE}/{u['id']}/projects", headers=demo_headers)).status_code == 403

    r = await client.get(f"{BASE}/{u['id']}/groups", headers=own)
    assert r.status_code == 200
    groups = r.json()["groups"]
    assert [x["id"] for x in groups] == [g["id"]]
    assert groups[0]["membership_expires_at"] is None
    assert (await client.get(f"{BASE}/{u['id']}/groups", headers=demo_headers)).status_code == 403
    assert (await client.get(f"{BASE}/missing/groups", headers=admin_headers)).status_code == 404


async def test_user_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    dom = await create(client, admin_headers, "domain", name=unique("pg"))
    for i in range(5):
        await create(client, admin_headers, "user", name=f"pg-{i}", domain_id=dom["id"])
    seen = await all_pages(client, f"{BASE}?limit=2&domain_id={dom['id']}", admin_headers, "users")
    assert sorted(seen) == [f"pg-{i}" for i in range(5)]


async def test_user_policy(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, demo_headers: H
) -> None:
    assert (await client.get(BASE)).status_code == 401
    assert (await client.get(BASE, headers=demo_headers)).status_code == 403
    r = await client.post(BASE, json={"user": {"name": "nope"}}, headers=demo_headers)
    assert r.status_code == 403
    users = (await client.get(BASE, headers=admin_headers)).json()["users"]
    demo = next(u for u in users if u["name"] == "demo")
    admin = next(u for u in users if u["name"] == "admin")
    assert (await client.get(f"{BASE}/{demo['id']}", headers=demo_headers)).status_code == 200
    for method, url in (
        ("GET", f"{BASE}/{admin['id']}"),
        ("GET", f"{BASE}/does-not-exist"),
        ("PATCH", f"{BASE}/{demo['id']}"),
        ("DELETE", f"{BASE}/{admin['id']}"),
        ("GET", f"{BASE}/{admin['id']}/projects"),
    ):
        r = await client.request(method, url, json={"user": {"name": "x"}}, headers=demo_headers)
        assert r.status_code == 403, (method, url, r.text)

    domain_id, headers = await domain_admin(client, cloud, admin_headers)
    r = await client.post(BASE, json={"user": {"name": "inside"}}, headers=headers)
    assert r.status_code == 201 and r.json()["user"]["domain_id"] == domain_id
    inside = r.json()["user"]
    r = await client.post(
        BASE, json={"user": {"name": unique("o"), "domain_id": "default"}}, headers=headers
    )
    assert r.status_code == 403
    listed = (await client.get(BASE, headers=headers)).json()["users"]
    assert {u["domain_id"] for u in listed} == {domain_id}
    assert (
        await client.get(BASE, params={"domain_id": "default"}, headers=headers)
    ).status_code == 403
    assert (await client.get(f"{BASE}/{demo['id']}", headers=headers)).status_code == 403
    assert (
        await client.patch(
            f"{BASE}/{demo['id']}", json={"user": {"enabled": False}}, headers=headers
        )
    ).status_code == 403
    r = await client.patch(
        f"{BASE}/{inside['id']}", json={"user": {"enabled": False}}, headers=headers
    )
    assert r.status_code == 200
    assert (await client.delete(f"{BASE}/{inside['id']}", headers=headers)).status_code == 204
