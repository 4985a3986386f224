"""Multi-tenancy: every non-cloud-admin persona of tenant A against everything of tenant B.

Two domains, each with a domain admin, a project with a member and a reader, a group, a
domain-specific role, a credential, an EC2 credential, an application credential and a trust.
Each persona of A (project member, project reader, domain admin, unscoped token, application
credential token, trust-scoped token) tries to list / show / create / update / delete every
kind of B's resources: each try is refused (403/404) or, for lists, shows nothing of B; and B's
state, as a cloud admin sees it, is the same afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

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
    role_id,
    token_valid,
    unique,
)
from tests.functional.identity.people_helpers import grant

H = dict[str, str]
PERSONAS = ("member", "reader", "domain_admin", "unscoped", "app_cred", "trust")


@dataclass
class Tenant:
    """One domain's people and things (ids), and its member's project-scoped token."""

    domain: str
    project: str
    member: str
    reader: str
    dadmin: str
    trustee: str
    group: str
    role: str = ""
    credential: str = ""
    ec2: str = ""
    app_cred: str = ""
    app_secret: str = ""
    trust: str = ""
    member_headers: H = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def secrets(self) -> set[str]:
        """What must never show up in an answer to the other tenant."""
        ids = {self.domain, self.project, self.member, self.reader, self.dadmin, self.trustee}
        ids |= {self.group, self.role, self.credential, self.ec2, self.app_cred, self.trust}
        return ids | set(self.names)


@dataclass
class World:
    a: Tenant
    b: Tenant
    admin: H
    personas: dict[str, H]
    member_role: str
    admin_role: str


async def _ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


async def _tenant(cloud: Cloud, client: httpx.AsyncClient, admin: H, tag: str) -> Tenant:
    names = {k: unique(f"{tag}-{k}") for k in ("dom", "proj", "mem", "rdr", "dadm", "tee")}
    domain = await add_domain(cloud, names["dom"])
    project = await add_project(cloud, names["proj"], domain_id=domain)
    member = await add_user(cloud, names["mem"], domain_id=domain)
    reader = await add_user(cloud, names["rdr"], domain_id=domain)
    dadmin = await add_user(cloud, names["dadm"], domain_id=domain)
    trustee = await add_user(cloud, names["tee"], domain_id=domain)
    await grant(cloud, member, project, "member")
    await grant(cloud, reader, project, "reader")
    await grant(cloud, dadmin, domain, "admin", "UserDomain")
    t = Tenant(
        domain,
        project,
        member,
        reader,
        dadmin,
        trustee,
        await add_group(cloud, [member], domain_id=domain),
        names=list(names.values()),
    )
    t.role = (await new_role(client, admin, domain_id=domain))["id"]
    t.member_headers = await headers_for(client, member, project_id=project)
    mh = t.member_headers
    cred = {"user_id": member, "type": "cert", "blob": "b-" + tag, "project_id": project}
    r = await client.post(f"{V3}/credentials", json={"credential": cred}, headers=admin)
    t.credential = (await _ok(r))["credential"]["id"]
    r = await client.post(
        f"{V3}/users/{member}/credentials/OS-EC2", json={"tenant_id": project}, headers=mh
    )
    t.ec2 = (await _ok(r))["credential"]["access"]
    r = await client.post(
        f"{V3}/users/{member}/application_credentials",
        json={"application_credential": {"name": unique("ac")}},
        headers=mh,
    )
    body = (await _ok(r))["application_credential"]
    t.app_cred, t.app_secret = body["id"], body["secret"]
    trust = {
        "trustor_user_id": member,
        "trustee_user_id": trustee,
        "project_id": project,
        "impersonation": False,
        "roles": [{"name": "member"}],
    }
    r = await client.post(f"{V3}/OS-TRUST/trusts", json={"trust": trust}, headers=mh)
    t.trust = (await _ok(r))["trust"]["id"]
    return t


async def _token(client: httpx.AsyncClient, auth: dict[str, Any]) -> H:
    r = await client.post(f"{V3}/auth/tokens", json={"auth": auth})
    assert r.status_code == 201, r.text
    return {"X-Auth-Token": r.headers["X-Subject-Token"]}


async def _personas(client: httpx.AsyncClient, a: Tenant) -> dict[str, H]:
    password = {
        "methods": ["password"],
        "password": {"user": {"id": a.trustee, "password": PASSWORD}},
    }
    app_cred = {
        "methods": ["application_credential"],
        "application_credential": {"id": a.app_cred, "secret": a.app_secret},
    }
    return {
        "member": a.member_headers,
        "reader": await headers_for(client, a.reader, project_id=a.project),
        "domain_admin": await headers_for(client, a.dadmin, domain_id=a.domain),
        "unscoped": await headers_for(client, a.member),
        "app_cred": await _token(client, {"identity": app_cred}),
        "trust": await _token(
            client, {"identity": password, "scope": {"OS-TRUST:trust": {"id": a.trust}}}
        ),
    }


@pytest.fixture(scope="module")
async def world(cloud: Cloud, client: httpx.AsyncClient, admin_headers: H) -> World:
    a = await _tenant(cloud, client, admin_headers, "a")
    b = await _tenant(cloud, client, admin_headers, "b")
    return World(
        a,
        b,
        admin_headers,
        await _personas(client, a),
        await role_id(cloud, "member"),
        await role_id(cloud, "admin"),
    )


# -- the probes ---------------------------------------------------------------------------------
#: (method, path, body): paths and bodies are formatted with a (the caller's tenant), b (the
#: other one), mr / ar (the member and admin role ids). GETs of collections may answer 200 if
#: nothing of b shows; everything else must be refused.
Probe = tuple[str, str, Any]
PROBES: list[Probe] = [
    # domains
    ("GET", "/domains", None),
    ("GET", "/domains/{b.domain}", None),
    ("PATCH", "/domains/{b.domain}", {"domain": {"description": "pwned"}}),
    ("DELETE", "/domains/{b.domain}", None),
    ("POST", "/domains", {"domain": {"name": "evil-domain"}}),
    # projects and tags
    ("GET", "/projects", None),
    ("GET", "/projects?domain_id={b.domain}", None),
    ("GET", "/projects?name={b.names[1]}", None),
    ("GET", "/projects/{b.project}", None),
    ("GET", "/projects/{b.project}?subtree_as_ids&parents_as_ids", None),
    ("PATCH", "/projects/{b.project}", {"project": {"description": "pwned"}}),
    ("DELETE", "/projects/{b.project}", None),
    ("POST", "/projects", {"project": {"name": "evil-p", "domain_id": "{b.domain}"}}),
    ("POST", "/projects", {"project": {"name": "evil-p", "parent_id": "{b.project}"}}),
    ("POST", "/projects", {"project": {"name": "evil-p", "parent_id": "{b.domain}"}}),
    ("GET", "/projects/{b.project}/tags", None),
    ("PUT", "/projects/{b.project}/tags", {"tags": ["pwned"]}),
    ("PUT", "/projects/{b.project}/tags/pwned", None),
    ("GET", "/projects/{b.project}/tags/pwned", None),
    ("DELETE", "/projects/{b.project}/tags", None),
    # users
    ("GET", "/users", None),
    ("GET", "/users?domain_id={b.domain}", None),
    ("GET", "/users?name={b.names[2]}", None),
    ("GET", "/users/{b.member}", None),
    ("PATCH", "/users/{b.member}", {"user": {"enabled": False}}),
    ("PATCH", "/users/{b.member}", {"user": {"password": "pwned-Passw0rd"}}),
    ("DELETE", "/users/{b.member}", None),
    ("POST", "/users", {"user": {"name": "evil-u", "domain_id": "{b.domain}"}}),
    # (POST /users/{id}/password is proved by the original password, not by the token: see
    # test_users.py::test_password_change_is_proved_by_the_original_password)
    ("GET", "/users/{b.member}/projects", None),
    ("GET", "/users/{b.member}/groups", None),
    # groups and membership
    ("GET", "/groups", None),
    ("GET", "/groups?domain_id={b.domain}", None),
    ("GET", "/groups/{b.group}", None),
    ("PATCH", "/groups/{b.group}", {"group": {"description": "pwned"}}),
    ("DELETE", "/groups/{b.group}", None),
    ("POST", "/groups", {"group": {"name": "evil-g", "domain_id": "{b.domain}"}}),
    ("GET", "/groups/{b.group}/users", None),
    ("GET", "/groups/{b.group}/users/{b.member}", None),
    ("HEAD", "/groups/{b.group}/users/{b.member}", None),
    ("PUT", "/groups/{b.group}/users/{a.member}", None),
    ("PUT", "/groups/{a.group}/users/{b.member}", None),
    ("DELETE", "/groups/{b.group}/users/{b.member}", None),
    # roles: the other domain's domain-specific role
    ("GET", "/roles?domain_id={b.domain}", None),
    ("GET", "/roles/{b.role}", None),
    ("PATCH", "/roles/{b.role}", {"role": {"description": "pwned"}}),
    ("DELETE", "/roles/{b.role}", None),
    ("POST", "/roles", {"role": {"name": "evil-r", "domain_id": "{b.domain}"}}),
    ("POST", "/roles", {"role": {"name": "evil-r", "domain_id": "{a.domain}"}}),
    ("POST", "/roles", {"role": {"name": "evil-r"}}),
    ("PUT", "/roles/{ar}/implies/{mr}", None),
    # grants
    ("GET", "/projects/{b.project}/users/{b.member}/roles", None),
    ("GET", "/projects/{b.project}/users/{b.member}/roles/{mr}", None),
    ("PUT", "/projects/{b.project}/users/{a.member}/roles/{mr}", None),
    ("PUT", "/projects/{b.project}/users/{a.member}/roles/{ar}", None),
    ("PUT", "/projects/{a.project}/users/{b.member}/roles/{mr}", None),
    ("PUT", "/projects/{a.project}/groups/{b.group}/roles/{mr}", None),
    ("PUT", "/projects/{a.project}/users/{a.member}/roles/{b.role}", None),
    ("DELETE", "/projects/{b.project}/users/{b.member}/roles/{mr}", None),
    ("GET", "/domains/{b.domain}/users/{b.dadmin}/roles", None),
    ("PUT", "/domains/{b.domain}/users/{a.member}/roles/{ar}", None),
    ("PUT", "/domains/{b.domain}/groups/{a.group}/roles/{ar}", None),
    ("DELETE", "/domains/{b.domain}/users/{b.dadmin}/roles/{ar}", None),
    (
        "PUT",
        "/OS-INHERIT/domains/{b.domain}/users/{a.member}/roles/{ar}/inherited_to_projects",
        None,
    ),
    (
        "PUT",
        "/OS-INHERIT/projects/{b.project}/users/{a.member}/roles/{ar}/inherited_to_projects",
        None,
    ),
    ("PUT", "/system/users/{a.member}/roles/{ar}", None),
    ("PUT", "/system/groups/{a.group}/roles/{ar}", None),
    ("GET", "/system/users/{b.member}/roles", None),
    # role assignments
    ("GET", "/role_assignments", None),
    ("GET", "/role_assignments?scope.project.id={b.project}", None),
    ("GET", "/role_assignments?scope.domain.id={b.domain}", None),
    ("GET", "/role_assignments?user.id={b.member}", None),
    ("GET", "/role_assignments?user.id={b.member}&effective", None),
    ("GET", "/role_assignments?group.id={b.group}", None),
    ("GET", "/role_assignments?scope.project.id={b.project}&include_subtree=true", None),
    ("GET", "/role_assignments?scope.domain.id={a.domain}&user.id={b.member}&effective", None),
    # credentials
    ("GET", "/credentials", None),
    ("GET", "/credentials?user_id={b.member}", None),
    ("GET", "/credentials/{b.credential}", None),
    ("PATCH", "/credentials/{b.credential}", {"credential": {"blob": "pwned"}}),
    ("PATCH", "/credentials/{b.credential}", {"credential": {"user_id": "{a.member}"}}),
    ("DELETE", "/credentials/{b.credential}", None),
    (
        "POST",
        "/credentials",
        {"credential": {"user_id": "{b.member}", "type": "cert", "blob": "x"}},
    ),
    # EC2 credentials
    ("GET", "/users/{b.member}/credentials/OS-EC2", None),
    ("GET", "/users/{b.member}/credentials/OS-EC2/{b.ec2}", None),
    ("GET", "/users/{a.member}/credentials/OS-EC2/{b.ec2}", None),
    ("DELETE", "/users/{b.member}/credentials/OS-EC2/{b.ec2}", None),
    ("DELETE", "/users/{a.member}/credentials/OS-EC2/{b.ec2}", None),
    ("POST", "/users/{b.member}/credentials/OS-EC2", {"tenant_id": "{b.project}"}),
    # application credentials and access rules
    ("GET", "/users/{b.member}/application_credentials", None),
    ("GET", "/users/{b.member}/application_credentials/{b.app_cred}", None),
    ("GET", "/users/{a.member}/application_credentials/{b.app_cred}", None),
    ("DELETE", "/users/{b.member}/application_credentials/{b.app_cred}", None),
    ("DELETE", "/users/{a.member}/application_credentials/{b.app_cred}", None),
    (
        "POST",
        "/users/{b.member}/application_credentials",
        {"application_credential": {"name": "evil-ac"}},
    ),
    ("GET", "/users/{b.member}/access_rules", None),
    # trusts
    ("GET", "/OS-TRUST/trusts", None),
    ("GET", "/OS-TRUST/trusts?trustor_user_id={b.member}", None),
    ("GET", "/OS-TRUST/trusts?trustee_user_id={b.trustee}", None),
    ("GET", "/OS-TRUST/trusts/{b.trust}", None),
    ("GET", "/OS-TRUST/trusts/{b.trust}/roles", None),
    ("GET", "/OS-TRUST/trusts/{b.trust}/roles/{mr}", None),
    ("DELETE", "/OS-TRUST/trusts/{b.trust}", None),
    (
        "POST",
        "/OS-TRUST/trusts",
        {
            "trust": {
                "trustor_user_id": "{b.member}",
                "trustee_user_id": "{a.member}",
                "project_id": "{b.project}",
                "impersonation": True,
                "roles": [{"name": "member"}],
            }
        },
    ),
    # the catalog, policies: cloud-wide, so only readable (regions) or refused
    ("POST", "/regions", {"region": {"id": "evil-region"}}),
    ("PUT", "/regions/evil-region", {"region": {}}),
    ("PATCH", "/regions/RegionOne", {"region": {"description": "pwned"}}),
    ("DELETE", "/regions/RegionOne", None),
    ("GET", "/services", None),
    ("POST", "/services", {"service": {"type": "evil", "name": "evil"}}),
    ("GET", "/endpoints", None),
    (
        "POST",
        "/endpoints",
        {"endpoint": {"service_id": "x", "interface": "public", "url": "http://evil"}},
    ),
    ("GET", "/policies", None),
    ("POST", "/policies", {"policy": {"blob": "{{}}", "type": "application/json"}}),
    # tokens of the other tenant, and the /v3/auth listings
    ("GET", "/auth/tokens", "TOKEN"),
    ("HEAD", "/auth/tokens", "TOKEN"),
    ("DELETE", "/auth/tokens", "TOKEN"),
    ("GET", "/auth/projects", None),
    ("GET", "/auth/domains", None),
    ("GET", "/auth/system", None),
    ("GET", "/auth/catalog", None),
]


def _fill(value: Any, ns: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ns)
    if isinstance(value, dict):
        return {k: _fill(v, ns) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ns) for v in value]
    return value


def _is_listing(method: str, path: str) -> bool:
    """A GET that may legitimately answer 200 with the caller's own things."""
    return method == "GET" and (
        path.split("?")[0].rstrip("/").split("/")[-1]
        in {
            "domains",
            "projects",
            "users",
            "groups",
            "credentials",
            "trusts",
            "role_assignments",
            "services",
            "endpoints",
            "policies",
            "system",
            "catalog",
            "OS-EC2",
            "application_credentials",
            "access_rules",
        }
    )


