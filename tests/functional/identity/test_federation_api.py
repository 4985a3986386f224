"""OS-FEDERATION resources: identity providers, mappings, protocols, service providers."""

from __future__ import annotations

import httpx

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import V3, add_user, headers_for, unique
from tests.functional.identity.people_helpers import grant

FED = f"{V3}/OS-FEDERATION"
H = dict[str, str]
RULES = [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "REMOTE_USER"}]}]


async def test_identity_provider_crud(client: httpx.AsyncClient, admin_headers: H) -> None:
    idp = unique("idp")
    r = await client.put(f"{FED}/identity_providers/{idp}",
                         json={"identity_provider": {"description": "corp"}},
                         headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()["identity_provider"]
    assert body["enabled"] is False and body["remote_ids"] == [] and body["description"] == "corp"
    assert body["links"]["protocols"].endswith(f"/identity_providers/{idp}/protocols")
    idp_domain = body["domain_id"]
    # it got a domain of its own, named after it
    domain = (await client.get(f"{V3}/domains/{body['domain_id']}", headers=admin_headers)
              ).json()["domain"]
    assert domain["name"] == idp
    r = await client.put(f"{FED}/identity_providers/{idp}", json={"identity_provider": {}},
                         headers=admin_headers)
    assert r.status_code == 409

    other = unique("idp")
    r = await client.put(f"{FED}/identity_providers/{other}", headers=admin_headers, json={
        "identity_provider": {"domain_id": "default", "enabled": True,
                              "remote_ids": ["https://idp.example/a", "https://idp.example/b"]}})
    assert r.status_code == 201
    assert sorted(r.json()["identity_provider"]["remote_ids"]) == [
        "https://idp.example/a", "https://idp.example/b"]
    # a remote id belongs to one provider only
    r = await client.patch(f"{FED}/identity_providers/{idp}", headers=admin_headers,
                           json={"identity_provider": {"remote_ids": ["https://idp.example/a"]}})
    assert r.status_code == 409
    r = await client.patch(f"{FED}/identity_providers/{idp}", headers=admin_headers,
                           json={"identity_provider": {"enabled": True, "remote_ids": ["x"]}})
    assert r.status_code == 200
    assert r.json()["identity_provider"]["enabled"] is True
    assert r.json()["identity_provider"]["remote_ids"] == ["x"]
    r = await client.get(f"{FED}/identity_providers", params={"id": other}, headers=admin_headers)
    assert [i["id"] for i in r.json()["identity_providers"]] == [other]
    r = await client.get(f"{FED}/identity_providers", params={"enabled": "false"},
                         headers=admin_headers)
    assert all(not i["enabled"] for i in r.json()["identity_providers"])

    for body in ({"identity_provider": {"domain_id": "nope"}},):
        r = await client.put(f"{FED}/identity_providers/{unique('i')}", json=body,
                             headers=admin_headers)
        assert r.status_code == 404
    for body in ({"identity_provider": {"enabled": "yes"}}, {"identity_provider": {"x": 1}},
                 {"identity_provider": {"remote_ids": "x"}}, {"identity_provider": []},
                 {"identity_provider": {"remote_ids": [""]}}, {}):
        r = await client.put(f"{FED}/identity_providers/{unique('i')}", json=body,
                             headers=admin_headers)
        assert r.status_code == 400, (body, r.text)
    r = await client.put(f"{FED}/identity_providers/{'i' * 65}", json={"identity_provider": {}},
                         headers=admin_headers)
    assert r.status_code == 400
    r = await client.patch(f"{FED}/identity_providers/{idp}", headers=admin_headers,
                           json={"identity_provider": {"domain_id": "default"}})
    assert r.status_code == 400  # the domain is fixed

    domain_url = f"{V3}/domains/{idp_domain}"
    await client.patch(domain_url, json={"domain": {"enabled": False}}, headers=admin_headers)
    r = await client.delete(domain_url, headers=admin_headers)
    assert r.status_code == 409 and idp in r.json()["error"]["message"]
    assert (await client.delete(f"{FED}/identity_providers/{idp}", headers=admin_headers)
            ).status_code == 204
    assert (await client.delete(domain_url, headers=admin_headers)).status_code == 204
    assert (await client.get(f"{FED}/identity_providers/{idp}", headers=admin_headers)
            ).status_code == 404
    # its remote ids are free again
    r = await client.put(f"{FED}/identity_providers/{unique('i')}", headers=admin_headers,
                         json={"identity_provider": {"domain_id": "default", "remote_ids": ["x"]}})
    assert r.status_code == 201


async def test_mappings(client: httpx.AsyncClient, admin_headers: H) -> None:
    mid = unique("map")
    r = await client.put(f"{FED}/mappings/{mid}", json={"mapping": {"rules": RULES}},
                         headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["mapping"]["rules"] == RULES and r.json()["mapping"]["schema_version"] == "1.0"
    assert (await client.put(f"{FED}/mappings/{mid}", json={"mapping": {"rules": RULES}},
                             headers=admin_headers)).status_code == 409
    new = [{"local": [{"user": {"name": "{0}"}}, {"group": {"id": "g"}}],
            "remote": [{"type": "REMOTE_USER"}, {"type": "ORG", "any_one_of": ["a", "b"]}]}]
    r = await client.patch(f"{FED}/mappings/{mid}", json={"mapping": {"rules": new}},
                           headers=admin_headers)
    assert r.status_code == 200 and r.json()["mapping"]["rules"] == new
    assert mid in [m["id"] for m in (await client.get(f"{FED}/mappings", headers=admin_headers)
                                     ).json()["mappings"]]
    bad_rules = [
        [],
        [{"local": [{"user": {"name": "x"}}]}],
        [{"local": [], "remote": [{"type": "A"}]}],
        [{"local": [{"user": {"name": "x", "type": "robot"}}], "remote": [{"type": "A"}]}],
        [{"local": [{"user": {}}], "remote": [{"type": "A", "any_one_of": ["a"],
                                               "not_any_of": ["b"]}]}],
        [{"local": [{"user": {}}], "remote": [{"type": "A", "any_one_of": ["("],
                                               "regex": True}]}],
        [{"local": [{"groups": "{0}"}], "remote": [{"type": "A"}]}],
        [{"local": [{"group": {"name": "g"}}], "remote": [{"type": "A"}]}],
        [{"local": [{"projects": [{"name": "p", "roles": [{"name": "member"}],
                                   "domain": {"id": "default"}}]}],
          "remote": [{"type": "A"}]}],
        [{"local": [{"user": {}}], "remote": [{"type": "A"}], "extra": 1}],
        "rules",
    ]
    for rules in bad_rules:
        r = await client.put(f"{FED}/mappings/{unique('m')}", json={"mapping": {"rules": rules}},
                             headers=admin_headers)
        assert r.status_code == 400, (rules, r.text)
    r = await client.put(f"{FED}/mappings/{unique('m')}", headers=admin_headers,
                         json={"mapping": {"rules": RULES, "schema_version": "9.9"}})
    assert r.status_code == 400
    r = await client.put(f"{FED}/mappings/{unique('m')}", headers=admin_headers, json={
        "mapping": {"rules": bad_rules[8], "schema_version": "2.0"}})
    assert r.status_code == 201  # a project's domain is schema 2.0
    assert (await client.delete(f"{FED}/mappings/{mid}", headers=admin_headers)).status_code == 204
    assert (await client.get(f"{FED}/mappings/{mid}", headers=admin_headers)).status_code == 404


async def test_protocols(client: httpx.AsyncClient, admin_headers: H) -> None:
    idp, mid, mid2 = unique("idp"), unique("map"), unique("map")
    await client.put(f"{FED}/identity_providers/{idp}", json={"identity_provider": {}},
                     headers=admin_headers)
    for m in (mid, mid2):
        await client.put(f"{FED}/mappings/{m}", json={"mapping": {"rules": RULES}},
                         headers=admin_headers)
    url = f"{FED}/identity_providers/{idp}/protocols"
    r = await client.put(f"{url}/saml2", json={"protocol": {"mapping_id": "nope"}},
                         headers=admin_headers)
    assert r.status_code == 400  # an unknown mapping
    r = await client.put(f"{url}/saml2", json={"protocol": {}}, headers=admin_headers)
    assert r.status_code == 400
    r = await client.put(f"{FED}/identity_providers/nope/protocols/saml2",
                         json={"protocol": {"mapping_id": mid}}, headers=admin_headers)
    assert r.status_code == 404
    r = await client.put(f"{url}/saml2", json={"protocol": {"mapping_id": mid}},
                         headers=admin_headers)
    assert r.status_code == 201, r.text
    p = r.json()["protocol"]
    assert p["id"] == "saml2" and p["mapping_id"] == mid
    assert p["links"]["identity_provider"].endswith(f"/identity_providers/{idp}")
    assert (await client.put(f"{url}/saml2", json={"protocol": {"mapping_id": mid}},
                             headers=admin_headers)).status_code == 409
    r = await client.patch(f"{url}/saml2", json={"protocol": {"mapping_id": "nope"}},
                           headers=admin_headers)
    assert r.status_code == 400
    r = await client.patch(f"{url}/saml2", headers=admin_headers, json={
        "protocol": {"mapping_id": mid2, "remote_id_attribute": "Shib-Identity-Provider"}})
    assert r.json()["protocol"]["mapping_id"] == mid2
    assert r.json()["protocol"]["remote_id_attribute"] == "Shib-Identity-Provider"
    assert [x["id"] for x in (await client.get(url, headers=admin_headers)).json()["protocols"]
            ] == ["saml2"]
    assert (await client.delete(f"{url}/saml2", headers=admin_headers)).status_code == 204
    assert (await client.get(f"{url}/saml2", headers=admin_headers)).status_code == 404


async def test_service_providers(client: httpx.AsyncClient, admin_headers: H) -> None:
    sp = unique("sp")
    good = {"auth_url": "https://other.example/v3/OS-FEDERATION/identity_providers/x/protocols/"
                        "saml2/auth", "sp_url": "https://other.example/Shibboleth.sso/SAML2/ECP"}
    r = await client.put(f"{FED}/service_providers/{sp}", json={"service_provider": good},
                         headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()["service_provider"]
    assert body["enabled"] is False and body["relay_state_prefix"] == "ss:mem:"
    assert body["description"] is None
    for bad in ({}, {"auth_url": good["auth_url"]}, {**good, "auth_url": "not a url"},
                {**good, "sp_url": "ftp://x"}, {**good, "enabled": "yes"}, {**good, "x": 1}):
        r = await client.put(f"{FED}/service_providers/{unique('sp')}",
                             json={"service_provider": bad}, headers=admin_headers)
        assert r.status_code == 400, (bad, r.text)
    r = await client.patch(f"{FED}/service_providers/{sp}", headers=admin_headers,
                           json={"service_provider": {"auth_url": "nope"}})
    assert r.status_code == 400
    r = await client.patch(f"{FED}/service_providers/{sp}", headers=admin_headers,
                           json={"service_provider": {"enabled": True, "relay_state_prefix": "p:"}})
    assert r.json()["service_provider"]["enabled"] is True

    # enabled service providers are listed in tokens with a catalog
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers,
                         "X-Subject-Token": admin_headers["X-Auth-Token"]})
    listed = r.json()["token"]["service_providers"]
    assert {"id": sp, "auth_url": good["auth_url"], "sp_url": good["sp_url"]} in listed
    await client.patch(f"{FED}/service_providers/{sp}", headers=admin_headers,
                       json={"service_provider": {"enabled": False}})
    r = await client.get(f"{V3}/auth/tokens", headers={**admin_headers,
                         "X-Subject-Token": admin_headers["X-Auth-Token"]})
    assert sp not in [s["id"] for s in r.json()["token"].get("service_providers", [])]
    assert (await client.delete(f"{FED}/service_providers/{sp}", headers=admin_headers)
            ).status_code == 204
    assert (await client.get(f"{FED}/service_providers/{sp}", headers=admin_headers)
            ).status_code == 404


async def test_federation_policy(client: httpx.AsyncClient, cloud: Cloud, admin_headers: H,
                                 demo_headers: H) -> None:
    reader = await add_user(cloud)
    await grant(cloud, reader, "system", "reader", "UserSystem")
    reader_headers = await headers_for(client, reader, system=True)
    writes = [("PUT", f"{FED}/identity_providers/{unique('i')}", {"identity_provider": {}}),
              ("PUT", f"{FED}/mappings/{unique('m')}", {"mapping": {"rules": RULES}}),
              ("PUT", f"{FED}/service_providers/{unique('s')}", {"service_provider": {
                  "auth_url": "http://a.example", "sp_url": "http://b.example"}})]
    reads = [f"{FED}/identity_providers", f"{FED}/mappings", f"{FED}/service_providers"]
    for method, url, body in writes:
        for headers in (demo_headers, reader_headers):
            r = await client.request(method, url, json=body, headers=headers)
            assert r.status_code == 403, (url, r.text)
    for url in reads:
        assert (await client.get(url, headers=demo_headers)).status_code == 403
        assert (await client.get(url, headers=reader_headers)).status_code == 200
        assert (await client.get(url)).status_code == 401
