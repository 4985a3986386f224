"""OS-OAUTH1: consumers, request token -> authorize -> access token -> oauth1 tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
from oauthlib import oauth1

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_project,
    add_user,
    headers_for,
    token_valid,
)
from tests.functional.identity.people_helpers import grant

BASE = f"http://testserver{V3}"
H = dict[str, str]


async def _consumer(client: httpx.AsyncClient, admin: H) -> tuple[str, str]:
    r = await client.post(f"{V3}/OS-OAUTH1/consumers", json={"consumer": {"description": "app"}},
                          headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["consumer"]["id"], r.json()["consumer"]["secret"]


def _signed(url: str, key: str, secret: str, **kw: Any) -> dict[str, str]:
    signer = oauth1.Client(key, client_secret=secret, signature_method=oauth1.SIGNATURE_HMAC, **kw)
    _, headers, _ = signer.sign(url, http_method="POST")
    return dict(headers)


def _form(r: httpx.Response) -> dict[str, str]:
    assert r.headers["content-type"].startswith("application/x-www-form-urlencoded")
    return {k: v[0] for k, v in parse_qs(r.text).items()}


async def _request_token(client: httpx.AsyncClient, key: str, secret: str, project: str
                         ) -> dict[str, str]:
    headers = _signed(f"{BASE}/OS-OAUTH1/request_token", key, secret, callback_uri="oob")
    r = await client.post(f"{V3}/OS-OAUTH1/request_token",
                          headers={**headers, "Requested-Project-Id": project})
    assert r.status_code == 201, r.text
    return _form(r)


async def _access_token(client: httpx.AsyncClient, key: str, secret: str,
                        rt: dict[str, str], verifier: str) -> httpx.Response:
    headers = _signed(f"{BASE}/OS-OAUTH1/access_token", key, secret,
                      resource_owner_key=rt["oauth_token"],
                      resource_owner_secret=rt["oauth_token_secret"], verifier=verifier)
    return await client.post(f"{V3}/OS-OAUTH1/access_token", headers=headers)


async def _oauth_token(client: httpx.AsyncClient, key: str, secret: str, at: dict[str, str]
                       ) -> httpx.Response:
    headers = _signed(f"{BASE}/auth/tokens", key, secret, resource_owner_key=at["oauth_token"],
                      resource_owner_secret=at["oauth_token_secret"])
    body = {"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}
    return await client.post(f"{V3}/auth/tokens", json=body, headers=headers)


async def _delegating_user(cloud: Cloud, client: httpx.AsyncClient) -> tuple[str, str, H]:
    user, project = await add_user(cloud), await add_project(cloud)
    await grant(cloud, user, project, "member")
    return user, project, await headers_for(client, user, project_id=project)


async def test_full_delegation(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H) -> None:
    key, secret = await _consumer(client, admin_headers)
    user, project, user_headers = await _delegating_user(cloud, client)
    rt = await _request_token(client, key, secret, project)
    assert set(rt) == {"oauth_token", "oauth_token_secret", "oauth_expires_at"}

    r = await client.put(f"{V3}/OS-OAUTH1/authorize/{rt['oauth_token']}",
                         json={"roles": [{"name": "reader"}]}, headers=user_headers)
    assert r.status_code == 200, r.text
    verifier = r.json()["token"]["oauth_verifier"]
    assert len(verifier) == 8

    r = await _access_token(client, key, secret, rt, verifier)
    assert r.status_code == 201, r.text
    at = _form(r)
    # the request token is used up
    assert (await _access_token(client, key, secret, rt, verifier)).status_code == 401

    r = await _oauth_token(client, key, secret, at)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["methods"] == ["oauth1"] and token["user"]["id"] == user
    assert token["project"]["id"] == project
    assert [x["name"] for x in token["roles"]] == ["reader"]  # only what was delegated
    assert token["OS-OAUTH1"] == {"access_token_id": at["oauth_token"], "consumer_id": key}
    oauth_headers = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    # a delegated token neither rescopes nor authorizes more delegation
    r = await client.post(f"{V3}/auth/tokens", json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": oauth_headers["X-Auth-Token"]}}}})
    assert r.status_code == 403
    r = await client.post(f"{V3}/OS-TRUST/trusts", headers=oauth_headers, json={"trust": {
        "trustor_user_id": user, "trustee_user_id": user, "project_id": project,
        "impersonation": False, "roles": [{"name": "reader"}]}})
    assert r.status_code == 403, r.text
    r = await client.post(f"{V3}/users/{user}/application_credentials", headers=oauth_headers,
                          json={"application_credential": {"name": "from-oauth"}})
    assert r.status_code == 403, r.text
    r = await client.get(f"{V3}/users/{user}/OS-OAUTH1/access_tokens", headers=oauth_headers)
    assert r.status_code == 403
    rt2 = await _request_token(client, key, secret, project)
    r = await client.put(f"{V3}/OS-OAUTH1/authorize/{rt2['oauth_token']}",
                         json={"roles": [{"name": "reader"}]}, headers=oauth_headers)
    assert r.status_code == 403

    # the user sees and revokes what they authorized
    url = f"{V3}/users/{user}/OS-OAUTH1/access_tokens"
    listed = (await client.get(url, headers=user_headers)).json()["access_tokens"]
    assert [a["id"] for a in listed] == [at["oauth_token"]]
    assert listed[0]["consumer_id"] == key and listed[0]["project_id"] == project
    roles = (await client.get(f"{url}/{at['oauth_token']}/roles", headers=user_headers)).json()
    assert [x["name"] for x in roles["roles"]] == ["reader"]
    rid = roles["roles"][0]["id"]
    r = await client.get(f"{url}/{at['oauth_token']}/roles/{rid}", headers=user_headers)
    assert r.json()["role"]["id"] == rid
    r = await client.get(f"{url}/{at['oauth_token']}/roles/nope", headers=user_headers)
    assert r.status_code == 404
    other, _, other_headers = await _delegating_user(cloud, client)
    assert (await client.get(url, headers=other_headers)).status_code == 403
    assert (await client.delete(f"{url}/{at['oauth_token']}", headers=other_headers)
            ).status_code == 403
    r = await client.get(f"{V3}/users/{other}/OS-OAUTH1/access_tokens/{at['oauth_token']}",
                         headers=other_headers)
    assert r.status_code == 404  # not theirs

    assert await token_valid(client, admin_headers, oauth_headers["X-Auth-Token"])
    assert (await client.delete(f"{url}/{at['oauth_token']}", headers=user_headers)
            ).status_code == 204
    assert not await token_valid(client, admin_headers, oauth_headers["X-Auth-Token"])
    assert (await _oauth_token(client, key, secret, at)).status_code == 401
    events = (await client.get(f"{V3}/OS-REVOKE/events", headers=admin_headers)).json()
    assert any(e.get("OS-OAUTH1:access_token_id") == at["oauth_token"] for e in events["events"])


async def test_signature_and_flow_errors(client: httpx.AsyncClient, cloud: Cloud,
                                         admin_headers: H) -> None:
    key, secret = await _consumer(client, admin_headers)
    _, project, user_headers = await _delegating_user(cloud, client)
    url = f"{V3}/OS-OAUTH1/request_token"
    # wrong secret, unknown consumer, no header, a replayed signature
    for headers in (_signed(f"{BASE}/OS-OAUTH1/request_token", key, "wrong"),
                    _signed(f"{BASE}/OS-OAUTH1/request_token", "nope", secret),
                    _signed(f"{BASE}/OS-OAUTH1/other", key, secret),
                    {}, {"Authorization": "OAuth garbage"}, {"Authorization": "Basic x"}):
        r = await client.post(url, headers={**headers, "Requested-Project-Id": project})
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["code"] == 401
    headers = _signed(f"{BASE}/OS-OAUTH1/request_token", key, secret)
    r = await client.post(url, headers={**headers, "Requested-Project-Id": project})
    assert r.status_code == 201
    r = await client.post(url, headers={**headers, "Requested-Project-Id": project})
    assert r.status_code == 401  # the same nonce again
    r = await client.post(url, headers=_signed(f"{BASE}/OS-OAUTH1/request_token", key, secret))
    assert r.status_code == 400  # no Requested-Project-Id
    r = await client.post(url, headers={**_signed(f"{BASE}/OS-OAUTH1/request_token", key,
                                                  secret), "Requested-Project-Id": "nope"})
    assert r.status_code == 404

    rt = await _request_token(client, key, secret, project)
    auth = f"{V3}/OS-OAUTH1/authorize/{rt['oauth_token']}"
    for body in ({}, {"roles": []}, {"roles": [{}]}, {"roles": "admin"}, {"roles": [{"x": 1}]}):
        r = await client.put(auth, json=body, headers=user_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.put(auth, json={"roles": [{"name": "admin"}]}, headers=user_headers)
    assert r.status_code == 401  # a role the user does not hold there
    r = await client.put(auth, json={"roles": [{"id": "nope"}]}, headers=user_headers)
    assert r.status_code == 404
    r = await client.put(f"{V3}/OS-OAUTH1/authorize/nope", json={"roles": [{"name": "member"}]},
                         headers=user_headers)
    assert r.status_code == 404
    # not yet authorized, then a wrong verifier
    assert (await _access_token(client, key, secret, rt, "abcdefgh")).status_code == 401
    r = await client.put(auth, json={"roles": [{"name": "member"}]}, headers=user_headers)
    assert r.status_code == 200
    assert (await client.put(auth, json={"roles": [{"name": "member"}]}, headers=user_headers)
            ).status_code == 401  # authorized once only
    assert (await _access_token(client, key, secret, rt, "abcdefgh")).status_code == 401
    other_key, other_secret = await _consumer(client, admin_headers)
    verifier = r.json()["token"]["oauth_verifier"]
    r = await _access_token(client, other_key, other_secret, rt, verifier)
    assert r.status_code == 401  # another consumer's request token
    r = await _access_token(client, key, secret, rt, verifier)
    assert r.status_code == 201
    at = _form(r)

    # removing the consumer ends its access tokens and their tokens
    token = (await _oauth_token(client, key, secret, at)).headers["X-Subject-Token"]
    assert (await client.delete(f"{V3}/OS-OAUTH1/consumers/{key}", headers=admin_headers)
            ).status_code == 204
    assert not await token_valid(client, admin_headers, token)
    assert (await _oauth_token(client, key, secret, at)).status_code == 401


async def test_consumer_crud_and_policy(client: httpx.AsyncClient, admin_headers: H,
                                        demo_headers: H) -> None:
    key, _ = await _consumer(client, admin_headers)
    url = f"{V3}/OS-OAUTH1/consumers/{key}"
    got = (await client.get(url, headers=admin_headers)).json()["consumer"]
    assert got["description"] == "app" and "secret" not in got
    assert got["links"]["self"].endswith(f"/v3/OS-OAUTH1/consumers/{key}")
    r = await client.patch(url, json={"consumer": {"description": "new", "color": "red"}},
                           headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["consumer"]["description"] == "new" and r.json()["consumer"]["color"] == "red"
    listed = (await client.get(f"{V3}/OS-OAUTH1/consumers", headers=admin_headers)).json()
    assert key in [c["id"] for c in listed["consumers"]]
    for body in ({"consumer": {"secret": "x"}}, {"consumer": {"description": 5}},
                 {"consumer": {"id": "x"}}, {"nope": {}}, {"consumer": "x"}):
        r = await client.patch(url, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.post(f"{V3}/OS-OAUTH1/consumers", json={"consumer": {"description": 1}},
                          headers=admin_headers)
    assert r.status_code == 400
    r = await client.post(f"{V3}/OS-OAUTH1/consumers", json={"consumer": {}},
                          headers=admin_headers)
    assert r.status_code == 201 and r.json()["consumer"]["description"] is None
    for method, path, body in (("GET", url, None), ("GET", f"{V3}/OS-OAUTH1/consumers", None),
                               ("PATCH", url, {"consumer": {"description": "x"}}),
                               ("DELETE", url, None),
                               ("POST", f"{V3}/OS-OAUTH1/consumers", {"consumer": {}})):
        r = await client.request(method, path, json=body, headers=demo_headers)
        assert r.status_code == 403, (method, path)
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert (await client.get(url, headers=admin_headers)).status_code == 404
    assert (await client.delete(url, headers=admin_headers)).status_code == 404


async def test_a_request_token_is_traded_once_even_when_raced(
        client: httpx.AsyncClient, cloud: Cloud, admin_headers: H) -> None:
    import asyncio

    key, secret = await _consumer(client, admin_headers)
    _, project, user_headers = await _delegating_user(cloud, client)
    rt = await _request_token(client, key, secret, project)
    r = await client.put(f"{V3}/OS-OAUTH1/authorize/{rt['oauth_token']}",
                         json={"roles": [{"name": "member"}]}, headers=user_headers)
    verifier = r.json()["token"]["oauth_verifier"]
    answers = await asyncio.gather(*(_access_token(client, key, secret, rt, verifier)
                                     for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 401, 401, 401], [
        a.text for a in answers]