async def _probe(client: httpx.AsyncClient, w: World, headers: H, probe: Probe) -> str | None:
    """None if the probe was refused (or filtered); else what went wrong."""
    method, template, body = probe
    ns = {"a": w.a, "b": w.b, "mr": w.member_role, "ar": w.admin_role}
    path = _fill(template, ns)
    extra: H = {}
    if body == "TOKEN":
        extra, body = {"X-Subject-Token": w.b.member_headers["X-Auth-Token"]}, None
    r = await client.request(
        method,
        V3 + path,
        json=_fill(body, ns) if body is not None else None,
        headers={**headers, **extra},
    )
    if r.status_code in (403, 404):
        if method != "HEAD":
            assert set(r.json()["error"]) == {"code", "title", "message"}, r.text
        return None
    if r.status_code == 200 and _is_listing(method, path):
        shown = orjson.dumps({k: v for k, v in r.json().items() if k != "links"}).decode()
        leaked = sorted(s for s in w.b.secrets() if s and s in shown)
        return f"{method} {path}: 200 showing {leaked}" if leaked else None
    return f"{method} {path}: {r.status_code} {r.text[:200]}"


ADMIN_VIEWS = [
    "/domains/{b.domain}",
    "/projects?domain_id={b.domain}",
    "/projects/{b.project}/tags",
    "/users?domain_id={b.domain}",
    "/groups?domain_id={b.domain}",
    "/groups/{b.group}/users",
    "/roles?domain_id={b.domain}",
    "/role_assignments?scope.project.id={b.project}",
    "/role_assignments?scope.domain.id={b.domain}",
    "/role_assignments?user.id={b.member}",
    "/role_assignments?user.id={a.member}",
    "/system/users/{a.member}/roles",
    "/credentials?user_id={b.member}",
    "/users/{b.member}/application_credentials",
    "/OS-TRUST/trusts?trustor_user_id={b.member}",
    "/users/{b.member}/credentials/OS-EC2",
    "/regions",
    "/services",
    "/policies",
]


