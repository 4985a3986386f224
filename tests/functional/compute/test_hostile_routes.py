"""The shared hostile-input table over every Compute write route (POST and PUT bodies) and
hostile path values on every route: always a 4xx in Nova's format, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.compute.conftest import API, boot, mv, wait_for, wait_gone
from tests.hostile import RAW, WRONG

NOVA_ERRORS = {"badRequest", "itemNotFound", "conflictingRequest", "forbidden", "overLimit",
               "computeFault", "notImplemented", "HTTPNotAcceptable", "methodNotAllowed"}
#: the member a route's body is about, to send hostile values inside it too
KEYS = {
    "/servers": "server", "/servers/{server_id}": "server", "/flavors": "flavor",
    "/flavors/{flavor_id}": "flavor", "/os-keypairs": "keypair",
    "/os-server-groups": "server_group", "/os-aggregates": "aggregate",
    "/os-aggregates/{agg_id}": "aggregate", "/os-quota-sets/{project_id}": "quota_set",
    "/os-quota-class-sets/{name}": "quota_class_set",
    "/servers/{server_id}/remote-consoles": "remote_console",
    "/servers/{server_id}/metadata": "metadata", "/servers/{server_id}/metadata/{key}": "meta",
    "/servers/{server_id}/tags": "tags", "/servers/{server_id}/os-interface":
    "interfaceAttachment", "/servers/{server_id}/os-volume_attachments": "volumeAttachment",
    "/flavors/{flavor_id}/os-extra_specs": "extra_specs",
    "/servers/{server_id}/migrations/{migration_id}/action": "force_complete",
    "/os-server-external-events": "events", "/os-services/{service_id}": "status",
}  # fmt: skip
#: routes that take no body (Nova ignores one)
BODILESS = {"/servers/{server_id}/tags/{tag}"}
HOSTILE_PATH = ["x" * 300, "%00", "..%2F..", "1e400", "-1", "%E2%98%83", "%FF"]


def _routes() -> list[tuple[str, str]]:
    from onestack.compute.service import _routers

    return sorted({(m, r.path.removeprefix("/v2.1")) for router in _routers()
                   for r in router.routes for m in r.methods  # type: ignore[attr-defined]
                   if m != "HEAD" and r.path.startswith("/v2.1/")})


@pytest.fixture(scope="module")
async def names(client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str):
    created = await boot(client, admin_headers, image_id, name="hroutes")
    sid = created["server"]["id"]
    await wait_for(client, admin_headers, sid, "ACTIVE")
    r = await client.post(f"{API}/flavors", headers=mv(admin_headers), json={"flavor": {
        "name": "hostile-scratch", "ram": 64, "vcpus": 1, "disk": 1, "id": "hostile-scratch"}})
    assert r.status_code == 200, r.text  # a scratch flavor: the sweep may add extra specs
    yield {"server_id": sid, "flavor_id": "hostile-scratch", "project_id": "hostile-project",
           "name": "hostile-class", "key": "k", "tag": "t", "image_id": image_id,
           "migration_id": "1", "agg_id": "999999", "gid": "no-such-group",
           "service_id": "no-such-service", "hypervisor_id": "1", "pattern": "nohost",
           "request_id": "req-none", "network": "none", "token": "none",
           "before": "2020-01-01 00:00:00"}
    await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
    await wait_gone(client, admin_headers, sid)
    await client.delete(f"{API}/flavors/hostile-scratch", headers=mv(admin_headers))


def _fill(path: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        path = path.replace("{" + key + "}", value)
    return path


def test_every_write_route_is_swept() -> None:
    writes = [p for m, p in _routes() if m in ("POST", "PUT")]
    assert len(writes) > 25 and "/servers/{server_id}/remote-consoles" in writes


async def test_write_bodies(client: httpx.AsyncClient, admin_headers: dict[str, str],
                            names: dict[str, str]) -> None:
    """Every POST/PUT route with every raw body and every hostile value (as the body, as an
    unknown member, and as the route's own member)."""
    bad = []
    for method, route in _routes():
        if method not in ("POST", "PUT") or route == "/servers/{server_id}/action":
            continue  # actions: test_hostile.test_action_arguments
        url = f"{API}{_fill(route, names)}"
        bodies: list[tuple[str, dict]] = [(f"raw:{n}", {"content": raw}) for n, raw in
                                          RAW.items()]
        for label, value in WRONG.items():
            bodies.append((f"body:{label}", {"json": value}))
            bodies.append((f"x:{label}", {"json": {"x": value}}))
            if route in KEYS:
                bodies.append((f"{KEYS[route]}:{label}", {"json": {KEYS[route]: value}}))
        for label, kwargs in bodies:
            r = await client.request(method, url, headers=mv(admin_headers), **kwargs)
            if r.status_code >= 500 or (r.status_code >= 400
                                        and not set(r.json() if r.content else {}) &
                                        NOVA_ERRORS):
                bad.append(f"{method} {route} {label}: {r.status_code} {r.text[:100]}")
            elif (r.status_code < 300 and label.startswith("raw:") and label != "raw:empty"
                  and route not in BODILESS):
                bad.append(f"{method} {route} {label}: accepted {r.status_code}")
    assert bad == [], "\n".join(bad)


async def test_hostile_path_values(client: httpx.AsyncClient, admin_headers: dict[str, str],
                                   names: dict[str, str]) -> None:
    """Every route (GET, and DELETE of things that do not exist) with hostile ids."""
    bad = []
    for method, route in _routes():
        if "{" not in route or method not in ("GET", "DELETE"):
            continue
        for value in HOSTILE_PATH:
            path = route
            for var in [s[1:-1] for s in route.split("/") if s.startswith("{")]:
                path = path.replace("{" + var + "}", value)
            r = await client.request(method, f"{API}{path}", headers=mv(admin_headers))
            if r.status_code >= 500:
                bad.append(f"{method} {route} {value[:20]}: {r.status_code} {r.text[:100]}")
    assert bad == [], "\n".join(bad)
