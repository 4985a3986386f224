"""Object Storage test helpers: the demo and admin accounts, and a second project with a
user of its own for sharing tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from onestack.server import Cloud
from tests.conftest import issue, make_user, password_auth, password_of


@dataclass
class Account:
    """One project's account as its user reaches it."""

    client: httpx.AsyncClient
    token: str
    project_id: str
    user_id: str

    @property
    def url(self) -> str:
        return f"/object-store/v1/AUTH_{self.project_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    async def request(self, method: str, path: str = "", *, headers: dict[str, str] | None
                      = None, token: bool = True, **kw: Any) -> httpx.Response:
        merged = {**(self.headers if token else {}), **(headers or {})}
        return await self.client.request(method, self.url + path, headers=merged, **kw)

    async def container(self, prefix: str = "c", **headers: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        r = await self.request("PUT", f"/{name}", headers=headers)
        assert r.status_code == 201, r.text
        return name


async def account_for(client: httpx.AsyncClient, user: str, password: str,
                      project: str) -> Account:
    r = await client.post("/identity/v3/auth/tokens",
                          json=password_auth(user, password, project=project))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    return Account(client, r.headers["X-Subject-Token"], token["project"]["id"],
                   token["user"]["id"])


@pytest.fixture(scope="session")
async def demo(cloud: Cloud, client: httpx.AsyncClient) -> Account:
    return await account_for(client, "demo", password_of(cloud, "demo"), "demo")


@pytest.fixture(scope="session")
async def other(cloud: Cloud, client: httpx.AsyncClient,
                admin_headers: dict[str, str]) -> Account:
    """A user of another project (``objalt``), a member there."""
    r = await client.post("/identity/v3/projects", headers=admin_headers,
                          json={"project": {"name": "objalt", "domain_id": "default"}})
    assert r.status_code == 201, r.text
    await make_user(cloud, "objalt-user", "objalt-pass-1", project="objalt")
    return await account_for(client, "objalt-user", "objalt-pass-1", "objalt")


@pytest.fixture(scope="session")
async def reader(cloud: Cloud, client: httpx.AsyncClient, demo: Account) -> Account:
    """A reader (not a member) of the demo project."""
    await make_user(cloud, "objreader", "objreader-pass-1", project="demo", role="reader")
    return await account_for(client, "objreader", "objreader-pass-1", "demo")


__all__ = ["Account", "account_for", "issue"]