async def _snapshot(client: httpx.AsyncClient, w: World) -> dict[str, Any]:
    """B's state (and A's grants) as a cloud admin sees it."""
    ns = {"a": w.a, "b": w.b}
    out = {}
    for template in ADMIN_VIEWS:
        r = await client.get(V3 + _fill(template, ns), headers=w.admin)
        assert r.status_code == 200, r.text
        out[template] = r.json()
    return out


@pytest.mark.parametrize("persona", PERSONAS)
async def test_other_tenant_is_out_of_reach(
    client: httpx.AsyncClient, world: World, persona: str
) -> None:
    before = await _snapshot(client, world)
    headers = world.personas[persona]
    failures = [f for p in PROBES if (f := await _probe(client, world, headers, p))]
    assert not failures, "\n".join(failures)
    assert await _snapshot(client, world) == before
    assert await token_valid(client, world.admin, world.b.member_headers["X-Auth-Token"])


# -- positive controls: the same probes work within one's own tenant -------------------------------
OWN: list[tuple[str, str, str]] = [
    ("domain_admin", "GET", "/projects/{a.project}"),
    ("domain_admin", "GET", "/users/{a.member}"),
    ("domain_admin", "GET", "/groups/{a.group}/users"),
    ("domain_admin", "GET", "/role_assignments?scope.domain.id={a.domain}"),
    ("domain_admin", "GET", "/projects/{a.project}/users/{a.member}/roles/{mr}"),
    ("member", "GET", "/credentials/{a.credential}"),
    ("member", "GET", "/users/{a.member}/credentials/OS-EC2/{a.ec2}"),
    ("member", "GET", "/users/{a.member}/application_credentials/{a.app_cred}"),
    ("member", "GET", "/OS-TRUST/trusts/{a.trust}"),
    ("member", "GET", "/projects/{a.project}"),
    ("reader", "GET", "/projects/{a.project}"),
    ("trust", "GET", "/OS-TRUST/trusts/{a.trust}"),
]


