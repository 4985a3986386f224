"""OpenID Connect bearer tokens verified by onestack itself, from a local test issuer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import V3, add_group, add_project, unique
from tests.functional.identity.people_helpers import grant
from tests.oidc_issuer import Issuer

FED = f"{V3}/OS-FEDERATION"
H = dict[str, str]


@pytest.fixture
def issuer(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    monkeypatch.setattr(cloud.identity.manager.conf, "federation_oidc_audience", "onestack")
    with Issuer() as running:
        yield running


async def _idp(client: httpx.AsyncClient, cloud: Cloud, admin: H, issuer: Issuer) -> tuple[
        str, str, str]:
    idp, mapping = unique("oidc"), unique("map")
    r = await client.put(f"{FED}/identity_providers/{idp}", headers=admin, json={
        "identity_provider": {"enabled": True, "remote_ids": [issuer.url]}})
    domain = r.json()["identity_provider"]["domain_id"]
    group = await add_group(cloud, domain_id=domain)
    project = await add_project(cloud, domain_id=domain)
    await grant(cloud, group, project, "member", "GroupProject")
    rules = [{"local": [{"user": {"name": "{0}", "email": "{1}"}}, {"group_ids": "{2}"}],
              "remote": [{"type": "OIDC-CLAIM-preferred_username"}, {"type": "OIDC-CLAIM-email"},
                         {"type": "OIDC-CLAIM-groups"}]}]
    await client.put(f"{FED}/mappings/{mapping}", json={"mapping": {"rules": rules}},
                     headers=admin)
    await client.put(f"{FED}/identity_providers/{idp}/protocols/openid",
                     json={"protocol": {"mapping_id": mapping}}, headers=admin)
    return f"{FED}/identity_providers/{idp}/protocols/openid/auth", group, project


async def test_bearer_token_login(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                                  issuer: Issuer) -> None:
    url, group, project = await _idp(client, cloud, admin_headers, issuer)
    token = issuer.token(preferred_username="dana", email="dana@example.org", groups=[group])
    r = await client.post(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    body = r.json()["token"]
    assert body["user"]["name"] == "dana"
    assert body["user"]["OS-FEDERATION"]["groups"] == [{"id": group}]
    unscoped = r.headers["X-Subject-Token"]
    r = await client.get(f"{V3}/auth/projects", headers={"X-Auth-Token": unscoped})
    assert [p["id"] for p in r.json()["projects"]] == [project]


async def test_bad_bearer_tokens(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                                 issuer: Issuer) -> None:
    url, group, _ = await _idp(client, cloud, admin_headers, issuer)
    claims = {"preferred_username": "eve", "email": "e@x", "groups": [group]}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (issuer.token(audience="someone-else", **claims),
                  issuer.token(lifetime=-120, **claims),
                  issuer.token(key=other_key, **claims),
                  "not-a-jwt", ""):
        r = await client.post(url, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (token[:20], r.text)
    # an issuer that is no remote id of this provider
    stranger = Issuer()
    r = await client.post(url, headers={
        "Authorization": f"Bearer {stranger.token(**claims)}"})
    assert r.status_code == 401
    stranger.server.server_close()
    # without the audience configured, a bearer token is no assertion at all
    cloud.identity.manager.conf.federation_oidc_audience = None
    try:
        r = await client.post(url, headers={"Authorization": f"Bearer {issuer.token(**claims)}"})
        assert r.status_code == 401 and "trusted front end" in r.json()["error"]["message"]
    finally:
        cloud.identity.manager.conf.federation_oidc_audience = "onestack"
