"""Nova's default policy, persona by persona, over every Compute route: the cloud admin, a
member and a reader of the server's project, and a member of another project.

``A`` admin only, ``M`` project member (or admin), ``R`` project reader (or member or admin),
``U`` the demo user itself (or admin), ``*`` anyone. A row about the demo project's own
resources (``own``) forbids the other project's member (403, or 404 where Nova hides the
resource); on any other row that persona acts on its own project like the demo member. A
forbidden persona must get 403 (or that 404); an allowed one anything but 401/403/500 (a 400
or 409 for the request itself is fine, a 404 only where the row says the thing may be gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from onestack.compute.core import SharedCore
from onestack.compute.policies import default_rules
from tests.functional.compute.conftest import API, boot, mv, wait_for, wait_gone
from tests.functional.identity.assignment_helpers import (
    V3,
    add_project,
    add_user,
    headers_for,
    role_id,
)

H = dict[str, str]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCzaeIlyd+ctr1Xxr4BgAmU6jCVPcPTZZq4PW+FiUPp p@h"


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    who: str
    body: Any = None
    own: bool = True
    ok404: bool = False
    version: str = "2.96"
    order: tuple[str, ...] = ("other", "reader", "member", "admin")  # the forbidden first


def _act(name: str, who: str, args: Any = None, version: str = "2.96") -> Row:
    return Row("POST", "/servers/{sid}/action", who, {name: args}, version=version)


ROWS = [
    Row("GET", "/servers", "R", own=False),
    Row("GET", "/servers/detail", "R", own=False),
    Row("GET", "/servers?all_tenants=1", "A", own=False),
    Row("GET", "/servers/detail?all_tenants=1", "A", own=False),
    Row("POST", "/servers", "M", {"server": {"name": "p", "imageRef": "{image}",
                                              "flavorRef": "no-such-flavor",
                                              "networks": "none"}}, own=False),
    Row("GET", "/servers/{sid}", "R"),
    Row("PUT", "/servers/{sid}", "M", {"server": {"description": "persona"}}),
    Row("GET", "/servers/{sid}/os-instance-actions", "R"),
    Row("GET", "/servers/{sid}/os-instance-actions/{request_id}", "R"),
    Row("GET", "/servers/{sid}/metadata", "R"),
    Row("POST", "/servers/{sid}/metadata", "M", {"metadata": {"k": "v"}}),
    Row("PUT", "/servers/{sid}/metadata", "M", {"metadata": {"k": "v"}}),
    Row("GET", "/servers/{sid}/metadata/k", "R"),
    Row("PUT", "/servers/{sid}/metadata/k", "M", {"meta": {"k": "v2"}}),
    Row("DELETE", "/servers/{sid}/metadata/k", "M", ok404=True),
    Row("GET", "/servers/{sid}/tags", "R"),
    Row("PUT", "/servers/{sid}/tags", "M", {"tags": ["t"]}),
    Row("GET", "/servers/{sid}/tags/t", "R"),
    Row("PUT", "/servers/{sid}/tags/t", "M"),
    Row("DELETE", "/servers/{sid}/tags/t", "M", ok404=True),
    Row("DELETE", "/servers/{sid}/tags", "M"),
    Row("GET", "/servers/{sid}/ips", "R"),
    Row("GET", "/servers/{sid}/ips/private", "R", ok404=True),
    Row("GET", "/servers/{sid}/os-interface", "R"),
    Row("POST", "/servers/{sid}/os-interface", "M", {"interfaceAttachment": {}}),
    Row("GET", "/servers/{sid}/os-interface/no-such-port", "R", ok404=True),
    Row("DELETE", "/servers/{sid}/os-interface/no-such-port", "M", ok404=True),
    Row("GET", "/servers/{sid}/os-security-groups", "R"),
    Row("GET", "/servers/{sid}/os-volume_attachments", "R"),
    Row("POST", "/servers/{sid}/os-volume_attachments", "M",
        {"volumeAttachment": {"volumeId": "4d8c3732-a248-40ed-bebc-539a6ffd25c0"}}, ok404=True),
    Row("GET", "/servers/{sid}/os-volume_attachments/4d8c3732-a248-40ed-bebc-539a6ffd25c0", "R",
        ok404=True),
    Row("DELETE", "/servers/{sid}/os-volume_attachments/4d8c3732-a248-40ed-bebc-539a6ffd25c0",
        "M", ok404=True),
    Row("GET", "/servers/{sid}/topology", "R"),
    Row("GET", "/servers/{sid}/diagnostics", "A"),
    Row("GET", "/servers/{sid}/os-server-password", "R"),
    Row("DELETE", "/servers/{sid}/os-server-password", "M"),
    Row("POST", "/servers/{sid}/remote-consoles", "M",
        {"remote_console": {"protocol": "vnc", "type": "novnc"}}),
    Row("GET", "/os-console-auth-tokens/no-such-token", "A", own=False, ok404=True),
    Row("GET", "/servers/{sid}/migrations", "A"),
    Row("GET", "/servers/{sid}/migrations/1", "A", ok404=True),
    Row("POST", "/servers/{sid}/migrations/1/action", "A", {"force_complete": None}),
    Row("DELETE", "/servers/{sid}/migrations/1", "A"),
    Row("GET", "/os-migrations", "A", own=False),
    _act("os-getConsoleOutput", "M", {"length": 5}),
    _act("lock", "M"),
    Row("POST", "/servers/{sid}/action", "M", {"unlock": None},
        order=("other", "reader", "admin", "member")),  # the admin's lock is the admin's
    _act("os-stop", "M"),
    _act("os-start", "M"),
    _act("reboot", "M", {"type": "SOFT"}),
    _act("pause", "M"),
    _act("unpause", "M"),
    _act("suspend", "M"),
    _act("resume", "M"),
    _act("changePassword", "M", {"adminPass": "pw-persona"}),
    _act("trigger_crash_dump", "M"),
    _act("addSecurityGroup", "M", {"name": "default"}),
    Row("POST", "/servers/{sid}/action", "M", {"removeSecurityGroup": {"name": "default"}},
        ok404=True),
    _act("os-resetState", "A", {"state": "active"}),
    _act("shelveOffload", "A"),
    _act("os-getVNCConsole", "M", {"type": "novnc"}, version="2.5"),
    Row("GET", "/limits", "*", own=False),
    Row("GET", "/limits?tenant_id={pid}", "R"),
    Row("GET", "/os-quota-sets/{pid}", "R"),
    Row("GET", "/os-quota-sets/{pid}/detail", "R"),
    Row("GET", "/os-quota-sets/{pid}/defaults", "*"),
    Row("PUT", "/os-quota-sets/{pid}", "A", {"quota_set": {"instances": 10}}),
    Row("DELETE", "/os-quota-sets/{other_pid}", "A", own=False),
    Row("GET", "/os-quota-class-sets/default", "A", own=False),
    Row("PUT", "/os-quota-class-sets/default", "A", {"quota_class_set": {"instances": 10}},
        own=False),
    Row("GET", "/os-availability-zone", "*", own=False),
    Row("GET", "/os-availability-zone/detail", "A", own=False),
    Row("GET", "/os-services", "A", own=False),
    Row("PUT", "/os-services/{service}", "A", {"status": "enabled"}, own=False),
    Row("DELETE", "/os-services/00000000-0000-0000-0000-000000000000", "A", own=False,
        ok404=True),
    Row("GET", "/os-hypervisors", "A", own=False),
    Row("GET", "/os-hypervisors/detail", "A", own=False),
    Row("GET", "/os-hypervisors/statistics", "A", own=False, version="2.87"),
    Row("GET", "/os-hypervisors/{hypervisor}", "A", own=False),
    Row("GET", "/os-hypervisors/{host}/servers", "A", own=False, version="2.52"),
    Row("GET", "/os-hypervisors/{host}/search", "A", own=False, version="2.52"),
    Row("GET", "/os-aggregates", "A", own=False),
    Row("POST", "/os-aggregates", "A", {"aggregate": {"name": "persona-agg"}}, own=False),
    Row("GET", "/os-aggregates/{agg}", "A", own=False),
    Row("PUT", "/os-aggregates/{agg}", "A", {"aggregate": {"name": "persona-agg2"}},
        own=False),
    Row("POST", "/os-aggregates/{agg}/action", "A",
        {"set_metadata": {"metadata": {"k": "v"}}}, own=False),
    Row("DELETE", "/os-aggregates/{agg}", "A", own=False),
    Row("GET", "/os-server-groups", "R", own=False),
    Row("GET", "/os-server-groups?all_projects=1", "R", own=False),
    Row("POST", "/os-server-groups", "M", {"server_group": {"name": "pg",
                                                            "policy": "affinity"}},
        own=False),
    Row("GET", "/os-server-groups/{gid}", "R"),
    Row("DELETE", "/os-server-groups/{gid}", "M", ok404=True),
    Row("POST", "/os-server-external-events", "A",
        {"events": [{"name": "network-changed", "server_uuid": "{sid}"}]}, own=False),
    Row("GET", "/os-simple-tenant-usage", "A", own=False),
    Row("GET", "/os-simple-tenant-usage/{pid}", "R"),
    Row("GET", "/os-instance-usage-audit-log", "A", own=False),
    Row("GET", "/os-instance-usage-audit-log/2020-01-01%2000:00:00", "A", own=False),
    Row("GET", "/images", "*", own=False, version="2.35"),
    Row("GET", "/images/detail", "*", own=False, version="2.35"),
    Row("GET", "/images/{image}", "*", own=False, version="2.35"),
    Row("GET", "/images/{image}/metadata", "*", own=False, version="2.35"),
    Row("DELETE", "/images/00000000-0000-0000-0000-000000000000", "*", own=False,
        version="2.35", ok404=True),
    Row("GET", "/extensions", "*", own=False),
    Row("GET", "/flavors", "*", own=False),
    Row("GET", "/flavors/detail", "*", own=False),
    Row("GET", "/flavors/42", "*", own=False),
    Row("POST", "/flavors", "A", {"flavor": {"name": "persona-flavor", "ram": 64, "vcpus": 1,
                                              "disk": 1, "id": "persona-flavor"}}, own=False),
    Row("PUT", "/flavors/{flavor}", "A", {"flavor": {"description": "d"}}, own=False),
    Row("GET", "/flavors/{flavor}/os-extra_specs", "*", own=False),
    Row("POST", "/flavors/{flavor}/os-extra_specs", "A",
        {"extra_specs": {"hw:numa_nodes": "1"}}, own=False),
    Row("GET", "/flavors/{flavor}/os-extra_specs/hw:numa_nodes", "*", own=False, ok404=True),
    Row("PUT", "/flavors/{flavor}/os-extra_specs/hw:numa_nodes", "A",
        {"hw:numa_nodes": "1"}, own=False),
    Row("DELETE", "/flavors/{flavor}/os-extra_specs/hw:numa_nodes", "A", own=False,
        ok404=True),
    Row("GET", "/flavors/{private_flavor}/os-flavor-access", "A", own=False),
    Row("POST", "/flavors/{private_flavor}/action", "A",
        {"addTenantAccess": {"tenant": "{pid}"}}, own=False),
    Row("DELETE", "/flavors/{flavor}", "A", own=False),
    Row("POST", "/os-keypairs", "*", {"keypair": {"name": "persona-kp", "public_key": KEY}},
        own=False),
    Row("GET", "/os-keypairs", "*", own=False),
    Row("GET", "/os-keypairs/persona-kp", "*", own=False, ok404=True),
    Row("GET", "/os-keypairs/persona-kp?user_id={demo_user}", "U", ok404=True),
    Row("DELETE", "/os-keypairs/persona-kp", "*", own=False, ok404=True),
    Row("DELETE", "/servers/{sid}", "M"),
]


def allowed(row: Row, persona: str) -> bool:
    if persona == "admin" or row.who == "*":
        return True
    if row.who == "A":
        return False
    if row.who == "U":
        return persona == "member"
    if persona == "other":
        return not row.own
    return persona == "member" or row.who == "R"


@pytest.fixture(scope="module")
async def people(cloud, client: httpx.AsyncClient, admin_headers: H, demo_headers: H) -> dict:
    core = SharedCore.get(cloud.platform)
    ids = {}
    for name, role, project in (("reader", "reader", "demo"), ("other", "member", None)):
        user = await add_user(cloud)
        pid = project and (await client.get(f"{V3}/projects?name=demo",
                                            headers=admin_headers)).json()["projects"][0]["id"]
        if pid is None:
            pid = await add_project(cloud)
            ids["other_pid"] = pid
        r = await client.put(f"{V3}/projects/{pid}/users/{user}/roles/"
                             f"{await role_id(cloud, role)}", headers=admin_headers)
        assert r.status_code == 204, r.text
        ids[name] = await headers_for(client, user, project_id=pid)
    ids["member"], ids["admin"] = demo_headers, admin_headers
    yield ids
    assert core  # the shared core outlives the module


async def _context(client, admin: H, demo: H, image: str, cloud) -> dict[str, str]:
    created = await boot(client, demo, image, name="persona")
    sid = created["server"]["id"]
    await wait_for(client, demo, sid, "ACTIVE")
    await client.put(f"{API}/servers/{sid}/metadata/k", headers=demo, json={"meta": {"k": "v"}})
    await client.put(f"{API}/servers/{sid}/tags/t", headers=mv(demo))
    actions = (await client.get(f"{API}/servers/{sid}/os-instance-actions",
                                headers=demo)).json()["instanceActions"]
    group = (await client.post(f"{API}/os-server-groups", headers=mv(demo), json={
        "server_group": {"name": "persona", "policy": "affinity"}})).json()["server_group"]
    agg = (await client.post(f"{API}/os-aggregates", headers=mv(admin), json={
        "aggregate": {"name": "persona-base"}})).json()["aggregate"]
    flavor = (await client.post(f"{API}/flavors", headers=mv(admin), json={"flavor": {
        "name": "persona-base", "ram": 64, "vcpus": 1, "disk": 1,
        "id": "persona-base"}})).json()["flavor"]
    private = (await client.post(f"{API}/flavors", headers=mv(admin), json={"flavor": {
        "name": "persona-private", "ram": 64, "vcpus": 1, "disk": 1, "id": "persona-private",
        "os-flavor-access:is_public": False}})).json()["flavor"]
    services = (await client.get(f"{API}/os-services", headers=mv(admin))).json()["services"]
    service = next(s for s in services if s["host"] == cloud.platform.host
                   and s["binary"] == "nova-compute")
    hypervisors = (await client.get(f"{API}/os-hypervisors", headers=mv(admin))).json()
    demo_server = (await client.get(f"{API}/servers/{sid}", headers=mv(admin))).json()["server"]
    return {
        "sid": sid, "request_id": actions[0]["request_id"], "gid": group["id"],
        "agg": str(agg["id"]), "flavor": flavor["id"], "private_flavor": private["id"],
        "service": str(service["id"]), "hypervisor": str(hypervisors["hypervisors"][0]["id"]),
        "host": cloud.platform.host, "image": image, "pid": demo_server["tenant_id"],
        "demo_user": demo_server["user_id"],
    }


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, sub in names.items():
            value = value.replace("{" + key + "}", sub)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


async def test_every_route_by_persona(cloud, client: httpx.AsyncClient, people: dict,
                                      admin_headers: H, demo_headers: H, image_id: str) -> None:
    names = await _context(client, admin_headers, demo_headers, image_id, cloud)
    names["other_pid"] = people["other_pid"]
    wrong = []
    for row in ROWS:
        path = _fill(row.path, names)
        for persona in row.order:
            r = await client.request(row.method, f"{API}{path}",
                                     headers=mv(people[persona], row.version),
                                     json=_fill(row.body, names) if row.body is not None
                                     else None)
            code = r.status_code
            if allowed(row, persona):
                ok = code not in (401, 403, 500) and (code != 404 or row.ok404)
            else:
                ok = code == 403 or (code == 404 and row.own and persona == "other")
            if not ok:
                wrong.append(f"{row.method} {row.path} {persona}: {code} {r.text[:120]}")
    await wait_gone(client, demo_headers, names["sid"])
    for flavor in ("persona-base", "persona-private"):
        await client.delete(f"{API}/flavors/{flavor}", headers=mv(admin_headers))
    assert wrong == [], "\n".join(wrong)


def test_every_route_has_a_row() -> None:
    """A new route without a persona row fails here."""
    from onestack.compute.service import _routers

    routes = {(m, r.path.removeprefix("/v2.1")) for router in _routers()
              for r in router.routes for m in r.methods}  # type: ignore[attr-defined]
    rows = [(row.method, row.path.split("?")[0].strip("/").split("/")) for row in ROWS]
    missing = [
        f"{method} {path}" for method, path in sorted(routes)
        if method != "HEAD" and path.strip("/") not in ("", "v2.1")
        and not any(method == m and _matches(path.strip("/").split("/"), segs)
                    for m, segs in rows)
    ]
    assert missing == []


def _matches(route: list[str], concrete: list[str]) -> bool:
    return len(route) == len(concrete) and all(
        r.startswith("{") or r == c for r, c in zip(route, concrete, strict=True))


def test_legacy_rules_without_new_defaults() -> None:
    """``enforce_new_defaults = false``: any role on the project passes the project's rules
    (Nova's deprecated admin_or_owner); admin-only rules stay admin-only."""
    from onestack.common.context import RequestContext
    from onestack.common.policy import Policy

    old, new = Policy(default_rules(False)), Policy(default_rules(True))
    ctx = RequestContext(request_id="req-1", user_id="u", project_id="p", roles=("observer",))
    target = {"project_id": "p", "user_id": "u"}
    rule = "os_compute_api:servers:show"
    assert old.check(ctx, rule, target) and not new.check(ctx, rule, target)
    assert not old.check(ctx, rule, {"project_id": "q"})
    for policy in (old, new):
        assert not policy.check(ctx, "os_compute_api:os-hypervisors:list", target)


async def test_enforce_scope_refuses_system_tokens(
    cloud, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import issue, password_auth, password_of

    token = await issue(client, password_auth("admin", password_of(cloud, "admin"), system=True))
    system = {"X-Auth-Token": token}
    assert (await client.get(f"{API}/os-hypervisors", headers=mv(system))).status_code == 200
    monkeypatch.setattr(SharedCore.get(cloud.platform).conf, "enforce_scope", True)
    for path in ("/os-hypervisors", "/servers", "/flavors/42/os-extra_specs"):
        r = await client.get(f"{API}{path}", headers=mv(system))
        assert r.status_code == 403, (path, r.text)
