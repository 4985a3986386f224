"""Leases on in-flight work (onestack.common.leases) on the test database (SQLite, or the server
ONESTACK_TEST_DATABASE_URL names): taken, renewed, released, found lapsed and reclaimed once."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Table, select, update

from onestack.common.db import Database, new_metadata, utcnow
from onestack.common.leases import Leases, lease_table
from tests.conftest import fresh_database


@pytest.fixture
async def table_db(tmp_path: Path) -> AsyncIterator[tuple[Database, Table]]:
    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path / 'leases.sqlite'}", "test")
        metadata = new_metadata()
        table = lease_table(metadata, "test")
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield db, table
        await db.dispose()


async def expiries(db: Database, table: Table) -> dict[str, dt.datetime]:
    async with db.session() as s:
        rows = await s.execute(select(table.c.resource_id, table.c.expires_at))
        return {r.resource_id: r.expires_at for r in rows}


async def test_take_renew_release(table_db: tuple[Database, Table]) -> None:
    db, table = table_db
    mine, theirs = Leases(db, table, ttl=30), Leases(db, table, ttl=30)
    assert mine.holder != theirs.holder
    async with db.session(write=True) as s:
        await mine.take(s, "a", "upload")
        await theirs.take(s, "b", "upload")
    before = await expiries(db, table)
    await asyncio.sleep(0.01)
    assert await mine.renew() == 1
    after = await expiries(db, table)
    assert after["a"] > before["a"] and after["b"] == before["b"]

    async with db.session(write=True) as s:
        await mine.release(s, "b")  # not mine: stays
        await mine.release(s, "a")
    assert set(await expiries(db, table)) == {"b"}

    async with db.session(write=True) as s:  # taking over replaces the holder
        await mine.take(s, "b", "import")
    assert await mine.renew() == 1  # now mine
    async with db.session() as s:
        assert await mine.live(s, ["a", "b", "c"]) == {"b"}


async def test_lapsed_leases_are_reclaimed_once(table_db: tuple[Database, Table]) -> None:
    db, table = table_db
    dead, alive = Leases(db, table, ttl=30), Leases(db, table, ttl=30)
    async with db.session(write=True) as s:
        await dead.take(s, "x", "upload")
        await alive.take(s, "y", "upload")
        await s.execute(update(table).where(table.c.resource_id == "x").values(
            expires_at=utcnow() - dt.timedelta(seconds=1)))
    async with db.session() as s:
        lapsed = await alive.lapsed(s)
        assert await alive.live(s, ["x", "y"]) == {"y"}
    assert [(x.resource_id, x.holder) for x in lapsed] == [("x", dead.holder)]
    outcomes = []
    for _ in range(2):
        async with db.session(write=True) as s:
            outcomes.append(await alive.reclaim(s, lapsed[0]))
    assert outcomes == [True, False]
    assert set(await expiries(db, table)) == {"y"}


async def test_keep_renews_and_reconciles_until_cancelled(
    table_db: tuple[Database, Table],
) -> None:
    db, table = table_db
    leases = Leases(db, table, ttl=0.06)
    async with db.session(write=True) as s:
        await leases.take(s, "z", "upload")
    calls = 0

    async def reconcile() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a failing reconcile is logged, the loop goes on")

    keeper = asyncio.create_task(leases.keep(reconcile))
    await asyncio.sleep(0.3)  # several ttls: the lease would have lapsed without renewal
    async with db.session() as s:
        assert await leases.live(s, ["z"]) == {"z"}
    keeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await keeper
    assert calls >= 2
