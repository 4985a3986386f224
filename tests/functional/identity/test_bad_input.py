"""Hostile input to every write route of the Identity API, and hostile list query parameters.

The routes come from the app itself (so a new route is covered, or the test fails until it is
given a valid body below). Each answer must be a 4xx in Keystone's error format, never a 5xx,
and a refused create must leave nothing behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from oauthlib import oauth1

from onestack.server import Cloud
from tests.functional.identity.assignment_helpers import (
    PASSWORD,
    V3,
    add_domain,
    add_group,
    add_project,
    add_user,
    headers_for,
    new_role,
    unique,
)
from tests.functional.identity.people_helpers import grant
from tests.hostile import HUGE, RAW, WRONG

H = dict[str, str]



def walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of an app, through included routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from walk(inner.routes, prefix + route.include_context.prefix)
        else:
            for method in getattr(route, "methods", None) or ():
                yield method, prefix + route.path


@dataclass
class Ids:
    domain: str
    project: str
    user: str
    group: str
    role: str
    role2: str
    service: str
    endpoint: str
    policy: str
    credential: str
    trust: str
    member_headers: H
    endpoint_group: str = ""
    registered_limit: str = ""
    limit: str = ""
    consumer: str = ""
    request_token: str = ""
    idp: str = ""
    mapping: str = ""
    service_provider: str = ""
    ec2: tuple[str, str] = ("", "")  # (access, secret)


@pytest.fixture(scope="module")
async def ids(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> Ids:
    async def post(path: str, body: dict[str, Any], headers: H = admin_headers) -> dict[str, Any]:
        r = await client.post(V3 + path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        return dict(next(iter(v for k, v in r.json().items() if k != "links")))

    domain = await add_domain(cloud)
    project = await add_project(cloud, domain_id=domain)
    user = await add_user(cloud, domain_id=domain)
    await grant(cloud, user, project, "member")
    member = await headers_for(client, user, project_id=project)
    service = await post("/services", {"service": {"type": unique("t"), "name": unique("s")}})
    endpoint = await post(
        "/endpoints",
        {
            "endpoint": {
                "service_id": service["id"],
                "interface": "public",
                "url": "http://x.example",
            }
        },
    )
    async def post_one(path: str, key: str, item: dict[str, Any]) -> str:
        r = await client.post(V3 + path, json={key: [item]}, headers=admin_headers)
        assert r.status_code == 201, r.text
        return str(r.json()[key][0]["id"])

    registered_limit = await post_one(
        "/registered_limits",
        "registered_limits",
        {"service_id": service["id"], "resource_name": "r", "default_limit": 1},
    )
    limit = await post_one(
        "/limits",
        "limits",
        {"service_id": service["id"], "resource_name": "r", "resource_limit": 2,
         "project_id": project},
    )
    r = await client.post(f"{V3}/OS-OAUTH1/consumers", json={"consumer": {}}, headers=admin_headers)
    consumer = r.json()["consumer"]
    signer = oauth1.Client(consumer["id"], client_secret=consumer["secret"])
    _, signed, _ = signer.sign(f"http://testserver{V3}/OS-OAUTH1/request_token", "POST")
    r = await client.post(f"{V3}/OS-OAUTH1/request_token",
                          headers={**signed, "Requested-Project-Id": project})
    assert r.status_code == 201, r.text
    fed = f"{V3}/OS-FEDERATION"
    idp, mapping, sp = unique("idp"), unique("map"), unique("sp")
    for url, body in (
        (f"{fed}/identity_providers/{idp}", {"identity_provider": {}}),
        (f"{fed}/mappings/{mapping}", {"mapping": {"rules": RULES}}),
        (f"{fed}/identity_providers/{idp}/protocols/saml2", {"protocol": {"mapping_id": mapping}}),
        (f"{fed}/service_providers/{sp}", {"service_provider": SP}),
    ):
        made = await client.put(url, json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
    ec2 = await post(f"/users/{user}/credentials/OS-EC2", {"tenant_id": project})
    return Ids(
        ec2=(ec2["access"], ec2["secret"]),
        idp=idp,
        mapping=mapping,
        service_provider=sp,
        consumer=consumer["id"],
        request_token=parse_qs(r.text)["oauth_token"][0],
        registered_limit=registered_limit,
        limit=limit,
        domain=domain,
        project=project,
        user=user,
        group=await add_group(cloud, [user], domain_id=domain),
        role=(await new_role(client, admin_headers))["id"],
        role2=(await new_role(client, admin_headers))["id"],
        service=service["id"],
        endpoint=endpoint["id"],
        policy=(await post("/policies", {"policy": {"blob": "{}", "type": "application/json"}}))[
            "id"
        ],
        credential=(
            await post(
                "/credentials", {"credential": {"user_id": user, "type": "cert", "blob": "b"}}
            )
        )["id"],
        trust=(
            await post(
                "/OS-TRUST/trusts",
                {
                    "trust": {
                        "trustor_user_id": user,
                        "trustee_user_id": user,
                        "project_id": project,
                        "impersonation": False,
                        "roles": [{"name": "member"}],
                    }
                },
                member,
            )
        )["id"],
        member_headers=member,
        endpoint_group=(
            await post(
                "/OS-EP-FILTER/endpoint_groups",
                {"endpoint_group": {"name": unique("eg"), "filters": {"interface": "public"}}},
            )
        )["id"],
    )


def signed_request(i: Ids) -> dict[str, Any]:
    """An S3 SigV2 request signed with the fixture user's EC2 secret."""
    import base64
    import hashlib
    import hmac

    access, secret = i.ec2
    sts = "GET\n\n\nTue, 01 Dec 2026 00:00:00 GMT\n/bucket/"
    sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest())
    return {"credentials": {"access": access, "token": base64.b64encode(sts.encode()).decode(),
                            "signature": sig.decode()}}


