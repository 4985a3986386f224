"""Helpers of the Networking tests: requests on /networking/v2.0 as admin or demo."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth

BASE = "/networking/v2.0"


class Net:
    """A caller of the Networking API with one token."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]):
        self.client = client
        self.headers = headers

    async def req(self, method: str, path: str, expect: int | None = None, **kw: Any
                  ) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        r = await self.client.request(method, BASE + path, headers=headers, **kw)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        assert r.status_code < 500, r.text
        return r

    async def get(self, path: str, expect: int | None = 200, **kw: Any) -> Any:
        r = await self.req("GET", path, expect, **kw)
        return r.json() if r.content else None

    async def post(self, path: str, body: Any, expect: int | None = 201, **kw: Any) -> Any:
        r = await self.req("POST", path, expect, json=body, **kw)
        return r.json() if r.content else None

    async def put(self, path: str, body: Any, expect: int | None = 200, **kw: Any) -> Any:
        r = await self.req("PUT", path, expect, json=body, **kw)
        return r.json() if r.content else None

    async def delete(self, path: str, expect: int | None = 204, **kw: Any) -> httpx.Response:
        return await self.req("DELETE", path, expect, **kw)

    async def error(self, method: str, path: str, status: int, body: Any = None,
                    kind: str | None = None, **kw: Any) -> dict[str, Any]:
        """A request that must fail with ``status`` in Neutron's error format."""
        if body is not None:
            kw["json"] = body
        r = await self.req(method, path, status, **kw)
        err = r.json()["NeutronError"]
        assert set(err) == {"type", "message", "detail"}
        if kind is not None:
            assert err["type"] == kind, err
        return err

    async def network(self, **attrs: Any) -> dict[str, Any]:
        body = {"name": f"net-{uuid.uuid4().hex[:8]}", **attrs}
        return (await self.post("/networks", {"network": body}))["network"]

    async def subnet(self, network_id: str, cidr: str, **attrs: Any) -> dict[str, Any]:
        version = 6 if ":" in cidr else 4
        body = {"network_id": network_id, "cidr": cidr, "ip_version": version, **attrs}
        return (await self.post("/subnets", {"subnet": body}))["subnet"]

    async def port(self, network_id: str, **attrs: Any) -> dict[str, Any]:
        return (await self.post("/ports", {"port": {"network_id": network_id, **attrs}}))["port"]


@pytest.fixture(scope="session")
async def admin(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Net:
    return Net(client, admin_headers)


@pytest.fixture(scope="session")
async def demo(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> Net:
    return Net(client, demo_headers)


@pytest.fixture(scope="session")
async def other(cloud: Cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Net:
    """A member of another project, ``alt``."""
    r = await client.post("/identity/v3/projects", headers=admin_headers,
                          json={"project": {"name": "alt", "domain_id": "default"}})
    assert r.status_code in (201, 409), r.text
    await make_user(cloud, "alt-user", "alt-pass-1", project="alt")
    token = await issue(client, password_auth("alt-user", "alt-pass-1", project="alt"))
    return Net(client, {"X-Auth-Token": token})


@pytest.fixture(scope="session")
async def reader(cloud: Cloud, client: httpx.AsyncClient) -> Net:
    """A reader (not a member) of the demo project."""
    await make_user(cloud, "demo-reader", "reader-pass-1", project="demo", role="reader")
    token = await issue(client, password_auth("demo-reader", "reader-pass-1", project="demo"))
    return Net(client, {"X-Auth-Token": token})


async def project_id(net: Net) -> str:
    body = await net.get("/quotas/project")
    return str(body["project"]["id"])
