"""Shared fixtures: an in-process cloud (ASGI transport) and helpers to get tokens."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.server import Cloud

#: The suites simulate hosts (the fake virt driver), also where QEMU is installed; the
#: dataplane tests ask for the QEMU driver themselves. Inherited by the e2e clouds' processes.
os.environ.setdefault("ONESTACK_COMPUTE__VIRT_DRIVER", "fake")
#: The console proxies' fixed ports (6080, 6083) would collide between test clouds: a test
#: that needs one starts it on a free port.
os.environ.setdefault("ONESTACK_COMPUTE__CONSOLE_PROXIES", "false")

#: Fast bcrypt in in-process tests; the e2e tests and benchmarks use the real default (12).
TEST_ROUNDS = 4


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def fresh_database(server_url: str | None) -> AsyncIterator[str | None]:
    """A new empty database on the server ``server_url`` names (PostgreSQL or MySQL/MariaDB),
    dropped afterwards; None (SQLite files in the data dir) when no server is named."""
    if not server_url:
        yield None
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"onestack_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE {name}"))
        await admin.dispose()


@asynccontextmanager
async def private_transport(url: str | None) -> AsyncIterator[str | None]:
    """``url`` with a new RabbitMQ vhost of its own (deleted afterwards), so the durable worker
    queues of two test clouds never mix; other URLs (memory, None) as they are."""
    if not url or not url.startswith(("rabbit:", "amqp:")):
        yield url
        return
    import subprocess
    from urllib.parse import urlsplit

    vhost = f"onestack-test-{uuid.uuid4().hex[:12]}"
    user = urlsplit(url).username or "guest"

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)

    ctl("add_vhost", vhost)
    try:
        ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield urlsplit(url)._replace(path="/" + vhost).geturl()
    finally:
        ctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
async def cloud(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    """The in-process cloud; ONESTACK_TEST_DATABASE_URL (a PostgreSQL or MySQL server URL)
    runs it on that server instead of SQLite, ONESTACK_TEST_TRANSPORT_URL (rabbit://...) on
    RabbitMQ instead of the in-process bus."""
    data_dir = tmp_path_factory.mktemp("onestack")
    async with (
        fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url,
        private_transport(os.environ.get("ONESTACK_TEST_TRANSPORT_URL")) as transport_url,
    ):
        settings = load_settings(
            data_dir=data_dir, port=8999, database_url=url, transport_url=transport_url,
            identity={"password_hash_rounds": TEST_ROUNDS},
        )
        cloud = Cloud(settings)
        await cloud.start()
        yield cloud
        await cloud.stop()


@pytest.fixture(scope="session")
async def client(cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cloud.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def password_of(cloud: Cloud, user: str) -> str:
    return (Path(cloud.settings.data_dir) / f"{user}-password").read_text().strip()


def password_auth(
    user: str, password: str, *, project: str | None = None, domain: str | None = None,
    system: bool = False, user_domain: str = "default",
) -> dict[str, Any]:
    """A POST /v3/auth/tokens body for the password method."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": user_domain},
                                  "password": password}},
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    elif domain:
        auth["scope"] = {"domain": {"id": domain}}
    elif system:
        auth["scope"] = {"system": {"all": True}}
    return {"auth": auth}


async def issue(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await client.post("/identity/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


@pytest.fixture(scope="session")
async def admin_headers(cloud: Cloud, client: httpx.AsyncClient) -> dict[str, str]:
    """An admin token scoped to the admin project (a cloud admin)."""
    token = await issue(client, password_auth("admin", password_of(cloud, "admin"),
                                              project="admin"))
    return {"X-Auth-Token": token}


@pytest.fixture(scope="session")
async def demo_headers(cloud: Cloud, client: httpx.AsyncClient) -> dict[str, str]:
    """The demo user's token scoped to the demo project (a plain member)."""
    token = await issue(client, password_auth("demo", password_of(cloud, "demo"),
                                              project="demo"))
    return {"X-Auth-Token": token}


async def make_user(cloud: Cloud, name: str, password: str, *, project: str = "demo",
                    role: str = "member") -> str:
    """A user with ``role`` on ``project`` (Default domain), written straight to the database;
    for tests that must not disturb the shared admin/demo users."""
    from sqlalchemy import select

    from onestack.common.db import new_id
    from onestack.identity.models import Assignment, Project, Role, User
    from onestack.identity.passwords import hash_password

    mgr = cloud.identity.manager
    async with mgr.write() as s:
        proj = (await s.execute(select(Project).where(Project.name == project))).scalar_one()
        role_row = (await s.execute(select(Role).where(Role.name == role))).scalar_one()
        user = User(id=new_id(), name=name, domain_id="default", enabled=True, options={},
                    extra={}, password_hash=await hash_password(password, TEST_ROUNDS))
        s.add(user)
        await s.flush()
        s.add(Assignment(type="UserProject", actor_id=user.id, target_id=proj.id,
                         role_id=role_row.id, inherited=False))
        return user.id