# -- valid bodies: each hostile case changes one thing of one of these ---------------------------
RULES = [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "REMOTE_USER"}]}]
SP = {"auth_url": "http://a.example/v3", "sp_url": "http://b.example/sp", "enabled": False}
Body = Callable[[Ids], dict[str, Any]]
VALID: dict[tuple[str, str], Body] = {
    ("POST", "/v3/domains"): lambda i: {"domain": {"name": unique("d"), "enabled": True}},
    ("PATCH", "/v3/domains/{domain_id}"): lambda i: {"domain": {"description": "d"}},
    ("POST", "/v3/projects"): lambda i: {
        "project": {"name": unique("p"), "domain_id": i.domain, "enabled": True, "tags": ["a"]}
    },
    ("PATCH", "/v3/projects/{project_id}"): lambda i: {"project": {"description": "d"}},
    ("PUT", "/v3/projects/{project_id}/tags"): lambda i: {"tags": ["a", "b"]},
    ("POST", "/v3/users"): lambda i: {
        "user": {"name": unique("u"), "domain_id": i.domain, "enabled": True, "password": PASSWORD}
    },
    ("PATCH", "/v3/users/{user_id}"): lambda i: {"user": {"description": "d"}},
    ("POST", "/v3/users/{user_id}/password"): lambda i: {
        "user": {"original_password": "wrong-one", "password": "N3w-passw0rd"}
    },
    ("POST", "/v3/groups"): lambda i: {"group": {"name": unique("g"), "domain_id": i.domain}},
    ("PATCH", "/v3/groups/{group_id}"): lambda i: {"group": {"description": "d"}},
    ("POST", "/v3/roles"): lambda i: {"role": {"name": unique("r"), "description": "d"}},
    ("PATCH", "/v3/roles/{role_id}"): lambda i: {"role": {"description": "d"}},
    ("POST", "/v3/regions"): lambda i: {"region": {"id": unique("reg"), "description": "d"}},
    ("PUT", "/v3/regions/{region_id}"): lambda i: {"region": {"description": "d"}},
    ("PATCH", "/v3/regions/{region_id}"): lambda i: {"region": {"description": "d"}},
    ("POST", "/v3/services"): lambda i: {
        "service": {"type": unique("t"), "name": "n", "enabled": True}
    },
    ("PATCH", "/v3/services/{service_id}"): lambda i: {"service": {"description": "d"}},
    ("POST", "/v3/endpoints"): lambda i: {
        "endpoint": {
            "service_id": i.service,
            "interface": "public",
            "url": "http://y.example",
            "enabled": True,
        }
    },
    ("PATCH", "/v3/endpoints/{endpoint_id}"): lambda i: {"endpoint": {"url": "http://z.example"}},
    ("POST", "/v3/policies"): lambda i: {"policy": {"blob": "{}", "type": "application/json"}},
    ("PATCH", "/v3/policies/{policy_id}"): lambda i: {"policy": {"blob": "{}"}},
    ("POST", "/v3/credentials"): lambda i: {
        "credential": {"user_id": i.user, "type": "cert", "blob": "b", "project_id": i.project}
    },
    ("PATCH", "/v3/credentials/{credential_id}"): lambda i: {"credential": {"blob": "c"}},
    ("POST", "/v3/users/{user_id}/credentials/OS-EC2"): lambda i: {"tenant_id": i.project},
    ("POST", "/v3/s3tokens"): lambda i: signed_request(i),
    ("POST", "/v3/ec2tokens"): lambda i: signed_request(i),
    ("POST", "/v3/users/{user_id}/application_credentials"): lambda i: {
        "application_credential": {"name": unique("ac"), "unrestricted": False}
    },
    ("POST", "/v3/OS-TRUST/trusts"): lambda i: {
        "trust": {
            "trustor_user_id": i.user,
            "trustee_user_id": i.user,
            "project_id": i.project,
            "impersonation": False,
            "remaining_uses": 3,
            "roles": [{"name": "member"}],
        }
    },
    ("POST", "/v3/OS-EP-FILTER/endpoint_groups"): lambda i: {
        "endpoint_group": {
            "name": unique("eg"),
            "description": "d",
            "filters": {"service_id": i.service, "interface": "public"},
        }
    },
    ("PATCH", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}"): lambda i: {
        "endpoint_group": {"description": "d", "filters": {"interface": "internal"}}
    },
    ("POST", "/v3/registered_limits"): lambda i: {
        "registered_limits": [
            {"service_id": i.service, "resource_name": unique("r"), "default_limit": 5}
        ]
    },
    ("PATCH", "/v3/registered_limits/{registered_limit_id}"): lambda i: {
        "registered_limit": {"description": "d"}
    },
    ("POST", "/v3/limits"): lambda i: {
        "limits": [
            {"service_id": i.service, "resource_name": "r", "resource_limit": 3,
             "domain_id": i.domain}
        ]
    },
    ("PATCH", "/v3/limits/{limit_id}"): lambda i: {"limit": {"description": "d"}},
    ("PUT", "/v3/domains/{domain_id}/config"): lambda i: {
        "config": {"ldap": {"url": "ldap://x", "page_size": 5}}
    },
    ("PATCH", "/v3/domains/{domain_id}/config"): lambda i: {"config": {"ldap": {"url": "l"}}},
    ("PATCH", "/v3/domains/{domain_id}/config/{group}"): lambda i: {
        "config": {"ldap": {"url": "ldap://y"}}
    },
    ("PATCH", "/v3/domains/{domain_id}/config/{group}/{option}"): lambda i: {
        "config": {"url": "ldap://z"}
    },
    ("POST", "/v3/OS-OAUTH1/consumers"): lambda i: {"consumer": {"description": "d"}},
    ("PATCH", "/v3/OS-OAUTH1/consumers/{consumer_id}"): lambda i: {
        "consumer": {"description": "d"}
    },
    ("PUT", "/v3/OS-OAUTH1/authorize/{request_token_id}"): lambda i: {
        "roles": [{"name": "member"}]
    },
    ("PUT", "/v3/OS-FEDERATION/identity_providers/{idp_id}"): lambda i: {
        "identity_provider": {"description": "d", "enabled": True, "remote_ids": [unique("r")]}
    },
    ("PATCH", "/v3/OS-FEDERATION/identity_providers/{idp_id}"): lambda i: {
        "identity_provider": {"description": "d", "enabled": True}
    },
    ("PUT", "/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}"): lambda i: {
        "protocol": {"mapping_id": i.mapping}
    },
    ("PATCH", "/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}"): (
        lambda i: {"protocol": {"mapping_id": i.mapping}}
    ),
    ("PUT", "/v3/OS-FEDERATION/mappings/{mapping_id}"): lambda i: {
        "mapping": {"rules": RULES, "schema_version": "1.0"}
    },
    ("PATCH", "/v3/OS-FEDERATION/mappings/{mapping_id}"): lambda i: {"mapping": {"rules": RULES}},
    ("PUT", "/v3/OS-FEDERATION/service_providers/{sp_id}"): lambda i: {"service_provider": SP},
    ("PATCH", "/v3/OS-FEDERATION/service_providers/{sp_id}"): lambda i: {
        "service_provider": {"description": "d"}
    },
    ("POST", "/v3/auth/tokens"): lambda i: {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": i.user, "password": PASSWORD}},
            }
        }
    },
}
#: Routes whose caller must be the user itself (the admin may not act for it).
AS_MEMBER = {
    "/v3/users/{user_id}/application_credentials",
    "/v3/OS-TRUST/trusts",
    "/v3/users/{user_id}/password",
    "/v3/OS-OAUTH1/authorize/{request_token_id}",
}
#: Routes that read no JSON body: the OAuth signature is their input (test_oauth1.py).
SIGNED = {("POST", "/v3/OS-OAUTH1/request_token"), ("POST", "/v3/OS-OAUTH1/access_token")}
#: Routes whose input is a trusted front end's assertion (test_federation_auth.py).
ASSERTED = {
    ("POST", "/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/auth"),
    ("POST", "/v3/auth/OS-FEDERATION/websso/{protocol_id}"),
    ("POST", "/v3/auth/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/websso"),
}
#: PUT routes that create the resource their path names: the valid body gets a new id.
CREATED_BY_PUT = {
    "/v3/OS-FEDERATION/identity_providers/{idp_id}",
    "/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}",
    "/v3/OS-FEDERATION/mappings/{mapping_id}",
    "/v3/OS-FEDERATION/service_providers/{sp_id}",
}


