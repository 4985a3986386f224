"""The Identity extensions with the real clients: OS-OAUTH1 through the ``openstack`` CLI and
keystoneauth1's oauth1 plugin; OS-FEDERATION through the CLI, a trusted front end's claims and
keystoneauth1 / openstacksdk on the federated token; projects acting as domains, the domain
configuration and OS-REVOKE through openstacksdk / keystoneauth1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.extras import oauth1
from keystoneauth1.identity import v3

from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud
from tests.e2e.test_sdk import connect
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e
ENTITY = "https://idp.e2e.example/saml"
DASHBOARD = "https://dashboard.e2e.example/auth/websso/"


def _admin_session(cloud: RunningCloud) -> ks_session.Session:
    return connect(cloud).session  # type: ignore[no-any-return]


def test_oauth1_with_the_cli_and_keystoneauth(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    consumer = osc("consumer", "create", "--description", "e2e app")
    assert consumer["description"] == "e2e app" and consumer["secret"]
    request = osc("request", "token", "create", "--consumer-key", consumer["id"],
                  "--consumer-secret", consumer["secret"], "--project", "admin")
    authorized = osc("request", "token", "authorize", "--request-key", request["key"],
                     "--role", "reader")
    access = osc("access", "token", "create", "--consumer-key", consumer["id"],
                 "--consumer-secret", consumer["secret"], "--request-key", request["key"],
                 "--request-secret", request["secret"], "--verifier",
                 authorized["oauth_verifier"])

    plugin = oauth1.V3OAuth1(auth_url=f"{running_cloud.url}/identity/v3",
                             consumer_key=consumer["id"], consumer_secret=consumer["secret"],
                             access_key=access["key"], access_secret=access["secret"])
    ref = plugin.get_access(ks_session.Session())
    assert ref.project_name == "admin" and ref.role_names == ["reader"]
    assert ref._data["token"]["methods"] == ["oauth1"]
    assert ref._data["token"]["OS-OAUTH1"]["consumer_id"] == consumer["id"]

    admin = _admin_session(running_cloud)
    v3_url = f"{running_cloud.url}/identity/v3"
    r = admin.get(f"{v3_url}/users/{ref.user_id}/OS-OAUTH1/access_tokens")
    assert access["key"] in [a["id"] for a in r.json()["access_tokens"]]
    osc("consumer", "delete", consumer["id"], parse=False)
    r = admin.get(f"{v3_url}/auth/tokens", headers={"X-Subject-Token": ref.auth_token},
                  raise_exc=False)
    assert r.status_code == 404  # the consumer's tokens went with it


@pytest.fixture(scope="module")
def federated_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """A cloud whose trusted front end is this machine, with claims in X-Claim-* headers."""
    data_dir = tmp_path_factory.mktemp("federated") / "data"
    cloud = start_cloud(data_dir, free_port(), {
        "ONESTACK_IDENTITY__FEDERATION_TRUSTED_PROXIES": '["127.0.0.1"]',
        "ONESTACK_IDENTITY__FEDERATION_ASSERTION_PREFIX": "X-Claim-",
        "ONESTACK_IDENTITY__FEDERATION_TRUSTED_DASHBOARDS": json.dumps([DASHBOARD]),
        "ONESTACK_IDENTITY__FEDERATION_REMOTE_ID_ATTRIBUTE": "X-Claim-Shib-Identity-Provider",
        "ONESTACK_IDENTITY__FEDERATION_OIDC_AUDIENCE": "onestack",
    })
    yield cloud
    stop_cloud(cloud)


def test_federation_with_the_cli_and_a_front_end(federated_cloud: RunningCloud,
                                                  tmp_path: Path) -> None:
    osc = federated_cloud.osc
    osc("group", "create", "--domain", "default", "e2e-fed-staff")
    osc("project", "create", "e2e-fed-project")
    osc("role", "add", "--group", "e2e-fed-staff", "--project", "e2e-fed-project", "member",
        parse=False)
    idp = osc("identity", "provider", "create", "--remote-id", ENTITY, "--enable", "e2e-idp")
    assert idp["enabled"] is True and idp["remote_ids"] == [ENTITY]
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{
        "local": [{"user": {"name": "{0}"}},
                  {"groups": "{1}", "domain": {"name": "Default"}}],
        "remote": [{"type": "X-Claim-Remote-User"},
                   {"type": "X-Claim-Groups", "whitelist": ["e2e-fed-staff"]}],
    }]))
    osc("mapping", "create", "--rules", str(rules), "e2e-map")
    osc("federation", "protocol", "create", "--identity-provider", "e2e-idp", "--mapping",
        "e2e-map", "saml2")
    sp = osc("service", "provider", "create", "--auth-url", "https://sp.example/v3/auth",
             "--service-provider-url", "https://sp.example/ECP", "--enable", "e2e-sp")
    assert sp["relay_state_prefix"] == "ss:mem:"
    assert [p["id"] for p in osc("federation", "protocol", "list", "--identity-provider",
                                 "e2e-idp")] == ["saml2"]

    # the front end authenticated carol and passes her claims
    claims = {"X-Claim-Shib-Identity-Provider": ENTITY, "X-Claim-Remote-User": "carol",
              "X-Claim-Groups": "e2e-fed-staff;other"}
    auth_url = f"{federated_cloud.url}/identity/v3"
    r = httpx.post(f"{auth_url}/OS-FEDERATION/identity_providers/e2e-idp/protocols/saml2/auth",
                   headers=claims, timeout=10)
    assert r.status_code == 201, r.text
    unscoped = r.headers["X-Subject-Token"]

    # keystoneauth1 on the unscoped token: its projects, then a rescoped project token
    sess = ks_session.Session(auth=v3.Token(auth_url=auth_url, token=unscoped, unscoped=True))
    projects = sess.get(f"{auth_url}/auth/projects").json()["projects"]
    assert [p["name"] for p in projects] == ["e2e-fed-project"]
    conn = openstack.connect(auth_type="v3token", auth_url=auth_url, token=unscoped,
                             project_id=projects[0]["id"])
    access = conn.session.auth.get_access(conn.session)
    assert access.project_name == "e2e-fed-project" and "member" in access.role_names
    assert access._data["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"] == "e2e-idp"
    assert [s["id"] for s in access._data["token"]["service_providers"]] == ["e2e-sp"]
    # the shadow user is a real user of the provider's domain
    user = osc("user", "show", access.user_id)
    assert user["name"] == "carol" and user["domain_id"] == idp["domain_id"]

    r = httpx.get(f"{auth_url}/auth/OS-FEDERATION/websso/saml2", params={"origin": DASHBOARD},
                  headers=claims, timeout=10)
    assert r.status_code == 200 and f'action="{DASHBOARD}"' in r.text


def test_openid_connect_with_keystoneauth(federated_cloud: RunningCloud,
                                          tmp_path: Path) -> None:
    """keystoneauth1's OIDC access-token plugin, with a local test issuer's token."""
    osc = federated_cloud.osc
    with Issuer() as issuer:
        osc("identity", "provider", "create", "--remote-id", issuer.url, "--enable", "e2e-oidc")
        rules = tmp_path / "oidc.json"
        rules.write_text(json.dumps([{
            "local": [{"user": {"name": "{0}"}},
                      {"projects": [{"name": "oidc-{0}", "roles": [{"name": "member"}]}]}],
            "remote": [{"type": "OIDC-CLAIM-preferred_username"}]}]))
        osc("mapping", "create", "--rules", str(rules), "e2e-oidc-map")
        osc("federation", "protocol", "create", "--identity-provider", "e2e-oidc", "--mapping",
            "e2e-oidc-map", "openid")
        idp = osc("identity", "provider", "show", "e2e-oidc")
        plugin = v3.OidcAccessToken(
            auth_url=f"{federated_cloud.url}/identity/v3", identity_provider="e2e-oidc",
            protocol="openid", access_token=issuer.token(preferred_username="erin"),
            project_name="oidc-erin", project_domain_id=idp["domain_id"])
        access = plugin.get_access(ks_session.Session())
    assert access.project_name == "oidc-erin" and "member" in access.role_names
    assert access._data["token"]["user"]["name"] == "erin"


def test_domains_as_projects_config_and_revocations(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud)
    project = conn.identity.create_project(name="e2e-domain-project", is_domain=True)
    assert project.is_domain is True
    assert conn.identity.get_domain(project.id).name == "e2e-domain-project"
    assert project.id in [p.id for p in conn.identity.projects(is_domain=True)]
    sess, v3_url = conn.session, f"{running_cloud.url}/identity/v3"
    config = {"config": {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://e2e"}}}
    r = sess.put(f"{v3_url}/domains/{project.id}/config", json=config)
    assert r.status_code == 201
    assert sess.get(f"{v3_url}/domains/{project.id}/config/ldap/url").json() == {
        "config": {"url": "ldap://e2e"}}
    token = sess.get_token()
    audit_id = sess.get(f"{v3_url}/auth/tokens", headers={"X-Subject-Token": token}
                        ).json()["token"]["audit_ids"][0]
    r = sess.delete(f"{v3_url}/auth/tokens", headers={"X-Subject-Token": token})
    assert r.status_code == 204
    events = connect(running_cloud).session.get(f"{v3_url}/OS-REVOKE/events").json()["events"]
    assert audit_id in [e.get("audit_id") for e in events]
