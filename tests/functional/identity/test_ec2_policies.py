"""OS-EC2 credentials and the /v3/policies blob store, in-process; plus the 0002 migration."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from onestack.common.db import Database, alembic_config, head_revision
from onestack.identity.manager import MIGRATIONS
from onestack.identity.models import Credential
from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth

V3 = "/identity/v3"
H = dict[str, str]


async def _scope(client: httpx.AsyncClient, headers: H) -> tuple[str, str]:
    """(user id, project id) of the token in ``headers``."""
    r = await client.get(
        f"{V3}/auth/tokens", headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]}
    )
    token = r.json()["token"]
    return token["user"]["id"], token["project"]["id"]


def _ec2(user_id: str, access: str | None = None) -> str:
    base = f"{V3}/users/{user_id}/credentials/OS-EC2"
    return f"{base}/{access}" if access else base


async def _new_ec2(
    client: httpx.AsyncClient, headers: H, user_id: str, project_id: str
) -> dict[str, Any]:
    r = await client.post(_ec2(user_id), json={"tenant_id": project_id}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json()["credential"])


# -- OS-EC2 --------------------------------------------------------------------------------------
async def test_ec2_create_show_list_delete(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    admin, project = await _scope(client, admin_headers)
    cred = await _new_ec2(client, admin_headers, admin, project)
    assert set(cred) == {"user_id", "tenant_id", "access", "secret", "trust_id", "links"}
    assert cred["user_id"] == admin and cred["tenant_id"] == project
    assert cred["trust_id"] is None and cred["access"] != cred["secret"]
    assert cred["links"]["self"].endswith(_ec2(admin, cred["access"]).removeprefix("/identity"))

    # a regular credential of type ec2, id = sha256(access), blob encrypted at rest
    cred_id = hashlib.sha256(cred["access"].encode()).hexdigest()
    async with cloud.identity.manager.read() as s:
        row = await s.get(Credential, cred_id)
    assert row is not None and row.type == "ec2" and row.project_id == project
    assert cred["secret"] not in row.encrypted_blob
    r = await client.get(f"{V3}/credentials/{cred_id}", headers=admin_headers)
    assert r.status_code == 200
    assert json.loads(r.json()["credential"]["blob"])["secret"] == cred["secret"]

    r = await client.get(_ec2(admin, cred["access"]), headers=admin_headers)
    assert r.status_code == 200 and r.json()["credential"] == cred
    r = await client.get(_ec2(admin), headers=admin_headers)
    assert r.status_code == 200 and cred in r.json()["credentials"]
    assert r.json()["links"]["self"].endswith("/credentials/OS-EC2")

    r = await client.delete(_ec2(admin, cred["access"]), headers=admin_headers)
    assert r.status_code == 204
    for path in (_ec2(admin, cred["access"]), f"{V3}/credentials/{cred_id}"):
        assert (await client.get(path, headers=admin_headers)).status_code == 404
    r = await client.delete(_ec2(admin, cred["access"]), headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find credential: {cred['access']}."


async def test_ec2_list_pagination(client: httpx.AsyncClient, admin_headers: H) -> None:
    admin, project = await _scope(client, admin_headers)
    made = [await _new_ec2(client, admin_headers, admin, project) for _ in range(3)]
    r = await client.get(_ec2(admin), params={"limit": 2}, headers=admin_headers)
    body = r.json()
    assert len(body["credentials"]) == 2 and body["links"]["next"]
    r = await client.get(body["links"]["next"], headers=admin_headers)
    seen = {c["access"] for c in body["credentials"]} | {
        c["access"] for c in r.json()["credentials"]
    }
    assert {c["access"] for c in made} <= seen
    for c in made:
        await client.delete(_ec2(admin, c["access"]), headers=admin_headers)


async def test_ec2_member_owns_only_its_own(
    client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    admin, admin_project = await _scope(client, admin_headers)
    demo, demo_project = await _scope(client, demo_headers)
    mine = await _new_ec2(client, demo_headers, demo, demo_project)
    theirs = await _new_ec2(client, admin_headers, admin, admin_project)

    r = await client.get(_ec2(demo), headers=demo_headers)
    accesses = [c["access"] for c in r.json()["credentials"]]
    assert mine["access"] in accesses and theirs["access"] not in accesses
    # another user's path: 403 for every verb
    assert (await client.get(_ec2(admin), headers=demo_headers)).status_code == 403
    r = await client.get(_ec2(admin, theirs["access"]), headers=demo_headers)
    assert r.status_code == 403
    r = await client.delete(_ec2(admin, theirs["access"]), headers=demo_headers)
    assert r.status_code == 403
    r = await client.post(_ec2(admin), json={"tenant_id": demo_project}, headers=demo_headers)
    assert r.status_code == 403
    # someone else's access key under one's own path is simply not found
    r = await client.get(_ec2(demo, theirs["access"]), headers=demo_headers)
    assert r.status_code == 404
    r = await client.delete(_ec2(demo, theirs["access"]), headers=demo_headers)
    assert r.status_code == 404
    # a project the member holds no role on
    r = await client.post(_ec2(demo), json={"tenant_id": admin_project}, headers=demo_headers)
    assert r.status_code == 403
    # the cloud admin manages the member's credentials
    r = await client.get(_ec2(demo, mine["access"]), headers=admin_headers)
    assert r.status_code == 200 and r.json()["credential"]["secret"] == mine["secret"]
    assert (
        await client.delete(_ec2(demo, mine["access"]), headers=demo_headers)
    ).status_code == 204
    await client.delete(_ec2(admin, theirs["access"]), headers=admin_headers)


async def test_ec2_bad_input_and_unknowns(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    admin, project = await _scope(client, admin_headers)
    for body in ({}, {"tenant_id": ""}, {"tenant_id": 7}, {"tenant_id": project, "x": 1}):
        r = await client.post(_ec2(admin), json=body, headers=admin_headers)
        assert r.status_code == 400, body
    r = await client.post(_ec2(admin), content=b"{nope", headers=admin_headers)
    assert r.status_code == 400

    r = await client.post(_ec2("nobody"), json={"tenant_id": project}, headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Could not find user: nobody."
    r = await client.post(_ec2(admin), json={"tenant_id": "nowhere"}, headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Could not find project: nowhere."
    # a user with no role on the project gets no ec2 pair there, even from the admin
    user_id = await make_user(cloud, f"ec2-{uuid.uuid4().hex[:6]}", "pw-ec2-user")
    r = await client.post(_ec2(user_id), json={"tenant_id": project}, headers=admin_headers)
    assert r.status_code == 403
    assert (await client.get(_ec2(admin, "unknown"), headers=admin_headers)).status_code == 404
    assert (await client.get(_ec2(admin))).status_code == 401


async def test_ec2_token_of_new_user_and_generic_credentials(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    name = f"ec2-{uuid.uuid4().hex[:6]}"
    user_id = await make_user(cloud, name, "pw-ec2-user")
    headers = {
        "X-Auth-Token": await issue(client, password_auth(name, "pw-ec2-user", project="demo"))
    }
    _, demo_project = await _scope(client, headers)
    cred = await _new_ec2(client, headers, user_id, demo_project)
    # /v3/credentials shows the pair too, and an ec2 blob stored there shows in OS-EC2
    r = await client.get(f"{V3}/credentials", params={"type": "ec2"}, headers=headers)
    blobs = [json.loads(c["blob"]) for c in r.json()["credentials"]]
    assert [b["access"] for b in blobs] == [cred["access"]]
    blob = json.dumps({"access": f"AK-{name}", "secret": "s"})
    body = {"user_id": user_id, "type": "ec2", "blob": blob, "project_id": demo_project}
    r = await client.post(f"{V3}/credentials", json={"credential": body}, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.get(_ec2(user_id, f"AK-{name}"), headers=headers)
    assert r.status_code == 200
    got = r.json()["credential"]
    assert got["secret"] == "s" and got["tenant_id"] == demo_project and got["trust_id"] is None


# -- /v3/policies --------------------------------------------------------------------------------
POLICIES = f"{V3}/policies"


async def test_policy_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    rules = json.dumps({"identity:list_users": "role:admin"})
    body = {"policy": {"blob": rules, "type": "application/json", "owner": "ops"}}
    r = await client.post(POLICIES, json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    policy = r.json()["policy"]
    assert policy["blob"] == rules and policy["type"] == "application/json"
    assert policy["owner"] == "ops"
    assert policy["links"]["self"].endswith(f"/v3/policies/{policy['id']}")

    r = await client.get(f"{POLICIES}/{policy['id']}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["policy"] == policy
    yaml_body = {"policy": {"blob": "a: b", "type": "application/x-yaml"}}
    other = (await client.post(POLICIES, json=yaml_body, headers=admin_headers)).json()["policy"]
    r = await client.get(POLICIES, params={"type": "application/x-yaml"}, headers=admin_headers)
    ids = [p["id"] for p in r.json()["policies"]]
    assert other["id"] in ids and policy["id"] not in ids
    r = await client.get(POLICIES, params={"limit": 1}, headers=admin_headers)
    assert len(r.json()["policies"]) == 1 and r.json()["links"]["next"]

    change = {"policy": {"blob": "{}", "type": "text/plain", "id": "ignored", "owner": "dev"}}
    r = await client.patch(f"{POLICIES}/{policy['id']}", json=change, headers=admin_headers)
    assert r.status_code == 200, r.text
    updated = r.json()["policy"]
    assert (updated["id"], updated["blob"], updated["type"], updated["owner"]) == (
        policy["id"],
        "{}",
        "text/plain",
        "dev",
    )
    for p in (policy, other):
        r = await client.delete(f"{POLICIES}/{p['id']}", headers=admin_headers)
        assert r.status_code == 204
    r = await client.get(f"{POLICIES}/{policy['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find policy: {policy['id']}."


async def test_policy_bad_input_and_unknowns(client: httpx.AsyncClient, admin_headers: H) -> None:
    bad = [
        {"policy": {"type": "application/json"}},
        {"policy": {"blob": "{}"}},
        {"policy": {"blob": 5, "type": "application/json"}},
        {"policy": {"blob": "{}", "type": "x" * 256}},
        {"policy": {"blob": "{}", "type": ""}},
        {"policy": "nope"},
        {"blob": "{}", "type": "application/json"},
    ]
    for body in bad:
        r = await client.post(POLICIES, json=body, headers=admin_headers)
        assert r.status_code == 400, body
    created = await client.post(
        POLICIES, json={"policy": {"blob": "{}", "type": "t"}}, headers=admin_headers
    )
    url = f"{POLICIES}/{created.json()['policy']['id']}"
    for change in ({"blob": None}, {"type": None}, {"type": ""}):
        r = await client.patch(url, json={"policy": change}, headers=admin_headers)
        assert r.status_code == 400, change
    for verb in ("get", "delete"):
        r = await client.request(verb, f"{POLICIES}/missing", headers=admin_headers)
        assert r.status_code == 404
    r = await client.patch(f"{POLICIES}/missing", json={"policy": {}}, headers=admin_headers)
    assert r.status_code == 404
    r = await client.get(POLICIES, params={"sort_key": "blob"}, headers=admin_headers)
    assert r.status_code == 400
    assert (await client.delete(url, headers=admin_headers)).status_code == 204


async def test_policy_member_forbidden(
    client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    body = {"policy": {"blob": "{}", "type": "application/json"}}
    created = (await client.post(POLICIES, json=body, headers=admin_headers)).json()["policy"]
    url = f"{POLICIES}/{created['id']}"
    calls = [
        ("GET", POLICIES, None),
        ("POST", POLICIES, body),
        ("GET", url, None),
        ("PATCH", url, {"policy": {"blob": "x"}}),
        ("DELETE", url, None),
    ]
    for verb, path, payload in calls:
        r = await client.request(verb, path, json=payload, headers=demo_headers)
        assert r.status_code == 403, (verb, path)
    assert (await client.get(url, headers=admin_headers)).json()["policy"]["blob"] == "{}"
    assert (await client.delete(url, headers=admin_headers)).status_code == 204


# -- migration 0002 on top of 0001 ---------------------------------------------------------------
def _alembic(conn: Connection, action: str, revision: str) -> None:
    cfg = alembic_config(MIGRATIONS, "identity")
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _version(conn: Connection) -> str:
    return str(conn.execute(sa.text("SELECT version_num FROM alembic_version_identity")).scalar())


async def test_migration_0002_applies_on_top_of_0001(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'identity.sqlite'}", "identity", MIGRATIONS)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_alembic, "upgrade", "0001")
            assert "identity_policy" not in await conn.run_sync(_tables)
            await conn.execute(
                sa.text(
                    "INSERT INTO identity_domain (id, name, enabled, options, extra, created_at)"
                    " VALUES ('d1', 'old', 1, '{}', '{}', '2026-01-01 00:00:00')"
                )
            )
        await db.upgrade()
        async with db.engine.begin() as conn:
            assert "identity_policy" in await conn.run_sync(_tables)
            assert await conn.run_sync(_version) == head_revision(MIGRATIONS)
            name = await conn.execute(sa.text("SELECT name FROM identity_domain WHERE id='d1'"))
            assert name.scalar() == "old"
            await conn.run_sync(_alembic, "downgrade", "0001")
            assert "identity_policy" not in await conn.run_sync(_tables)
            assert await conn.run_sync(_version) == "0001"
    finally:
        await db.dispose()