def fill(path: str, i: Ids) -> str:
    """A route path with real ids, so the body (not a missing id) decides the answer."""
    target = i.project if "/projects/{target_id}" in path else i.domain
    actor = i.group if "/groups/{actor_id}" in path else i.user
    values = {
        "domain_id": i.domain,
        "project_id": i.project,
        "user_id": i.user,
        "group_id": i.group,
        "role_id": i.role,
        "service_id": i.service,
        "endpoint_id": i.endpoint,
        "policy_id": i.policy,
        "credential_id": i.credential,
        "region_id": "RegionOne",
        "target_id": target,
        "actor_id": actor,
        "prior_role_id": i.role,
        "implied_role_id": i.role2,
        "tag": "t",
        "trust_id": i.trust,
        "endpoint_group_id": i.endpoint_group,
        "registered_limit_id": i.registered_limit,
        "limit_id": i.limit,
        "group": "ldap",
        "option": "url",
        "consumer_id": i.consumer,
        "request_token_id": i.request_token,
        "idp_id": i.idp,
        "protocol_id": "saml2",
        "mapping_id": i.mapping,
        "sp_id": i.service_provider,
    }
    # ids no fixture makes (an access token, an identity provider ...): an unknown one
    return path.format_map(defaultdict(lambda: "unknown", values))


