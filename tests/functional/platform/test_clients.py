"""Service-to-service clients and remote token validation, against the in-process cloud."""

from __future__ import annotations

import httpx
import pytest

from onestack.common.clients import ServiceClients, ServiceUnavailable
from onestack.common.errors import Unauthorized
from onestack.common.remote_auth import RemoteTokenValidator
from onestack.common.service import ServiceSpec
from onestack.identity.bootstrap import bootstrap
from onestack.server import Cloud

WIDGET = ServiceSpec("widget", "/widget", "widget", "widgets")


@pytest.fixture(scope="module")
async def clients(cloud: Cloud) -> ServiceClients:
    """Clients of the in-process cloud, with a service user ``widgets`` bootstrapped."""
    specs = [svc.spec for svc in cloud.services] + [WIDGET]
    assert cloud.identity is not None
    await bootstrap(cloud.identity.manager, specs)
    return cloud.platform.clients


async def test_service_token_is_scoped_to_service_project_and_cached(
    clients: ServiceClients,
) -> None:
    first = await clients.token("widgets")
    assert first.body["project"]["name"] == "service"
    assert {"service", "admin"} <= {r["name"] for r in first.body["roles"]}
    assert await clients.token("widgets") is first
    renewed = await clients.token("widgets", renew=True)
    assert renewed.value != first.value or renewed is not first


async def test_endpoints_come_from_the_catalog(clients: ServiceClients, cloud: Cloud) -> None:
    widget = clients.for_service("widget", user="widgets")
    assert await widget.endpoint() == f"{cloud.settings.base_url}/widget"
    with pytest.raises(ServiceUnavailable):
        await clients.for_service("nothing-here", user="widgets").endpoint()


async def test_local_calls_go_to_the_app_in_process(clients: ServiceClients) -> None:
    """The catalog URL names this process's port, where nothing listens in tests: the answer
    can only have come from the in-process app."""
    identity = clients.for_service("identity", user="widgets")
    resp = await identity.get("/v3")
    assert resp.status_code == 200
    assert resp.json()["version"]["id"] == "v3.14"
    assert resp.headers["x-openstack-request-id"].startswith("req-")


async def test_a_revoked_service_token_is_renewed_once(
    clients: ServiceClients, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    old = await clients.token("widgets")
    r = await client.delete(
        "/identity/v3/auth/tokens", headers={**admin_headers, "X-Subject-Token": old.value}
    )
    assert r.status_code == 204
    identity = clients.for_service("identity", user="widgets")
    resp = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": admin_headers[
        "X-Auth-Token"]})
    assert resp.status_code == 200
    assert (await clients.token("widgets")).value != old.value


async def test_remote_validation_builds_the_callers_context(
    clients: ServiceClients, demo_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    validator = RemoteTokenValidator(clients, user="widgets")
    ctx = await validator.context_for(demo_headers["X-Auth-Token"], "req-1")
    assert ctx.user_name == "demo" and ctx.project_name == "demo"
    assert {"member", "reader"} <= set(ctx.roles)
    assert ctx.request_id == "req-1"
    admin = await validator.context_for(admin_headers["X-Auth-Token"], "req-2")
    assert admin.is_admin_project and "admin" in admin.roles
    with pytest.raises(Unauthorized):
        await validator.context_for("not-a-token", "req-3")


async def test_remote_validation_sees_revocation_after_the_cache_time(
    cloud: Cloud, clients: ServiceClients, client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    from tests.conftest import issue, password_auth, password_of

    token = await issue(client, password_auth("demo", password_of(cloud, "demo"),
                                              project="demo"))
    cached = RemoteTokenValidator(clients, user="widgets", cache_seconds=3600)
    uncached = RemoteTokenValidator(clients, user="widgets", cache_seconds=0)
    assert (await cached.context_for(token, "r")).user_name == "demo"
    assert (await uncached.context_for(token, "r")).user_name == "demo"
    r = await client.delete(
        "/identity/v3/auth/tokens", headers={**admin_headers, "X-Subject-Token": token}
    )
    assert r.status_code == 204
    with pytest.raises(Unauthorized):
        await uncached.context_for(token, "r")
    # within its cache time a validator keeps its answer, as keystonemiddleware does
    assert (await cached.context_for(token, "r")).user_name == "demo"
