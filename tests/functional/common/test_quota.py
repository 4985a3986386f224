"""Quota limits are never exceeded under 50 concurrent requests, on the test database (SQLite,
or the PostgreSQL / MySQL server ONESTACK_TEST_DATABASE_URL names); and UnifiedLimits reads the
real in-process Identity API."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import Database, new_metadata
from onestack.common.quota import (
    ConfiguredLimits,
    QuotaEnforcer,
    QuotaExceeded,
    QuotaTables,
    UnifiedLimits,
    quota_tables,
)
from tests.conftest import fresh_database

H = dict[str, str]
SERVER_URL = os.environ.get("ONESTACK_TEST_DATABASE_URL")
REQUESTS = 50


@dataclass
class Schema:
    db: Database
    tables: QuotaTables
    items: Table

    async def count(
        self, session: AsyncSession, project_id: str, resources: Collection[str]
    ) -> dict[str, int]:
        """The usage function a service writes: its own rows, counted."""
        stmt = select(func.count(), func.coalesce(func.sum(self.items.c.size), 0)).where(
            self.items.c.project_id == project_id
        )
        count, size = (await session.execute(stmt)).one()
        return {"items": int(count), "size": int(size)}

    async def rows(self, project_id: str) -> int:
        async with self.db.session() as s:
            return (await self.count(s, project_id, ["items"]))["items"]


@pytest.fixture
async def schema(tmp_path: Path) -> AsyncIterator[Schema]:
    """A test-only service schema (items + quota tables) on a fresh test database."""
    async with fresh_database(SERVER_URL) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/quota.sqlite", "qtest")
        metadata = new_metadata()
        tables = quota_tables(metadata, "qtest")
        items = Table(
            "qtest_items",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("project_id", String(64), nullable=False, index=True),
            Column("size", Integer, nullable=False),
        )
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield Schema(db, tables, items)
        await db.dispose()


async def _create(
    schema: Schema,
    enforcer: QuotaEnforcer,
    project_id: str,
    *,
    size: int = 1,
    read_first: bool = False,
) -> bool:
    """One API request: enforce, then insert its row, in one write transaction."""
    try:
        async with schema.db.session(write=True) as s:
            if read_first:  # as a service does when it looks things up before creating
                await schema.count(s, project_id, ["items"])
            await enforcer.enforce(s, project_id, {"items": 1, "size": size}, schema.count)
            await asyncio.sleep(0.005)  # widen the window between the check and the insert
            await s.execute(insert(schema.items).values(project_id=project_id, size=size))
        return True
    except QuotaExceeded as exc:
        assert exc.code == 403 and exc.message.startswith("Quota exceeded for ")
        return False


@pytest.mark.parametrize("read_first", [False, True], ids=["enforce-first", "read-first"])
async def test_limit_never_exceeded_under_50_concurrent_requests(
    schema: Schema, read_first: bool
) -> None:
    source = ConfiguredLimits({"items": 10, "size": -1}, schema.tables, schema.db)
    enforcer = QuotaEnforcer(source, schema.tables.locks)
    results = await asyncio.gather(
        *(_create(schema, enforcer, "p1", read_first=read_first) for _ in range(REQUESTS))
    )
    assert results.count(True) == 10 and results.count(False) == REQUESTS - 10
    assert await schema.rows("p1") == 10


async def test_projects_are_limited_separately(schema: Schema) -> None:
    source = ConfiguredLimits({"items": 5, "size": 12}, schema.tables, schema.db)
    async with schema.db.session(write=True) as s:
        await source.set_overrides(s, "big", {"items": 8})
    enforcer = QuotaEnforcer(source, schema.tables.locks)
    work = [_create(schema, enforcer, p, size=2) for p in ("small", "big") for _ in range(25)]
    results = await asyncio.gather(*work)
    # small: 5 items; big: 8 items allowed, but 12 of size lets only 6 rows of size 2 in
    assert (await schema.rows("small"), await schema.rows("big")) == (5, 6)
    assert results.count(True) == 11


@pytest.mark.skipif(
    not SERVER_URL, reason="SQLite serialises write transactions: no race to show without locks"
)
async def test_without_the_lock_the_limit_is_exceeded(
    schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same run with the lock taken out overshoots, so the test above can
    tell a working lock from a missing one."""

    async def no_lock(self: QuotaEnforcer, session: AsyncSession, project_id: str) -> None:
        return None

    monkeypatch.setattr(QuotaEnforcer, "lock", no_lock)
    source = ConfiguredLimits({"items": 10}, schema.tables, schema.db)
    enforcer = QuotaEnforcer(source, schema.tables.locks)
    await asyncio.gather(*(_create(schema, enforcer, "p1") for _ in range(REQUESTS)))
    assert await schema.rows("p1") > 10


