"""The domain configuration API: /v3/domains/{id}/config[/{group}[/{option}]] and defaults."""

from __future__ import annotations

import httpx

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    V3,
    add_domain,
    add_user,
    headers_for,
)
from tests.functional.identity.people_helpers import domain_admin, grant

LDAP = {"url": "ldap://ldap.example.org", "user_tree_dn": "ou=Users,dc=example,dc=org"}


def _forbidden(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert r.json()["error"]["title"] == "Forbidden"


async def test_config_lifecycle(client: httpx.AsyncClient, cloud: Cloud,
                                admin_headers: dict[str, str]) -> None:
    domain = await add_domain(cloud)
    url = f"{V3}/domains/{domain}/config"
    assert (await client.get(url, headers=admin_headers)).status_code == 404
    body = {"config": {"identity": {"driver": "ldap"}, "ldap": {**LDAP, "password": "s3cret"}}}
    r = await client.put(url, json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    # the sensitive password is stored but never shown
    assert r.json() == {"config": {"identity": {"driver": "ldap"}, "ldap": LDAP}}
    r = await client.put(url, json=body, headers=admin_headers)
    assert r.status_code == 200  # replacing an existing config
    assert (await client.get(url, headers=admin_headers)).json()["config"]["ldap"] == LDAP

    r = await client.get(f"{url}/ldap", headers=admin_headers)
    assert r.json() == {"config": {"ldap": LDAP}}
    r = await client.get(f"{url}/ldap/url", headers=admin_headers)
    assert r.json() == {"config": {"url": LDAP["url"]}}
    assert (await client.get(f"{url}/ldap/password", headers=admin_headers)).status_code == 404
    assert (await client.get(f"{url}/ldap/user_filter", headers=admin_headers)).status_code == 404

    # merge a whole config, update a group, update an option
    r = await client.patch(url, json={"config": {"ldap": {"user_filter": "(a=b)"}}},
                           headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["config"]["ldap"] == {**LDAP, "user_filter": "(a=b)"}
    r = await client.patch(f"{url}/ldap", json={"config": {"ldap": {"url": "ldap://x"}}},
                           headers=admin_headers)
    assert r.json()["config"]["ldap"]["url"] == "ldap://x"
    r = await client.patch(f"{url}/ldap/url", json={"config": {"url": "ldap://y"}},
                           headers=admin_headers)
    assert r.status_code == 200 and r.json()["config"]["ldap"]["url"] == "ldap://y"
    assert r.json()["config"]["identity"] == {"driver": "ldap"}

    # delete an option, a group, the whole config
    assert (await client.delete(f"{url}/ldap/user_filter", headers=admin_headers)
            ).status_code == 204
    assert (await client.delete(f"{url}/ldap/user_filter", headers=admin_headers)
            ).status_code == 404
    assert (await client.delete(f"{url}/identity", headers=admin_headers)).status_code == 204
    assert (await client.get(f"{url}/identity", headers=admin_headers)).status_code == 404
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert (await client.get(url, headers=admin_headers)).status_code == 404


async def test_config_errors(client: httpx.AsyncClient, cloud: Cloud,
                             admin_headers: dict[str, str]) -> None:
    domain = await add_domain(cloud)
    url = f"{V3}/domains/{domain}/config"
    for config in ({}, {"ldap": {}}, {"ldap": "x"}, {"nope": {"a": 1}},
                   {"ldap": {"not_an_option": 1}}, {"identity": {"driver": {"a": 1}}}):
        _forbidden(await client.put(url, json={"config": config}, headers=admin_headers))
    for body in ({}, {"config": "x"}, {"config": {"ldap": LDAP}, "extra": 1}, [1]):
        r = await client.put(url, json=body, headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.put(url, content=b"{nope", headers=admin_headers)
    assert r.status_code == 400
    assert (await client.get(url, headers=admin_headers)).status_code == 404  # nothing stored

    r = await client.put(f"{V3}/domains/nope/config", json={"config": {"ldap": LDAP}},
                         headers=admin_headers)
    assert r.status_code == 404
    _forbidden(await client.get(f"{url}/nope", headers=admin_headers))
    _forbidden(await client.get(f"{url}/ldap/nope", headers=admin_headers))

    await client.put(url, json={"config": {"ldap": LDAP}}, headers=admin_headers)
    # a group or option update names just that group or option, which must exist
    _forbidden(await client.patch(f"{url}/ldap", json={"config": {"identity": {"driver": "x"}}},
                                  headers=admin_headers))
    _forbidden(await client.patch(
        f"{url}/ldap", json={"config": {"ldap": LDAP, "identity": {"driver": "x"}}},
        headers=admin_headers))
    _forbidden(await client.patch(f"{url}/ldap/url", json={"config": {"suffix": "x"}},
                                  headers=admin_headers))
    r = await client.patch(f"{url}/identity", json={"config": {"identity": {"driver": "x"}}},
                           headers=admin_headers)
    assert r.status_code == 404
    r = await client.patch(f"{url}/ldap/suffix", json={"config": {"suffix": "x"}},
                           headers=admin_headers)
    assert r.status_code == 404
    assert (await client.get(url, headers=admin_headers)).json()["config"] == {"ldap": LDAP}

    # the config goes with its domain
    await client.patch(f"{V3}/domains/{domain}", json={"domain": {"enabled": False}},
                       headers=admin_headers)
    assert (await client.delete(f"{V3}/domains/{domain}", headers=admin_headers)
            ).status_code == 204
    assert (await client.get(url, headers=admin_headers)).status_code == 404


async def test_defaults(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.get(f"{V3}/domains/config/default", headers=admin_headers)
    assert r.status_code == 200
    config = r.json()["config"]
    assert config["identity"]["driver"] == "sql"
    assert config["ldap"]["user_objectclass"] == "inetOrgPerson"
    assert "password" not in config["ldap"]
    r = await client.get(f"{V3}/domains/config/ldap/default", headers=admin_headers)
    assert r.json() == {"config": {"ldap": config["ldap"]}}
    r = await client.get(f"{V3}/domains/config/ldap/url/default", headers=admin_headers)
    assert r.json() == {"config": {"url": "ldap://localhost"}}
    _forbidden(await client.get(f"{V3}/domains/config/ldap/password/default",
                                headers=admin_headers))
    _forbidden(await client.get(f"{V3}/domains/config/nope/default", headers=admin_headers))
    _forbidden(await client.get(f"{V3}/domains/config/ldap/nope/default", headers=admin_headers))


async def test_security_compliance(client: httpx.AsyncClient, demo_headers: dict[str, str]
                                   ) -> None:
    url = f"{V3}/domains/default/config/security_compliance"
    r = await client.get(url, headers=demo_headers)  # any user reads the password rules
    assert r.status_code == 200
    assert set(r.json()["config"]["security_compliance"]) == {
        "password_regex", "password_regex_description"}
    r = await client.get(f"{url}/password_regex", headers=demo_headers)
    assert r.json() == {"config": {"password_regex": None}}
    _forbidden(await client.get(f"{url}/lockout_duration", headers=demo_headers))
    _forbidden(await client.get(f"{V3}/domains/other/config/security_compliance",
                                headers=demo_headers))


async def test_config_policy(client: httpx.AsyncClient, cloud: Cloud,
                             admin_headers: dict[str, str], demo_headers: dict[str, str]) -> None:
    domain = await add_domain(cloud)
    url = f"{V3}/domains/{domain}/config"
    await client.put(url, json={"config": {"ldap": LDAP}}, headers=admin_headers)
    reader = await add_user(cloud)
    await grant(cloud, reader, "system", "reader", "UserSystem")
    reader_headers = await headers_for(client, reader, system=True)
    assert (await client.get(url, headers=reader_headers)).status_code == 200
    assert (await client.get(f"{V3}/domains/config/default", headers=reader_headers)
            ).status_code == 200
    _forbidden(await client.put(url, json={"config": {"ldap": LDAP}}, headers=reader_headers))
    _forbidden(await client.delete(url, headers=reader_headers))
    # a member, and even the admin of that very domain, neither read nor write it
    _, domain_admin_headers = await domain_admin(client, cloud, admin_headers)
    for headers in (demo_headers, domain_admin_headers):
        _forbidden(await client.get(url, headers=headers))
        _forbidden(await client.get(f"{V3}/domains/config/default", headers=headers))
        _forbidden(await client.patch(url, json={"config": {"ldap": LDAP}}, headers=headers))
        _forbidden(await client.delete(f"{url}/ldap", headers=headers))
    assert (await client.get(url)).status_code == 401