def write_routes(cloud: Cloud) -> list[tuple[str, str]]:
    return sorted(
        (m, p) for m, p in walk(cloud.identity.app.routes) if m in ("POST", "PUT", "PATCH")
    )


def test_every_body_route_has_a_valid_body(cloud: Cloud) -> None:
    """A write route that reads a body must be listed in VALID (so it gets the hostile set)."""
    bodyless = {
        (m, p)
        for m, p in write_routes(cloud)
        if m == "PUT"
        and ("/roles/" in p or "/tags/" in p or "/users/{user_id}" in p or "/OS-EP-FILTER/" in p)
    }
    missing = set(write_routes(cloud)) - bodyless - SIGNED - ASSERTED - set(VALID)
    assert not missing, sorted(missing)
    assert set(VALID) <= set(write_routes(cloud))


def _fits(name: str, good: Any) -> bool:
    """Whether the WRONG value ``name`` is in fact a valid value of ``good``'s type."""
    if isinstance(good, bool):
        return name == "true"
    if isinstance(good, int):
        return name == "int"
    return isinstance(good, list) and name == "list"


def cases(valid: dict[str, Any]) -> Iterator[tuple[str, bytes | Any]]:
    """(name, body) hostile variants of a valid body; bytes are sent raw."""
    yield from RAW.items()
    key = next(iter(valid))
    inner = valid[key]
    yield "empty-object", {}
    for name, value in {"null": None, "list": [], "string": "x", "number": 3}.items():
        if not _fits(name, inner):
            yield f"{key}={name}", {key: value}
    yield "unknown-top", {**valid, "zz_unknown": 1}
    if not isinstance(inner, dict):
        for name, value in WRONG.items():
            if not _fits(name, inner):
                yield f"{key}={name}", {key: value}
        return
    for field, good in inner.items():
        for name, value in WRONG.items():
            if not _fits(name, good):
                yield f"{key}.{field}={name}", {key: {**inner, field: value}}
        if isinstance(good, list):
            yield f"{key}.{field}=[wrong]", {key: {**inner, field: [{"a": HUGE}, 3]}}


async def _count(client: httpx.AsyncClient, admin: H, path: str) -> int | None:
    """How many items the collection a POST creates into holds (None if not listable)."""
    if "{" in path or path.endswith(("/tokens", "/password", "/trusts")):
        return None
    r = await client.get(V3 + path.removeprefix("/v3") + "?limit=10000", headers=admin)
    if r.status_code != 200:
        return None
    body = r.json()
    return len(next(v for k, v in body.items() if k != "links"))


