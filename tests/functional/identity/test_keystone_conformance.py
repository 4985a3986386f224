"""Behaviour that matches Keystone's where Tempest and other clients depend on it (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from onestack.common.db import Database, alembic_config
from onestack.identity.manager import MIGRATIONS
from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    PASSWORD,
    V3,
    add_project,
    add_user,
    headers_for,
    role_id,
    unique,
)

H = dict[str, str]
TOKENS = f"{V3}/auth/tokens"


async def _member_of_new_project(cloud: Cloud, client: httpx.AsyncClient) -> tuple[str, str, H]:
    """A new user with the member role on a new project: (user, project, its token)."""
    user, project = await add_user(cloud), await add_project(cloud)
    member = await role_id(cloud, "member")
    from onestack.identity.models import Assignment

    async with cloud.identity.manager.write() as s:
        s.add(Assignment(type="UserProject", actor_id=user, target_id=project, role_id=member,
                         inherited=False))
    return user, project, await headers_for(client, user, project_id=project)


# -- tokens ---------------------------------------------------------------------------------------
async def test_revoked_token_validate_and_check_answer_404(
    cloud: Cloud, client: httpx.AsyncClient
) -> None:
    """A user validating their own revoked token gets 404, as from Keystone (not 403)."""
    _user, _project, own = await _member_of_new_project(cloud, client)
    r = await client.post(TOKENS, json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": own["X-Auth-Token"]}}}})
    other = r.headers["X-Subject-Token"]
    subject = {**own, "X-Subject-Token": other}
    assert (await client.get(TOKENS, headers=subject)).status_code == 200
    assert (await client.delete(TOKENS, headers=subject)).status_code == 204
    r = await client.get(TOKENS, headers=subject)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == 404
    assert (await client.head(TOKENS, headers=subject)).status_code == 404
    r = await client.get(TOKENS, headers={**own, "X-Subject-Token": "garbage"})
    assert r.status_code == 404


async def test_rescoped_password_token_keeps_its_methods(
    cloud: Cloud, client: httpx.AsyncClient
) -> None:
    user, project, _own = await _member_of_new_project(cloud, client)
    r = await client.post(TOKENS, json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"id": user, "password": PASSWORD}}}}})
    unscoped = r.headers["X-Subject-Token"]
    r = await client.post(TOKENS, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"project": {"id": project}}}})
    assert r.status_code == 201, r.text
    assert sorted(r.json()["token"]["methods"]) == ["password", "token"]
    # and a token rescoped from that one still says both
    r = await client.post(TOKENS, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": r.headers["X-Subject-Token"]}},
        "scope": {"project": {"id": project}}}})
    assert sorted(r.json()["token"]["methods"]) == ["password", "token"]


# -- application credentials and access rules ------------------------------------------------------
async def test_app_cred_expires_at_in_keystones_format(
    cloud: Cloud, client: httpx.AsyncClient
) -> None:
    user, _project, own = await _member_of_new_project(cloud, client)
    url = f"{V3}/users/{user}/application_credentials"
    for sent, shown in (
        ("2031-01-02T03:04:05.123456", "2031-01-02T03:04:05.123456"),
        ("2031-01-02T03:04:05.123456Z", "2031-01-02T03:04:05.123456"),
        ("2031-01-02T04:04:05+01:00", "2031-01-02T03:04:05.000000"),
    ):
        body = {"application_credential": {"name": unique("ac"), "expires_at": sent}}
        r = await client.post(url, json=body, headers=own)
        assert r.status_code == 201, r.text
        assert r.json()["application_credential"]["expires_at"] == shown
        cred_id = r.json()["application_credential"]["id"]
        r = await client.get(f"{url}/{cred_id}", headers=own)
        assert r.json()["application_credential"]["expires_at"] == shown
    body = {"application_credential": {"name": unique("ac")}}
    r = await client.post(url, json=body, headers=own)
    assert r.json()["application_credential"]["expires_at"] is None


async def test_access_rules_outlive_their_application_credential(
    cloud: Cloud, client: httpx.AsyncClient
) -> None:
    user, _project, own = await _member_of_new_project(cloud, client)
    creds, rules = f"{V3}/users/{user}/application_credentials", f"{V3}/users/{user}/access_rules"
    rule = {"service": "compute", "path": "/v2.1/servers", "method": "GET"}
    r = await client.post(creds, headers=own, json={"application_credential": {
        "name": unique("ac"), "access_rules": [rule]}})
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    rule_id = cred["access_rules"][0]["id"]
    # in use: refused, and nothing changes
    assert (await client.delete(f"{rules}/{rule_id}", headers=own)).status_code == 403
    assert (await client.delete(f"{creds}/{cred['id']}", headers=own)).status_code == 204
    r = await client.get(rules, headers=own)
    assert [x["id"] for x in r.json()["access_rules"]] == [rule_id]
    r = await client.get(f"{rules}/{rule_id}", headers=own)
    assert r.status_code == 200 and r.json()["access_rule"]["path"] == "/v2.1/servers"
    # a new credential may name the surviving rule by id
    r = await client.post(creds, headers=own, json={"application_credential": {
        "name": unique("ac"), "access_rules": [{"id": rule_id}]}})
    assert r.status_code == 201, r.text
    second = r.json()["application_credential"]["id"]
    assert (await client.delete(f"{rules}/{rule_id}", headers=own)).status_code == 403
    await client.delete(f"{creds}/{second}", headers=own)
    assert (await client.delete(f"{rules}/{rule_id}", headers=own)).status_code == 204
    assert (await client.get(f"{rules}/{rule_id}", headers=own)).status_code == 404
    assert (await client.get(rules, headers=own)).json()["access_rules"] == []


# -- catalog -------------------------------------------------------------------------------------
async def _service(client: httpx.AsyncClient, admin: H) -> str:
    r = await client.post(f"{V3}/services", headers=admin,
                          json={"service": {"type": unique("t"), "name": unique("s")}})
    return str(r.json()["service"]["id"])


async def test_endpoint_with_legacy_region_creates_the_region(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    service, region = await _service(client, admin_headers), unique("legacy")
    body = {"endpoint": {"service_id": service, "interface": "public",
                         "url": "http://example.test/", "region": region}}
    r = await client.post(f"{V3}/endpoints", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    endpoint = r.json()["endpoint"]
    assert endpoint["region_id"] == endpoint["region"] == region
    assert (await client.get(f"{V3}/regions/{region}", headers=admin_headers)).status_code == 200
    # the same on update, and an existing region is simply used
    newer = unique("legacy")
    for name in (newer, region):
        r = await client.patch(f"{V3}/endpoints/{endpoint['id']}", headers=admin_headers,
                               json={"endpoint": {"region": name}})
        assert r.status_code == 200, r.text
        assert r.json()["endpoint"]["region_id"] == name
    assert (await client.get(f"{V3}/regions/{newer}", headers=admin_headers)).status_code == 200
    # region_id still has to name an existing region
    missing = unique("missing")
    body["endpoint"] = {**body["endpoint"], "region_id": missing}
    del body["endpoint"]["region"]
    r = await client.post(f"{V3}/endpoints", json=body, headers=admin_headers)
    assert r.status_code == 400
    assert (await client.get(f"{V3}/regions/{missing}", headers=admin_headers)).status_code == 404
    body["endpoint"] = {**body["endpoint"], "region_id": None, "region": ""}
    r = await client.post(f"{V3}/endpoints", json=body, headers=admin_headers)
    assert r.status_code == 400


async def test_endpoint_group_with_empty_filters_selects_every_endpoint(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    r = await client.post(f"{V3}/OS-EP-FILTER/endpoint_groups", headers=admin_headers,
                          json={"endpoint_group": {"name": unique("eg"), "filters": {}}})
    assert r.status_code == 201, r.text
    group = r.json()["endpoint_group"]
    assert group["filters"] == {} and group["description"] is None
    r = await client.get(f"{V3}/OS-EP-FILTER/endpoint_groups/{group['id']}/endpoints",
                         headers=admin_headers)
    every = await client.get(f"{V3}/endpoints", headers=admin_headers)
    assert {e["id"] for e in r.json()["endpoints"]} == {e["id"] for e in every.json()["endpoints"]}


# -- ec2 credentials ---------------------------------------------------------------------------
async def test_ec2_credential_access_can_be_changed(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    me = (await client.get(TOKENS, headers={**admin_headers,
                                            "X-Subject-Token": admin_headers["X-Auth-Token"]}))
    user = me.json()["token"]["user"]["id"]
    creds = f"{V3}/credentials"
    old, new, taken = unique("AKIA"), unique("AKIA"), unique("AKIA")
    made = []
    for access in (old, taken):
        r = await client.post(creds, headers=admin_headers, json={"credential": {
            "user_id": user, "type": "ec2", "blob": json.dumps({"access": access, "secret": "s"})}})
        assert r.status_code == 201, r.text
        made.append(r.json()["credential"]["id"])
    r = await client.patch(f"{creds}/{made[0]}", headers=admin_headers, json={"credential": {
        "blob": json.dumps({"access": new, "secret": "s2"})}})
    assert r.status_code == 200, r.text
    assert r.json()["credential"]["id"] == made[0]
    assert json.loads(r.json()["credential"]["blob"])["access"] == new
    ec2 = f"{V3}/users/{user}/credentials/OS-EC2"
    r = await client.get(f"{ec2}/{new}", headers=admin_headers)
    assert r.status_code == 200 and r.json()["credential"]["secret"] == "s2"
    assert (await client.get(f"{ec2}/{old}", headers=admin_headers)).status_code == 404
    # another credential's access key is not free, and a failed update changes nothing
    r = await client.patch(f"{creds}/{made[0]}", headers=admin_headers, json={"credential": {
        "blob": json.dumps({"access": taken, "secret": "s3"})}})
    assert r.status_code == 409, r.text
    assert (await client.get(f"{ec2}/{new}", headers=admin_headers)).status_code == 200
    r = await client.post(creds, headers=admin_headers, json={"credential": {
        "user_id": user, "type": "ec2", "blob": json.dumps({"access": new, "secret": "x"})}})
    assert r.status_code == 409
    for cred in made:
        await client.delete(f"{creds}/{cred}", headers=admin_headers)


# -- users ----------------------------------------------------------------------------------------
async def test_user_patch_may_repeat_its_own_id(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    user = await add_user(cloud)
    r = await client.patch(f"{V3}/users/{user}", headers=admin_headers,
                           json={"user": {"id": user, "description": "same id"}})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == user and r.json()["user"]["description"] == "same id"
    r = await client.patch(f"{V3}/users/{user}", headers=admin_headers,
                           json={"user": {"id": unique("other"), "description": "changed"}})
    assert r.status_code == 400
    r = await client.get(f"{V3}/users/{user}", headers=admin_headers)
    assert r.json()["user"]["description"] == "same id"


async def test_password_change_is_proved_by_the_original_password(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    """As Keystone: no token or policy is needed, the original password is the proof; a wrong
    one, or an unknown user, is the same 401."""
    user = await add_user(cloud)
    url = f"{V3}/users/{user}/password"

    def change(original: str, new: str) -> dict[str, Any]:
        return {"user": {"original_password": original, "password": new}}

    assert (await client.post(url, json=change("wrong", "N3w-passw0rd"))).status_code == 401
    r = await client.post(f"{V3}/users/{unique('nobody')}/password",
                          json=change(PASSWORD, "N3w-passw0rd"))
    assert r.status_code == 401
    assert (await client.post(url, json=change(PASSWORD, "N3w-passw0rd"))).status_code == 204
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user, "password": "N3w-passw0rd"}}}}}
    assert (await client.post(TOKENS, json=body)).status_code == 201
    # an admin's token does not stand in for the original password, but may carry it
    r = await client.post(url, json=change(PASSWORD, "x-Passw0rd"), headers=admin_headers)
    assert r.status_code == 401
    r = await client.post(url, json=change("N3w-passw0rd", "An0ther-pass"), headers=admin_headers)
    assert r.status_code == 204


# -- project tags ---------------------------------------------------------------------------------
async def test_project_tags_validation_and_location(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    project = await add_project(cloud)
    tags = f"{V3}/projects/{project}/tags"
    r = await client.put(f"{tags}/%F0%9F%92%A9", headers=admin_headers)
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    assert location.endswith(f"/projects/{project}/tags/%F0%9F%92%A9")
    assert location.isascii()
    assert unquote(location.rsplit("/", 1)[1]) == "\N{PILE OF POO}"
    assert (await client.get(f"{tags}/%F0%9F%92%A9", headers=admin_headers)).status_code == 204
    r = await client.put(f"{tags}/caf%C3%A9%20au%20lait", headers=admin_headers)
    assert r.status_code == 201
    assert r.headers["Location"].endswith("/tags/caf%C3%A9%20au%20lait")
    for bad in ("a%0D%0Ab", "a%0Ab", "bell%07", "tab%09tab", "a%2Cb", "x" * 256):
        r = await client.put(f"{tags}/{bad}", headers=admin_headers)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["code"] == 400
    for bad_list in (["ok", "a\r\nb"], ["ok", "a/b"], ["ok", "x" * 256], ["del\x7f"]):
        r = await client.put(tags, json={"tags": bad_list}, headers=admin_headers)
        assert r.status_code == 400, bad_list
    r = await client.post(f"{V3}/projects", headers=admin_headers, json={"project": {
        "name": unique("p"), "tags": ["fine", "new\nline"]}})
    assert r.status_code == 400
    # nothing the failing requests carried was saved
    r = await client.get(tags, headers=admin_headers)
    assert sorted(r.json()["tags"]) == sorted(["\N{PILE OF POO}", "café au lait"])


# -- migration 0007: access rules of their own, ec2 credentials by the access key they hold ---
def _alembic(conn: Connection, action: str, revision: str) -> None:
    cfg = alembic_config(MIGRATIONS, "identity")
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


async def test_migration_0007_keeps_access_rules_and_ec2_lookups(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'identity.sqlite'}", "identity", MIGRATIONS)
    rules = [{"id": "r1", "service": "compute", "path": "/v2.1/servers", "method": "GET"},
             {"id": "r2", "service": "image", "path": "/v2/images", "method": "POST"}]
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_alembic, "upgrade", "0006")
            for cred_id, held in (("c1", rules), ("c2", rules[:1]), ("c3", [])):
                await conn.execute(
                    sa.text(
                        "INSERT INTO identity_application_credential (id, name, secret_hash,"
                        " user_id, project_id, unrestricted, access_rules, created_at) VALUES"
                        " (:id, :id, 'x', 'u1', 'p1', 0, :rules, '2026-01-01 00:00:00')"
                    ),
                    {"id": cred_id, "rules": json.dumps(held)},
                )
            await conn.execute(sa.text(
                "INSERT INTO identity_credential (id, user_id, type, encrypted_blob, key_hash,"
                " extra) VALUES ('h1', 'u1', 'ec2', 'x', 'k', '{}'),"
                " ('t1', 'u1', 'totp', 'x', 'k', '{}')"))
        await db.upgrade()
        async with db.engine.begin() as conn:
            rows = await conn.execute(sa.text(
                "SELECT id, user_id, service, path, method FROM identity_access_rule ORDER BY id"))
            assert [tuple(r) for r in rows] == [
                ("r1", "u1", "compute", "/v2.1/servers", "GET"),
                ("r2", "u1", "image", "/v2/images", "POST"),
            ]
            rows = await conn.execute(sa.text(
                "SELECT id, access_hash FROM identity_credential ORDER BY id"))
            assert [tuple(r) for r in rows] == [("h1", "h1"), ("t1", None)]
            await conn.run_sync(_alembic, "downgrade", "0006")
            assert "identity_access_rule" not in await conn.run_sync(
                lambda c: sa.inspect(c).get_table_names())
    finally:
        await db.dispose()
