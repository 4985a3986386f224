"""Federated authentication: a trusted front end's assertion -> shadow user, groups,
projects; unscoped token -> /v3/auth/projects -> rescoped token; WebSSO."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from onestack.identity.models import Group
from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_group,
    add_project,
    add_user,
    token_valid,
    unique,
)
from tests.functional.identity.people_helpers import grant

FED = f"{V3}/OS-FEDERATION"
H = dict[str, str]
ENTITY = "https://idp.example.org/saml"
DASHBOARD = "https://dashboard.example.org/auth/websso/"


@dataclass
class Setup:
    idp: str
    domain: str
    group: str
    group_project: str
    auth_url: str


@pytest.fixture
async def trusted(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The in-process client (127.0.0.1) is the trusted front end; headers carry claims."""
    conf = cloud.identity.manager.conf
    monkeypatch.setattr(conf, "federation_trusted_proxies", ["127.0.0.0/8"])
    monkeypatch.setattr(conf, "federation_assertion_prefix", "X-Claim-")
    monkeypatch.setattr(conf, "federation_trusted_dashboards", [DASHBOARD])
    monkeypatch.setattr(conf, "federation_remote_id_attribute",
                        "X-Claim-Shib-Identity-Provider")
    yield


async def _group_name(cloud: Cloud, group_id: str) -> str:
    async with cloud.identity.manager.read() as s:
        group = await s.get(Group, group_id)
        assert group is not None
        return group.name