@pytest.mark.parametrize(("persona", "method", "path"), OWN)
async def test_own_tenant_is_reachable(
    client: httpx.AsyncClient, world: World, persona: str, method: str, path: str
) -> None:
    ns = {"a": world.a, "mr": world.member_role}
    r = await client.request(method, V3 + _fill(path, ns), headers=world.personas[persona])
    assert r.status_code in (200, 204), r.text


async def test_listings_show_own_things(client: httpx.AsyncClient, world: World) -> None:
    """The filtered lists are not empty by accident: A's own things are there."""
    dadmin = world.personas["domain_admin"]
    r = await client.get(f"{V3}/users", headers=dadmin)
    assert world.a.member in r.text and world.b.member not in r.text
    r = await client.get(f"{V3}/credentials", headers=world.personas["member"])
    assert world.a.credential in r.text and world.b.credential not in r.text
    r = await client.get(f"{V3}/auth/projects", headers=world.personas["unscoped"])
    assert [p["id"] for p in r.json()["projects"]] == [world.a.project]


# -- escalation by a domain admin -------------------------------------------------------------
async def test_domain_admin_cannot_move_things_out_of_its_domain(
    client: httpx.AsyncClient, world: World
) -> None:
    a, b, h = world.a, world.b, world.personas["domain_admin"]
    tries = [
        (f"/projects/{a.project}", {"project": {"domain_id": b.domain}}),
        (f"/projects/{a.project}", {"project": {"parent_id": b.project}}),
        (f"/users/{a.member}", {"user": {"domain_id": b.domain}}),
        (f"/groups/{a.group}", {"group": {"domain_id": b.domain}}),
    ]
    for path, body in tries:
        r = await client.patch(V3 + path, json=body, headers=h)
        assert r.status_code in (400, 403), (path, r.text)
    r = await client.get(f"{V3}/projects/{a.project}", headers=h)
    assert r.json()["project"]["domain_id"] == a.domain
    assert r.json()["project"]["parent_id"] == a.domain
    r = await client.get(f"{V3}/users/{a.member}", headers=h)
    assert r.json()["user"]["domain_id"] == a.domain
    r = await client.get(f"{V3}/groups/{a.group}", headers=h)
    assert r.json()["group"]["domain_id"] == a.domain


