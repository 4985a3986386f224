"""Helpers for the project, user and group tests: API shortcuts, grants and scoped tokens.

Role grants are written straight to the database so these tests do not depend on the
assignment API.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from onestack.identity.models import Assignment
from onestack.server import Cloud
from tests.conftest import issue, password_auth
from tests.functional.identity.assignment_helpers import V3, role_id, unique

PASSWORD = "Sup3r-secret-pw"


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, **fields: Any
) -> dict[str, Any]:
    """POST /v3/{kind}s with ``fields``; the created resource."""
    r = await client.post(f"{V3}/{kind}s", json={kind: fields}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json()[kind])


async def all_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], key: str
) -> list[str]:
    """Follow the ``next`` links from ``url``; the names of every item seen."""
    seen: list[str] = []
    next_url: str | None = url
    while next_url:
        body = (await client.get(next_url, headers=headers)).json()
        assert len(body[key]) <= 2
        seen += [item["name"] for item in body[key]]
        next_url = body["links"]["next"]
    return seen


async def grant(
    cloud: Cloud,
    actor_id: str,
    target_id: str,
    role: str = "member",
    kind: str = "UserProject",
    inherited: bool = False,
) -> None:
    rid = await role_id(cloud, role)
    async with cloud.identity.manager.write() as s:
        s.add(
            Assignment(
                type=kind, actor_id=actor_id, target_id=target_id, role_id=rid, inherited=inherited
            )
        )


async def user_token(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    password: str = PASSWORD,
    **scope: Any,
) -> dict[str, str]:
    """Headers with a token of ``user`` (unscoped unless ``project=``/``domain=`` given)."""
    body = password_auth(user["name"], password, user_domain=user["domain_id"], **scope)
    if "project" in scope:
        body["auth"]["scope"] = {"project": {"id": scope["project"]}}
    return {"X-Auth-Token": await issue(client, body)}


async def domain_admin(
    client: httpx.AsyncClient, cloud: Cloud, admin_headers: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """A new domain and a token of an admin scoped to it (a domain admin)."""
    domain = await create(client, admin_headers, "domain", name=unique("dom"))
    user = await create(
        client,
        admin_headers,
        "user",
        name=unique("dadmin"),
        domain_id=domain["id"],
        password=PASSWORD,
    )
    await grant(cloud, user["id"], domain["id"], "admin", "UserDomain")
    return domain["id"], await user_token(client, user, domain=domain["id"])


async def assignments_of(cloud: Cloud, actor_or_target: str) -> list[Assignment]:
    async with cloud.identity.manager.read() as s:
        rows = await s.execute(
            select(Assignment).where(
                (Assignment.actor_id == actor_or_target) | (Assignment.target_id == actor_or_target)
            )
        )
        return list(rows.scalars())
