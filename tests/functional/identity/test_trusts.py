"""/v3/OS-TRUST/trusts in-process, and trust-scoped tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth

V3 = "/identity/v3"
BASE = f"{V3}/OS-TRUST/trusts"
TOKENS = f"{V3}/auth/tokens"
H = dict[str, str]


async def _pair(cloud: Cloud, client: httpx.AsyncClient, prefix: str) -> tuple[str, H, str, str]:
    """A trustor (member of demo) with its token, a trustee (member of service only)."""
    trustor = await make_user(cloud, f"{prefix}-tor", f"pw-{prefix}-tor")
    trustee = await make_user(cloud, f"{prefix}-tee", f"pw-{prefix}-tee", project="service")
    token = await issue(client, password_auth(f"{prefix}-tor", f"pw-{prefix}-tor", project="demo"))
    return trustor, {"X-Auth-Token": token}, trustee, f"{prefix}-tee"


async def _demo_project(client: httpx.AsyncClient, headers: H) -> str:
    r = await client.get(TOKENS, headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]})
    return r.json()["token"]["project"]["id"]


def _trust_auth(user: str, trust_id: str) -> dict[str, Any]:
    body = password_auth(user, f"pw-{user}")
    body["auth"]["scope"] = {"OS-TRUST:trust": {"id": trust_id}}
    return body


async def _create(client: httpx.AsyncClient, headers: H, **fields: Any) -> httpx.Response:
    return await client.post(BASE, json={"trust": fields}, headers=headers)


def _fields(trustor: str, trustee: str, project: str, *roles: str, **more: Any) -> dict[str, Any]:
    """A trust body: not impersonating unless ``more`` says so."""
    return {
        "trustor_user_id": trustor,
        "trustee_user_id": trustee,
        "project_id": project,
        "impersonation": False,
        "roles": [{"name": r} for r in roles],
        **more,
    }


async def test_trust_lifecycle(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> None:
    trustor, headers, trustee, trustee_name = await _pair(cloud, client, "tl")
    project = await _demo_project(client, headers)
    r = await _create(
        client, headers, **_fields(trustor, trustee, project, "member", remaining_uses=2)
    )
    assert r.status_code == 201, r.text
    trust = r.json()["trust"]
    assert trust["trustor_user_id"] == trustor and trust["trustee_user_id"] == trustee
    assert trust["project_id"] == project and trust["impersonation"] is False
    assert trust["remaining_uses"] == 2 and trust["expires_at"] is None
    assert [x["name"] for x in trust["roles"]] == ["member"]
    assert trust["links"]["self"].endswith(f"/v3/OS-TRUST/trusts/{trust['id']}")
    assert trust["roles_links"]["self"].endswith(f"/OS-TRUST/trusts/{trust['id']}/roles")

    # the trustee gets a token scoped by the trust, carrying the delegated roles
    r = await client.post(TOKENS, json=_trust_auth(trustee_name, trust["id"]))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["user"]["id"] == trustee and token["project"]["id"] == project
    assert {x["name"] for x in token["roles"]} == {"member", "reader"}
    assert token["OS-TRUST:trust"]["id"] == trust["id"]
    assert token["OS-TRUST:trust"]["trustor_user"]["id"] == trustor
    trust_token = r.headers["X-Subject-Token"]

    r = await client.get(f"{BASE}/{trust['id']}", headers=admin_headers)
    assert r.json()["trust"]["remaining_uses"] == 1
    await issue(client, _trust_auth(trustee_name, trust["id"]))
    # no uses left: refused, and the trust is no longer found
    r = await client.post(TOKENS, json=_trust_auth(trustee_name, trust["id"]))
    assert r.status_code == 401
    assert (await client.get(f"{BASE}/{trust['id']}", headers=admin_headers)).status_code == 404
    # tokens already issued from it still work until the trust is deleted
    check = {**admin_headers, "X-Subject-Token": trust_token}
    assert (await client.get(TOKENS, headers=check)).status_code == 200


async def test_impersonation_and_delete(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H
) -> None:
    trustor, headers, trustee, trustee_name = await _pair(cloud, client, "ti")
    project = await _demo_project(client, headers)
    r = await _create(
        client, headers, **_fields(trustor, trustee, project, "reader", impersonation=True)
    )
    assert r.status_code == 201, r.text
    trust = r.json()["trust"]
    r = await client.post(TOKENS, json=_trust_auth(trustee_name, trust["id"]))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["user"]["id"] == trustor  # impersonation: the token is the trustor's
    assert [x["name"] for x in token["roles"]] == ["reader"]
    trust_token = r.headers["X-Subject-Token"]
    check = {**admin_headers, "X-Subject-Token": trust_token}
    assert (await client.get(TOKENS, headers=check)).status_code == 200

    # the trustee may read it but not delete it; the trustor deletes it
    trustee_headers = {
        "X-Auth-Token": await issue(
            client, password_auth(trustee_name, f"pw-{trustee_name}", project="service")
        )
    }
    assert (await client.get(f"{BASE}/{trust['id']}", headers=trustee_headers)).status_code == 200
    assert (
        await client.delete(f"{BASE}/{trust['id']}", headers=trustee_headers)
    ).status_code == 403
    assert (await client.delete(f"{BASE}/{trust['id']}", headers=headers)).status_code == 204
    assert (await client.get(TOKENS, headers=check)).status_code == 404
    r = await client.get(f"{BASE}/{trust['id']}", headers=headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find trust: {trust['id']}."
    r = await client.post(TOKENS, json=_trust_auth(trustee_name, trust["id"]))
    assert r.status_code == 401


async def test_create_rules(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> None:
    trustor, headers, trustee, _ = await _pair(cloud, client, "tc")
    project = await _demo_project(client, headers)
    good = _fields(trustor, trustee, project, "member")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    for fields, status in (
        ({**good, "trustor_user_id": trustee}, 403),  # one trusts only as oneself
        ({**good, "trustee_user_id": "nobody"}, 404),
        ({**good, "project_id": "nowhere"}, 404),
        ({**good, "roles": [{"name": "admin"}]}, 404),  # not held by the trustor
        ({**good, "roles": [{"name": "no-such-role"}]}, 404),
        ({**good, "roles": []}, 403),
        ({**good, "remaining_uses": 0}, 400),
        ({**good, "expires_at": past}, 400),
        ({k: v for k, v in good.items() if k != "impersonation"}, 400),
        ({**good, "impersonation": "no"}, 400),
        ({**good, "surprise": 1}, 400),
    ):
        r = await _create(client, headers, **fields)
        assert r.status_code == status, (fields, r.text)
    r = await _create(client, admin_headers, **good)
    assert r.status_code == 403  # not even an admin trusts for someone else
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    r = await _create(client, headers, **good, expires_at=soon.strftime("%Y-%m-%dT%H:%M:%S"))
    assert r.status_code == 201
    assert r.json()["trust"]["expires_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_list_get_and_roles(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H, demo_headers: H
) -> None:
    trustor, headers, trustee, _ = await _pair(cloud, client, "tr")
    project = await _demo_project(client, headers)
    r = await _create(client, headers, **_fields(trustor, trustee, project, "member", "reader"))
    trust = r.json()["trust"]
    r = await client.get(BASE, params={"trustor_user_id": trustor}, headers=headers)
    assert [t["id"] for t in r.json()["trusts"]] == [trust["id"]]
    r = await client.get(BASE, params={"trustee_user_id": trustee}, headers=admin_headers)
    assert [t["id"] for t in r.json()["trusts"]] == [trust["id"]]
    r = await client.get(BASE, headers=admin_headers)
    assert trust["id"] in [t["id"] for t in r.json()["trusts"]]
    # a plain user lists only its own trusts
    assert (await client.get(BASE, headers=demo_headers)).status_code == 403
    r = await client.get(BASE, params={"trustor_user_id": trustor}, headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(BASE, params={"trustee_user_id": trustee}, headers=demo_headers)
    assert r.status_code == 403
    for path in ("", "/roles"):
        r = await client.get(f"{BASE}/{trust['id']}{path}", headers=demo_headers)
        assert r.status_code == 403, path
    assert (await client.delete(f"{BASE}/{trust['id']}", headers=demo_headers)).status_code == 403

    r = await client.get(f"{BASE}/{trust['id']}/roles", headers=headers)
    roles = {x["name"]: x for x in r.json()["roles"]}
    assert set(roles) == {"member", "reader"}
    member = roles["member"]["id"]
    r = await client.get(f"{BASE}/{trust['id']}/roles/{member}", headers=headers)
    assert r.status_code == 200 and r.json()["role"]["name"] == "member"
    r = await client.head(f"{BASE}/{trust['id']}/roles/{member}", headers=headers)
    assert r.status_code == 200
    r = await client.head(f"{BASE}/{trust['id']}/roles/not-delegated", headers=headers)
    assert r.status_code == 404
    r = await client.get(f"{BASE}/{trust['id']}/roles/not-delegated", headers=headers)
    assert r.status_code == 404
    assert (await client.get(f"{BASE}/missing", headers=admin_headers)).status_code == 404
    assert (await client.delete(f"{BASE}/missing", headers=admin_headers)).status_code == 404
    # an admin may delete anyone's trust
    assert (await client.delete(f"{BASE}/{trust['id']}", headers=admin_headers)).status_code == 204
    r = await client.get(BASE, params={"trustor_user_id": trustor}, headers=headers)
    assert r.json()["trusts"] == []


async def test_trust_token_limits(cloud: Cloud, client: httpx.AsyncClient) -> None:
    trustor, headers, trustee, trustee_name = await _pair(cloud, client, "tt")
    project = await _demo_project(client, headers)
    r = await _create(client, headers, **_fields(trustor, trustee, project, "member"))
    trust_id = r.json()["trust"]["id"]
    trust_token = await issue(client, _trust_auth(trustee_name, trust_id))
    # no redelegation from a trust-scoped token
    r = await _create(
        client, {"X-Auth-Token": trust_token}, **_fields(trustee, trustor, project, "member")
    )
    assert r.status_code == 403
    # only the trustee may use it
    r = await client.post(TOKENS, json=_trust_auth("tt-tor", trust_id))
    assert r.status_code == 403