async def _put(client: httpx.AsyncClient, admin: H, path: str, body: dict[str, Any]) -> Any:
    r = await client.put(f"{FED}/{path}", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


async def _setup(client: httpx.AsyncClient, cloud: Cloud, admin: H) -> Setup:
    idp, mapping = unique("idp"), unique("map")
    entity = f"{ENTITY}/{idp}"
    body = await _put(client, admin, f"identity_providers/{idp}", {"identity_provider": {
        "enabled": True, "remote_ids": [entity]}})
    domain = body["identity_provider"]["domain_id"]
    group = await add_group(cloud, domain_id=domain)
    group_name = await _group_name(cloud, group)
    project = await add_project(cloud, domain_id=domain)
    await grant(cloud, group, project, "member", "GroupProject")
    rules = [
        {"local": [{"user": {"name": "{0}", "email": "{1}"}},
                   {"groups": "{2}", "domain": {"id": domain}}],
         "remote": [{"type": "X-Claim-REMOTE_USER"}, {"type": "X-Claim-Email"},
                    {"type": "X-Claim-Groups", "whitelist": [group_name]}]},
        {"local": [{"projects": [{"name": "home-{0}", "roles": [{"name": "reader"}]}]}],
         "remote": [{"type": "X-Claim-REMOTE_USER"},
                    {"type": "X-Claim-Org", "any_one_of": ["acme"]}]},
        {"local": [{"user": {"name": "demo", "type": "local", "domain": {"id": "default"}}}],
         "remote": [{"type": "X-Claim-Local-Login"}]},
    ]
    await _put(client, admin, f"mappings/{mapping}", {"mapping": {"rules": rules}})
    await _put(client, admin, f"identity_providers/{idp}/protocols/saml2",
               {"protocol": {"mapping_id": mapping,
                             "remote_id_attribute": "X-Claim-Shib-Identity-Provider"}})
    return Setup(idp, domain, group, project,
                 f"{FED}/identity_providers/{idp}/protocols/saml2/auth")


def claims(setup: Setup, user: str = "alice", **extra: str) -> H:
    return {"X-Claim-Shib-Identity-Provider": f"{ENTITY}/{setup.idp}",
            "X-Claim-Remote-User": user, "X-Claim-Email": f"{user}@example.org",
            "X-Claim-Groups": "nope;" + extra.pop("groups", ""), "X-Claim-Org": "acme",
            **{f"X-Claim-{k}": v for k, v in extra.items()}}


async def test_federated_login_and_rescope(client: httpx.AsyncClient, cloud: Cloud,
                                           admin_headers: H, trusted: None) -> None:
    setup = await _setup(client, cloud, admin_headers)
    group_name = await _group_name(cloud, setup.group)
    r = await client.post(setup.auth_url, headers=claims(setup, groups=group_name))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["methods"] == ["mapped"] and "project" not in token
    user = token["user"]
    assert user["name"] == "alice" and user["domain"]["id"] == setup.domain
    assert user["OS-FEDERATION"] == {"identity_provider": {"id": setup.idp},
                                     "protocol": {"id": "saml2"},
                                     "groups": [{"id": setup.group}]}
    unscoped = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    # the same identity is the same shadow user; GET works too
    again = await client.get(setup.auth_url, headers=claims(setup, groups=group_name))
    assert again.status_code == 201 and again.json()["token"]["user"]["id"] == user["id"]
    shadow = (await client.get(f"{V3}/users/{user['id']}", headers=admin_headers)).json()["user"]
    assert shadow["domain_id"] == setup.domain and shadow["name"] == "alice"
    # Keystone's shadow-user filters
    r = await client.get(f"{V3}/users", headers=admin_headers, params={
        "idp_id": setup.idp, "protocol_id": "saml2", "unique_id": "alice"})
    assert [u["id"] for u in r.json()["users"]] == [user["id"]]
    r = await client.get(f"{V3}/users", headers=admin_headers,
                         params={"idp_id": setup.idp, "unique_id": "bob"})
    assert r.json()["users"] == []

    # the unscoped token finds its projects: the group's and the provisioned home project
    for path in ("auth/projects", "OS-FEDERATION/projects"):
        r = await client.get(f"{V3}/{path}", headers=unscoped)
        assert r.status_code == 200, r.text
        names = {p["id"]: p["name"] for p in r.json()["projects"]}
        assert setup.group_project in names and "home-alice" in names.values()
    r = await client.get(f"{V3}/auth/domains", headers=unscoped)
    assert r.status_code == 200 and r.json()["domains"] == []

    # rescope: a federated project token with the group's roles
    r = await client.post(f"{V3}/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped["X-Auth-Token"]}},
        "scope": {"project": {"id": setup.group_project}}}})
    assert r.status_code == 201, r.text
    scoped = r.json()["token"]
    assert scoped["project"]["id"] == setup.group_project
    assert {x["name"] for x in scoped["roles"]} == {"member", "reader"}
    assert scoped["user"]["OS-FEDERATION"]["identity_provider"]["id"] == setup.idp
    scoped_token = r.headers["X-Subject-Token"]
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers,
                         "X-Subject-Token": scoped_token})
    assert r.status_code == 200 and r.json()["token"]["project"]["id"] == setup.group_project
    # a project the mapping gave nothing on, and a system scope, are refused
    other = await add_project(cloud)
    r = await client.post(f"{V3}/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped["X-Auth-Token"]}},
        "scope": {"project": {"id": other}}}})
    assert r.status_code == 401
    r = await client.post(f"{V3}/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped["X-Auth-Token"]}},
        "scope": {"system": {"all": True}}}})
    assert r.status_code == 403
    # without the group claim the user keeps only the provisioned project
    r = await client.post(setup.auth_url, headers=claims(setup))
    assert r.json()["token"]["user"]["OS-FEDERATION"]["groups"] == []

    # disabling the provider ends its users' tokens
    await client.patch(f"{FED}/identity_providers/{setup.idp}", headers=admin_headers,
                       json={"identity_provider": {"enabled": False}})
    assert not await token_valid(client, admin_headers, scoped_token)
    assert (await client.post(setup.auth_url, headers=claims(setup))).status_code == 403
    # deleting it removes its shadow users
    await client.delete(f"{FED}/identity_providers/{setup.idp}", headers=admin_headers)
    assert (await client.get(f"{V3}/users/{user['id']}", headers=admin_headers)
            ).status_code == 404