async def test_domain_admin_cannot_delegate_roles_it_does_not_hold(
    client: httpx.AsyncClient, world: World
) -> None:
    a, b = world.a, world.b
    h = world.personas["domain_admin"]
    # a domain-scoped admin holds no role on the projects of its domain (no inheritance)
    trust = {
        "trustor_user_id": a.dadmin,
        "trustee_user_id": a.member,
        "project_id": a.project,
        "impersonation": True,
        "roles": [{"name": "admin"}],
    }
    r = await client.post(f"{V3}/OS-TRUST/trusts", json={"trust": trust}, headers=h)
    assert r.status_code in (403, 404), r.text
    trust["project_id"] = b.project
    r = await client.post(f"{V3}/OS-TRUST/trusts", json={"trust": trust}, headers=h)
    assert r.status_code in (403, 404), r.text
    # the member cannot put the admin role it lacks into an application credential
    body = {"application_credential": {"name": unique("ac"), "roles": [{"name": "admin"}]}}
    r = await client.post(
        f"{V3}/users/{a.member}/application_credentials",
        json=body,
        headers=world.personas["member"],
    )
    assert r.status_code in (400, 403, 404), r.text
    r = await client.post(f"{V3}/users/{a.dadmin}/application_credentials", json=body, headers=h)
    assert r.status_code in (400, 403), r.text