def _is_error(r: httpx.Response) -> bool:
    if r.request.method == "HEAD":
        return True
    try:
        error = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return set(error) == {"code", "title", "message"} and error["code"] == r.status_code


async def _send(
    client: httpx.AsyncClient, method: str, url: str, body: Any, headers: H
) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.request(
            method, url, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    return await client.request(method, url, json=body, headers=headers)


async def test_hostile_bodies(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H, ids: Ids
) -> None:
    problems: list[str] = []
    for (method, path), make in sorted(VALID.items()):
        headers = ids.member_headers if path in AS_MEMBER else admin_headers
        url = V3 + fill(path, ids).removeprefix("/v3")
        before = await _count(client, admin_headers, path) if method == "POST" else None
        created = 0
        for name, body in cases(make(ids)):
            r = await _send(client, method, url, body, headers)
            if r.status_code < 300 and name.startswith("unknown-top"):
                created += method == "POST"
                continue  # Keystone ignores unknown top-level keys
            if not (400 <= r.status_code < 500 and _is_error(r)):
                problems.append(f"{method} {path} [{name}]: {r.status_code} {r.text[:150]}")
        if before is not None:
            after = await _count(client, admin_headers, path)
            if after != before + created:
                problems.append(f"{method} {path}: {before} -> {after} items after refusals")
    assert not problems, "\n".join(problems)


async def test_valid_bodies_are_accepted(
    client: httpx.AsyncClient, admin_headers: H, ids: Ids
) -> None:
    """The baseline the hostile cases start from is itself accepted (no false pass)."""
    problems = []
    for (method, path), make in sorted(VALID.items()):
        if path.endswith("/password"):
            continue  # the valid shape with a wrong original password: 401 by design
        headers = ids.member_headers if path in AS_MEMBER else admin_headers
        url = V3 + fill(path, ids).removeprefix("/v3")
        if method == "PUT" and path == "/v3/regions/{region_id}":
            url = f"{V3}/regions/{unique('reg')}"
        if method == "PUT" and path in CREATED_BY_PUT:
            url = f"{url.rsplit('/', 1)[0]}/{unique('new')}"
        r = await _send(client, method, url, make(ids), headers)
        if r.status_code >= 300:
            problems.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


# -- hostile query parameters on the lists --------------------------------------------------------
QUERIES = [
    "limit=-1",
    "limit=abc",
    "limit=99999999999999999999999",
    "limit=1.5",
    "marker=unknown-marker",
    "marker=%00",
    "sort_key=password_hash",
    "sort_key=name&sort_dir=sideways",
    "sort=id:up",
    "sort=__class__",
    f"name={'n' * 20_000}",
    f"domain_id={'d' * 20_000}",
    "enabled=maybe",
    "name=%00",
    "password_expires_at=lt:not-a-date",
    "password_expires_at=zz:2020-01-01T00:00:00Z",
    "tags=" + ",".join(f"t{n}" for n in range(2000)),
    "not-tags-any=" + ",".join(["t"] * 2000),
    "parent_id=%00",
    "user.id=%00&effective=true",
    "scope.system=some",
]


def list_routes(cloud: Cloud) -> list[str]:
    return sorted(
        p
        for m, p in walk(cloud.identity.app.routes)
        if m == "GET" and not p.endswith("}") and "auth/tokens" not in p
    )


async def test_hostile_query_parameters(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: H, ids: Ids
) -> None:
    problems = []
    for path in list_routes(cloud):
        url = V3 + fill(path, ids).removeprefix("/v3")
        for query in QUERIES:
            r = await client.get(f"{url}?{query}", headers=admin_headers)
            if r.status_code >= 500 or (r.status_code >= 400 and not _is_error(r)):
                problems.append(f"GET {path}?{query[:40]}: {r.status_code} {r.text[:150]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "query", ["limit=-1", "limit=abc", "sort_key=password_hash", "marker=unknown-marker"]
)
async def test_bad_paging_is_refused(
    client: httpx.AsyncClient, admin_headers: H, query: str
) -> None:
    r = await client.get(f"{V3}/users?{query}", headers=admin_headers)
    assert r.status_code in (400, 404), r.text
    assert _is_error(r)


@pytest.mark.parametrize("path", ["/users/a%00b", "/projects/%00", "/domains/x%00/users"])
async def test_nul_in_the_url_is_refused(
    client: httpx.AsyncClient, admin_headers: H, path: str
) -> None:
    r = await client.get(V3 + path, headers=admin_headers)
    assert r.status_code == 400 and _is_error(r), r.text