async def test_local_user_mapping(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                                  trusted: None) -> None:
    setup = await _setup(client, cloud, admin_headers)
    r = await client.post(setup.auth_url, headers={
        "X-Claim-Shib-Identity-Provider": f"{ENTITY}/{setup.idp}", "X-Claim-Local-Login": "1"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["user"]["name"] == "demo" and "OS-FEDERATION" not in token["user"]
    assert token["methods"] == ["mapped"]


async def test_assertion_errors(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                                trusted: None, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = await _setup(client, cloud, admin_headers)
    good = claims(setup)
    r = await client.post(setup.auth_url, headers={**good, "X-Claim-Shib-Identity-Provider":
                                                   "https://evil.example"})
    assert r.status_code == 403  # not one of the provider's remote ids
    r = await client.post(setup.auth_url, headers={
        k: v for k, v in good.items() if "Identity-Provider" not in k})
    assert r.status_code == 400
    r = await client.post(setup.auth_url, headers={
        "X-Claim-Shib-Identity-Provider": f"{ENTITY}/{setup.idp}", "X-Claim-Other": "x"})
    assert r.status_code == 401  # nothing maps to a user
    r = await client.post(f"{FED}/identity_providers/{setup.idp}/protocols/oidc/auth",
                          headers=good)
    assert r.status_code == 404
    r = await client.post(f"{FED}/identity_providers/nope/protocols/saml2/auth", headers=good)
    assert r.status_code == 404
    # a mapped name too long for a user
    r = await client.post(setup.auth_url, headers={**good, "X-Claim-Remote-User": "x" * 300})
    assert r.status_code == 401
    # a claim from a client that is no trusted front end is nothing
    monkeypatch.setattr(cloud.identity.manager.conf, "federation_trusted_proxies", ["10.9.9.9"])
    r = await client.post(setup.auth_url, headers=good)
    assert r.status_code == 401
    assert "trusted front end" in r.json()["error"]["message"]


async def test_websso(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                      trusted: None) -> None:
    setup = await _setup(client, cloud, admin_headers)
    url = f"{V3}/auth/OS-FEDERATION/websso/saml2"
    r = await client.get(url, params={"origin": DASHBOARD}, headers=claims(setup))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f'action="{DASHBOARD}"' in r.text
    token = r.text.split('name="token" value="')[1].split('"')[0]
    assert await token_valid(client, admin_headers, token)
    r = await client.post(f"{V3}/auth/OS-FEDERATION/identity_providers/{setup.idp}/protocols/"
                          "saml2/websso", data={"origin": DASHBOARD}, headers=claims(setup))
    assert r.status_code == 200 and 'name="token"' in r.text
    assert (await client.get(url, headers=claims(setup))).status_code == 400  # no origin
    r = await client.get(url, params={"origin": "https://evil.example/"}, headers=claims(setup))
    assert r.status_code == 401
    r = await client.get(url, params={"origin": DASHBOARD}, headers={
        **claims(setup), "X-Claim-Shib-Identity-Provider": "https://unknown.example"})
    assert r.status_code == 401
    r = await client.get(url, params={"origin": DASHBOARD}, headers={"X-Claim-Remote-User": "a"})
    assert r.status_code == 401  # no entity id: no provider


async def test_a_user_not_shadowed_over_a_local_one(client: httpx.AsyncClient, cloud: Cloud,
                                                    admin_headers: H, trusted: None) -> None:
    setup = await _setup(client, cloud, admin_headers)
    await add_user(cloud, "taken-name", domain_id=setup.domain)
    r = await client.post(setup.auth_url, headers=claims(setup, user="taken-name"))
    assert r.status_code == 409


async def _app_cred_login(client: httpx.AsyncClient, setup: Setup, claims_: H, ttl: int | None,
                          admin: H) -> httpx.Response:
    """Log in federated (the provider's authorization_ttl set to ``ttl``), rescope to the
    group's project and make an application credential with the group's role."""
    await client.patch(f"{FED}/identity_providers/{setup.idp}", headers=admin,
                       json={"identity_provider": {"authorization_ttl": ttl}})
    unscoped = (await client.post(setup.auth_url, headers=claims_)).headers["X-Subject-Token"]
    r = await client.post(f"{V3}/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"project": {"id": setup.group_project}}}})
    assert r.status_code == 201, r.text
    user_id = r.json()["token"]["user"]["id"]
    return await client.post(
        f"{V3}/users/{user_id}/application_credentials",
        json={"application_credential": {"name": unique("ac"), "roles": [{"name": "member"}]}},
        headers={"X-Auth-Token": r.headers["X-Subject-Token"]})


async def test_authorization_ttl_keeps_groups_between_logins(
        client: httpx.AsyncClient, cloud: Cloud, admin_headers: H, trusted: None) -> None:
    setup = await _setup(client, cloud, admin_headers)
    with_group = claims(setup, groups=await _group_name(cloud, setup.group))
    # without a ttl the group counts only in the federated tokens themselves
    r = await _app_cred_login(client, setup, with_group, None, admin_headers)
    assert r.status_code == 400, r.text
    # with one, the login's groups count for the user's application credentials too
    r = await _app_cred_login(client, setup, with_group, 60, admin_headers)
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": cred["id"],
                                                             "secret": cred["secret"]}}}}
    r = await client.post(f"{V3}/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    assert "member" in {x["name"] for x in r.json()["token"]["roles"]}
    # a later login without the group ends the membership
    assert (await client.post(setup.auth_url, headers=claims(setup))).status_code == 201
    assert (await client.post(f"{V3}/auth/tokens", json=body)).status_code == 401


async def test_concurrent_first_logins_make_one_user(client: httpx.AsyncClient, cloud: Cloud,
                                                     admin_headers: H, trusted: None) -> None:
    import asyncio

    setup = await _setup(client, cloud, admin_headers)
    answers = await asyncio.gather(*(client.post(setup.auth_url, headers=claims(setup, "zoe"))
                                     for _ in range(4)))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["token"]["user"]["id"] for a in answers}) == 1