async def test_domain_admin_grants_stay_within_its_domain(
    client: httpx.AsyncClient, world: World
) -> None:
    """What a domain admin may do (grant a global role in its domain to its users) works;
    anything reaching outside is refused: the probes above cover those."""
    a, h = world.a, world.personas["domain_admin"]
    path = f"{V3}/projects/{a.project}/users/{a.trustee}/roles/{world.member_role}"
    assert (await client.put(path, headers=h)).status_code == 204
    assert (await client.delete(path, headers=h)).status_code == 204


async def test_default_domain_admin_cannot_become_cloud_admin(
    cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """The admin project lives in the Default domain: administering that domain would mean
    administering the cloud admins, so a Default-domain admin is no admin there."""
    user_id = await add_user(cloud)
    await grant(cloud, user_id, "default", "admin", "UserDomain")
    headers = await headers_for(client, user_id, domain_id="default")
    own = {**admin_headers, "X-Subject-Token": admin_headers["X-Auth-Token"]}
    r = await client.get(f"{V3}/auth/tokens", headers=own)
    admin_project = r.json()["token"]["project"]["id"]
    admin_user = r.json()["token"]["user"]["id"]
    admin_role = await role_id(cloud, "admin")
    refused = [
        ("PUT", f"{V3}/projects/{admin_project}/users/{user_id}/roles/{admin_role}", None),
        ("PUT", f"{V3}/OS-INHERIT/domains/default/users/{user_id}/roles/{admin_role}"
                "/inherited_to_projects", None),
        ("PATCH", f"{V3}/users/{admin_user}", {"user": {"password": "taken-over"}}),
        ("POST", f"{V3}/users", {"user": {"name": unique("u"), "domain_id": "default"}}),
        ("PATCH", f"{V3}/projects/{admin_project}", {"project": {"enabled": False}}),
    ]
    for method, url, body in refused:
        r = await client.request(method, url, json=body, headers=headers)
        assert r.status_code == 403, (method, url, r.text)
    # it still reads its domain, like a domain reader
    r = await client.get(f"{V3}/users", params={"domain_id": "default"}, headers=headers)
    assert r.status_code == 200
