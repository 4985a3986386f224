"""Helpers for the role and assignment tests: rows written straight to the database (so these
tests do not depend on the user/group/project APIs) and token helpers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from onestack.common.db import new_id
from onestack.identity.models import Domain, Group, GroupMembership, Project, Role, User
from onestack.identity.passwords import hash_password
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS

V3 = "/identity/v3"
PASSWORD = "s3cret-Passw0rd"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def add_domain(cloud: Cloud, name: str | None = None) -> str:
    async with cloud.identity.manager.write() as s:
        domain = Domain(id=new_id(), name=name or unique("dom"), enabled=True, options={}, extra={})
        s.add(domain)
        return domain.id


async def add_project(
    cloud: Cloud,
    name: str | None = None,
    *,
    domain_id: str = "default",
    parent_id: str | None = None,
) -> str:
    async with cloud.identity.manager.write() as s:
        project = Project(
            id=new_id(),
            name=name or unique("proj"),
            domain_id=domain_id,
            parent_id=parent_id,
            enabled=True,
            options={},
            extra={},
        )
        s.add(project)
        return project.id


async def add_user(cloud: Cloud, name: str | None = None, *, domain_id: str = "default") -> str:
    hashed = await hash_password(PASSWORD, TEST_ROUNDS)
    async with cloud.identity.manager.write() as s:
        user = User(
            id=new_id(),
            name=name or unique("user"),
            domain_id=domain_id,
            enabled=True,
            options={},
            extra={},
            password_hash=hashed,
        )
        s.add(user)
        return user.id


async def add_group(
    cloud: Cloud,
    members: list[str] = (),
    *,
    domain_id: str = "default",  # type: ignore[assignment]
) -> str:
    async with cloud.identity.manager.write() as s:
        group = Group(id=new_id(), name=unique("grp"), domain_id=domain_id, extra={})
        s.add(group)
        await s.flush()
        for user_id in members:
            s.add(GroupMembership(user_id=user_id, group_id=group.id))
        return group.id


async def role_id(cloud: Cloud, name: str) -> str:
    async with cloud.identity.manager.read() as s:
        return (await s.execute(select(Role.id).where(Role.name == name))).scalar_one()


async def new_role(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": unique("role"), **fields}
    r = await client.post(f"{V3}/roles", json={"role": body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["role"]


async def user_token(
    client: httpx.AsyncClient,
    user_id: str,
    *,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> httpx.Response:
    """POST /v3/auth/tokens for a helper-made user (by id), scoped as asked."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"id": user_id, "password": PASSWORD}},
        }
    }
    if project_id:
        auth["scope"] = {"project": {"id": project_id}}
    elif domain_id:
        auth["scope"] = {"domain": {"id": domain_id}}
    elif system:
        auth["scope"] = {"system": {"all": True}}
    return await client.post(f"{V3}/auth/tokens", json={"auth": auth})


async def headers_for(client: httpx.AsyncClient, user_id: str, **scope: Any) -> dict[str, str]:
    r = await user_token(client, user_id, **scope)
    assert r.status_code == 201, r.text
    return {"X-Auth-Token": r.headers["X-Subject-Token"]}


async def token_valid(client: httpx.AsyncClient, admin: dict[str, str], token: str) -> bool:
    r = await client.get(f"{V3}/auth/tokens", headers={**admin, "X-Subject-Token": token})
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200