# -- UnifiedLimits against the in-process Identity API -----------------------------------------
async def _post(client: httpx.AsyncClient, headers: H, path: str, key: str, body: Any) -> Any:
    r = await client.post(f"/identity/v3/{path}", json={key: body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()[key]


async def test_unified_limits_from_identity(
    client: httpx.AsyncClient, admin_headers: H, schema: Schema
) -> None:
    service_type = f"quota-{uuid.uuid4().hex[:8]}"
    service = await _post(client, admin_headers, "services", "service", {"type": service_type})
    project = await _post(client, admin_headers, "projects", "project", {"name": service_type})
    await _post(
        client,
        admin_headers,
        "registered_limits",
        "registered_limits",
        [
            {"service_id": service["id"], "resource_name": "items", "default_limit": 3},
            {"service_id": service["id"], "resource_name": "size", "default_limit": 100},
        ],
    )
    [override] = await _post(
        client,
        admin_headers,
        "limits",
        "limits",
        [
            {
                "service_id": service["id"],
                "resource_name": "items",
                "resource_limit": 7,
                "project_id": project["id"],
            }
        ],
    )
    calls: list[str] = []

    async def fetch(path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        calls.append(path)
        r = await client.get(f"/identity{path}", params=dict(params), headers=admin_headers)
        r.raise_for_status()
        return dict(r.json())

    source = UnifiedLimits(fetch, service_type, ttl=60)
    assert await source.limits(project["id"], ["items", "size", "other"]) == {
        "items": 7,
        "size": 100,
        "other": -1,
    }
    assert await source.limits("another-project", ["items"]) == {"items": 3}

    # 20 concurrent requests of the project: exactly its own limit of rows
    enforcer = QuotaEnforcer(source, schema.tables.locks, code=413)
    calls.clear()
    results = await asyncio.gather(
        *(_create_413(schema, enforcer, project["id"]) for _ in range(20))
    )
    assert results.count(True) == 7 and await schema.rows(project["id"]) == 7
    assert calls == []  # the limits came from the cache

    # a change in Identity shows after invalidation (or the TTL)
    r = await client.patch(
        f"/identity/v3/limits/{override['id']}",
        json={"limit": {"resource_limit": 8}},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert await source.limits(project["id"], ["items"]) == {"items": 7}
    source.invalidate(project["id"])
    assert await source.limits(project["id"], ["items"]) == {"items": 8}
    assert await _create_413(schema, enforcer, project["id"])
    assert not await _create_413(schema, enforcer, project["id"])


async def _create_413(schema: Schema, enforcer: QuotaEnforcer, project_id: str) -> bool:
    try:
        async with schema.db.session(write=True) as s:
            await enforcer.enforce(s, project_id, {"items": 1, "size": 1}, schema.count)
            await s.execute(insert(schema.items).values(project_id=project_id, size=1))
        return True
    except QuotaExceeded as exc:
        assert exc.code == 413 and exc.title == "Request Entity Too Large"
        assert [o.resource for o in exc.overs] == ["items"]
        return False
