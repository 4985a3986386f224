"""/v3/credentials in-process: encryption at rest, ec2 ids, ownership."""

from __future__ import annotations

import hashlib
import json

import httpx
from sqlalchemy import select

from onestack.identity.models import Credential
from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth

BASE = "/identity/v3/credentials"
H = dict[str, str]


async def _me(client: httpx.AsyncClient, headers: H) -> str:
    r = await client.get(
        "/identity/v3/auth/tokens", headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]}
    )
    return r.json()["token"]["user"]["id"]


async def _raw(cloud: Cloud, cred_id: str) -> Credential:
    async with cloud.identity.manager.read() as s:
        return (await s.execute(select(Credential).where(Credential.id == cred_id))).scalar_one()


async def test_credential_crud_encrypted(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    admin = await _me(client, admin_headers)
    secret = "totp-secret-plaintext-12345"
    r = await client.post(
        BASE,
        json={"credential": {"user_id": admin, "type": "totp", "blob": secret}},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    cred = r.json()["credential"]
    assert cred["blob"] == secret and cred["type"] == "totp" and cred["project_id"] is None
    assert cred["links"]["self"].endswith(f"/v3/credentials/{cred['id']}")

    row = await _raw(cloud, cred["id"])
    assert secret not in row.encrypted_blob
    keys = cloud.identity.manager.credential_keys.keys()
    primary = keys[max(i for i in keys if i != 0)]
    assert row.key_hash == hashlib.sha1(primary).hexdigest()

    r = await client.get(f"{BASE}/{cred['id']}", headers=admin_headers)
    assert r.json()["credential"]["blob"] == secret
    r = await client.patch(
        f"{BASE}/{cred['id']}",
        json={"credential": {"blob": "new-secret-blob"}},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.json()["credential"]["blob"] == "new-secret-blob"
    assert "new-secret-blob" not in (await _raw(cloud, cred["id"])).encrypted_blob
    r = await client.get(BASE, params={"type": "totp", "user_id": admin}, headers=admin_headers)
    assert cred["id"] in [c["id"] for c in r.json()["credentials"]]
    assert (await client.delete(f"{BASE}/{cred['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(f"{BASE}/{cred['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find credential: {cred['id']}."


async def test_ec2_credential(client: httpx.AsyncClient, admin_headers: H) -> None:
    admin = await _me(client, admin_headers)
    blob = json.dumps({"access": "AKIA-ec2-test", "secret": "s3cr3t"})
    body = {"credential": {"user_id": admin, "type": "ec2", "blob": blob}}
    r = await client.post(BASE, json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    cred = r.json()["credential"]
    assert cred["id"] == hashlib.sha256(b"AKIA-ec2-test").hexdigest()
    assert json.loads(cred["blob"])["secret"] == "s3cr3t"
    r = await client.post(BASE, json=body, headers=admin_headers)
    assert r.status_code == 409
    r = await client.patch(
        f"{BASE}/{cred['id']}",
        json={"credential": {"blob": json.dumps({"access": "AKIA-ec2-test", "secret": "rotated"})}},
        headers=admin_headers,
    )
    assert r.status_code == 200 and "rotated" in r.json()["credential"]["blob"]
    for bad in ("not json", json.dumps({"secret": "no access"}), json.dumps(["access"])):
        r = await client.post(
            BASE,
            json={"credential": {"user_id": admin, "type": "ec2", "blob": bad}},
            headers=admin_headers,
        )
        assert r.status_code == 400, bad
    await client.delete(f"{BASE}/{cred['id']}", headers=admin_headers)


async def test_credential_bad_input(client: httpx.AsyncClient, admin_headers: H) -> None:
    admin = await _me(client, admin_headers)
    good = {"user_id": admin, "type": "cert", "blob": "b"}
    for body in (
        {k: v for k, v in good.items() if k != "blob"},
        {k: v for k, v in good.items() if k != "type"},
        {**good, "blob": {"not": "a string"}},
        {**good, "type": ""},
        {**good, "unknown": 1},
    ):
        r = await client.post(BASE, json={"credential": body}, headers=admin_headers)
        assert r.status_code == 400, body
    r = await client.patch(
        f"{BASE}/missing", json={"credential": {"blob": "x"}}, headers=admin_headers
    )
    assert r.status_code == 404
    r = await client.post(BASE, json={"credential": good}, headers=admin_headers)
    cred_id = r.json()["credential"]["id"]
    r = await client.patch(
        f"{BASE}/{cred_id}", json={"credential": {"type": None}}, headers=admin_headers
    )
    assert r.status_code == 400


async def test_credential_ownership(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    uid = await make_user(cloud, "cred-owner", "pw-cred-owner")
    other = await make_user(cloud, "cred-other", "pw-cred-other")
    mine = {
        "X-Auth-Token": await issue(
            client, password_auth("cred-owner", "pw-cred-owner", project="demo")
        )
    }
    theirs = {
        "X-Auth-Token": await issue(
            client, password_auth("cred-other", "pw-cred-other", project="demo")
        )
    }
    r = await client.post(
        BASE, json={"credential": {"user_id": uid, "type": "x", "blob": "owned"}}, headers=mine
    )
    assert r.status_code == 201
    cred_id = r.json()["credential"]["id"]
    # nobody else's
    r = await client.post(
        BASE, json={"credential": {"user_id": other, "type": "x", "blob": "b"}}, headers=mine
    )
    assert r.status_code == 403
    for method, body in (("GET", None), ("PATCH", {"credential": {"blob": "x"}}), ("DELETE", None)):
        r = await client.request(method, f"{BASE}/{cred_id}", json=body, headers=theirs)
        assert r.status_code == 403, method
    r = await client.patch(
        f"{BASE}/{cred_id}", json={"credential": {"user_id": other}}, headers=mine
    )
    assert r.status_code == 403  # cannot give it away either
    # a list shows one's own only, whatever the filter
    r = await client.get(BASE, headers=theirs)
    assert r.status_code == 200 and cred_id not in [c["id"] for c in r.json()["credentials"]]
    r = await client.get(BASE, params={"user_id": uid}, headers=theirs)
    assert r.json()["credentials"] == []
    r = await client.get(BASE, headers=mine)
    assert [c["id"] for c in r.json()["credentials"]] == [cred_id]
    # the admin sees everyone's
    r = await client.get(BASE, params={"user_id": uid}, headers=admin_headers)
    assert [c["id"] for c in r.json()["credentials"]] == [cred_id]
    assert (await client.delete(f"{BASE}/{cred_id}", headers=mine)).status_code == 204
    assert (await client.get(BASE)).status_code == 401
