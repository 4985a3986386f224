"""The quota framework's semantics: deltas, unlimited, the error, the limit sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common import errors
from onestack.common.db import Database, new_metadata
from onestack.common.quota import (
    UNLIMITED,
    ConfiguredLimits,
    QuotaEnforcer,
    QuotaExceeded,
    QuotaTables,
    UnifiedLimits,
    quota_tables,
)


class Fixed:
    """A limit source with fixed limits that records what it was asked."""

    def __init__(self, limits: Mapping[str, int]):
        self.values = dict(limits)
        self.asked: list[list[str]] = []

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        self.asked.append(sorted(resources))
        return {r: self.values[r] for r in resources if r in self.values}


class Counter:
    """A usage function with fixed usage that records its calls."""

    def __init__(self, used: Mapping[str, int]):
        self.used = dict(used)
        self.calls = 0

    async def __call__(
        self, session: AsyncSession, project_id: str, resources: Collection[str]
    ) -> dict[str, int]:
        self.calls += 1
        return {r: self.used.get(r, 0) for r in resources}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[Database, QuotaTables, Table]]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/q.sqlite", "qtest")
    metadata = new_metadata()
    tables = quota_tables(metadata, "qtest")
    items = Table(
        "qtest_items",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("project_id", String(64), nullable=False),
    )
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database, tables, items
    await database.dispose()


async def _enforce(
    database: Database, enforcer: QuotaEnforcer, deltas: Mapping[str, int], usage: Counter
) -> None:
    async with database.session(write=True) as s:
        await enforcer.enforce(s, "p", deltas, usage)


async def test_within_and_over_the_limit(db: tuple[Database, QuotaTables, Table]) -> None:
    database, tables, _ = db
    enforcer = QuotaEnforcer(Fixed({"images": 10, "size": 100}), tables.locks)
    await _enforce(database, enforcer, {"images": 1, "size": 10}, Counter({"images": 9}))
    await _enforce(database, enforcer, {"images": 1, "size": 100}, Counter({}))
    with pytest.raises(QuotaExceeded) as caught:
        await _enforce(database, enforcer, {"images": 2, "size": 5}, Counter({"images": 9}))
    err = caught.value
    assert [(o.resource, o.limit, o.usage, o.requested) for o in err.overs] == [
        ("images", 10, 9, 2)
    ]
    assert err.message == "Quota exceeded for images: requested 2, but already used 9 of 10."
    assert (err.code, err.title) == (403, "Forbidden")
    assert errors.nova_format(err) == {"forbidden": {"code": 403, "message": err.message}}
    assert isinstance(err, errors.APIError)


async def test_every_resource_over_is_named(db: tuple[Database, QuotaTables, Table]) -> None:
    database, tables, _ = db
    enforcer = QuotaEnforcer(Fixed({"a": 1, "b": 5, "c": 3}), tables.locks, code=413)
    with pytest.raises(QuotaExceeded) as caught:
        await _enforce(database, enforcer, {"a": 1, "b": 1, "c": 4}, Counter({"a": 1}))
    assert [o.resource for o in caught.value.overs] == ["a", "c"]
    assert "a: requested 1, but already used 1 of 1" in caught.value.message
    assert "c: requested 4, but already used 0 of 3" in caught.value.message
    assert (caught.value.code, caught.value.title) == (413, "Request Entity Too Large")
    assert errors.nova_format(caught.value)["overLimit"]["code"] == 413


async def test_zero_limit_refuses_anything(db: tuple[Database, QuotaTables, Table]) -> None:
    database, tables, _ = db
    enforcer = QuotaEnforcer(Fixed({"a": 0}), tables.locks)
    with pytest.raises(QuotaExceeded):
        await _enforce(database, enforcer, {"a": 1}, Counter({}))


async def test_no_positive_delta_asks_nothing(db: tuple[Database, QuotaTables, Table]) -> None:
    database, tables, _ = db
    source, usage = Fixed({"a": 0}), Counter({"a": 50})
    enforcer = QuotaEnforcer(source, tables.locks)
    await _enforce(database, enforcer, {"a": 0}, usage)
    await _enforce(database, enforcer, {"a": -3}, usage)
    await _enforce(database, enforcer, {}, usage)
    assert source.asked == [] and usage.calls == 0
    # already over the limit, but giving back always passes; only positive deltas are checked
    await _enforce(database, enforcer, {"a": -1, "b": 2}, usage)
    assert source.asked == [["b"]]


async def test_unlimited_is_neither_locked_nor_counted(
    db: tuple[Database, QuotaTables, Table],
) -> None:
    database, tables, _ = db
    usage = Counter({"a": 10**9})
    enforcer = QuotaEnforcer(Fixed({"a": UNLIMITED}), tables.locks)
    await _enforce(database, enforcer, {"a": 10**6, "unknown": 5}, usage)
    assert usage.calls == 0
    # even a read session will do when nothing is limited
    async with database.session() as s:
        await enforcer.enforce(s, "p", {"a": 1}, usage)


async def test_only_limited_resources_are_counted(
    db: tuple[Database, QuotaTables, Table],
) -> None:
    database, tables, _ = db
    asked: list[list[str]] = []

    async def usage(s: AsyncSession, project_id: str, resources: Collection[str]) -> dict[str, int]:
        asked.append(sorted(resources))
        return {}

    enforcer = QuotaEnforcer(Fixed({"a": 5, "b": UNLIMITED}), tables.locks)
    async with database.session(write=True) as s:
        await enforcer.enforce(s, "p", {"a": 1, "b": 1, "c": 1}, usage)
    assert asked == [["a"]]


async def test_a_read_session_is_refused_on_sqlite(
    db: tuple[Database, QuotaTables, Table],
) -> None:
    database, tables, _ = db
    enforcer = QuotaEnforcer(Fixed({"a": 5}), tables.locks)
    with pytest.raises(RuntimeError, match="write session"):
        async with database.session() as s:
            await enforcer.enforce(s, "p", {"a": 1}, Counter({}))


# -- ConfiguredLimits -------------------------------------------------------------------------
async def test_configured_limits(db: tuple[Database, QuotaTables, Table]) -> None:
    database, tables, items = db
    source = ConfiguredLimits({"items": 2, "cores": 10, "ram": UNLIMITED}, tables, database)
    assert await source.limits("p", ["items", "cores", "ram", "other"]) == {
        "items": 2,
        "cores": 10,
        "ram": UNLIMITED,
        "other": UNLIMITED,
    }
    async with database.session(write=True) as s:
        await source.set_overrides(s, "p", {"items": 3, "ram": 512})
    async with database.session(write=True) as s:
        await source.set_overrides(s, "p", {"items": 4})  # an update, not a duplicate
        assert await source.overrides(s, "p") == {"items": 4, "ram": 512}
        assert await source.limits("p", ["items", "cores"], session=s) == {"items": 4, "cores": 10}
    assert await source.limits("q", ["items"]) == {"items": 2}  # other projects keep defaults

    for bad in ({"nope": 1}, {"items": -2}, {"items": "5"}, {"items": True}, {"items": 1.5}):
        async with database.session(write=True) as s:
            with pytest.raises(errors.BadRequest):
                await source.set_overrides(s, "p", bad)  # type: ignore[arg-type]

    # enforced from the overrides, counted from the service's rows
    async def count(s: AsyncSession, project_id: str, resources: Collection[str]) -> dict[str, int]:
        stmt = select(func.count()).select_from(items).where(items.c.project_id == project_id)
        return {"items": int((await s.execute(stmt)).scalar_one())}

    enforcer = QuotaEnforcer(source, tables.locks)
    made = 0
    for _ in range(6):
        try:
            async with database.session(write=True) as s:
                await enforcer.enforce(s, "p", {"items": 1}, count)
                await s.execute(insert(items).values(project_id="p"))
                made += 1
        except QuotaExceeded:
            pass
    assert made == 4

    async with database.session(write=True) as s:
        await source.delete_overrides(s, "p")
        assert await source.overrides(s, "p") == {}
    assert await source.limits("p", ["items"]) == {"items": 2}


async def test_configured_limits_need_a_session_or_a_database(
    db: tuple[Database, QuotaTables, Table],
) -> None:
    _, tables, _ = db
    with pytest.raises(RuntimeError):
        await ConfiguredLimits({"a": 1}, tables).limits("p", ["a"])


def test_quota_tables_shape() -> None:
    metadata = new_metadata()
    tables = quota_tables(metadata, "image")
    assert tables.overrides.name == "image_quotas" and tables.locks.name == "image_quota_locks"
    assert [c.name for c in tables.overrides.primary_key] == ["project_id", "resource"]
    assert [c.name for c in tables.locks.primary_key] == ["project_id"]
    assert set(metadata.tables) == {"image_quotas", "image_quota_locks"}


# -- UnifiedLimits with a stand-in Identity API -------------------------------------------------
class FakeIdentity:
    """Answers the three GETs UnifiedLimits makes; counts them."""

    def __init__(self) -> None:
        self.registered = [
            {"resource_name": "image_count_total", "default_limit": 5, "region_id": None},
            {"resource_name": "image_size_total", "default_limit": 1000, "region_id": None},
            {"resource_name": "image_size_total", "default_limit": 2000, "region_id": "RegionOne"},
            {"resource_name": "image_stage_total", "default_limit": 50, "region_id": "RegionTwo"},
        ]
        self.limits = [
            {
                "project_id": "p1",
                "resource_name": "image_count_total",
                "resource_limit": 7,
                "region_id": None,
            },
            {
                "project_id": "p1",
                "resource_name": "image_size_total",
                "resource_limit": 10,
                "region_id": "RegionTwo",
            },
        ]
        self.calls: list[str] = []
        self.fail = False
        self.delay = 0.0

    async def fetch(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        self.calls.append(path)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("identity is down")
        if path == "/v3/services":
            return {"services": [{"id": "svc", "type": params["type"]}]}
        assert params["service_id"] == "svc"
        if path == "/v3/registered_limits":
            return {"registered_limits": self.registered}
        assert path == "/v3/limits"
        return {"limits": [x for x in self.limits if x["project_id"] == params["project_id"]]}


RESOURCES = ["image_count_total", "image_size_total", "image_stage_total", "other"]


async def test_unified_limits_resolution() -> None:
    identity = FakeIdentity()
    source = UnifiedLimits(identity.fetch, "image", region_id="RegionOne")
    assert await source.limits("p1", RESOURCES) == {
        "image_count_total": 7,  # the project's own
        "image_size_total": 2000,  # this region's default; the RegionTwo override is not ours
        "image_stage_total": UNLIMITED,  # another region's only
        "other": UNLIMITED,
    }
    assert await source.limits("p2", RESOURCES[:2]) == {
        "image_count_total": 5,
        "image_size_total": 2000,
    }
    regionless = UnifiedLimits(identity.fetch, "image", missing=0)
    assert await regionless.limits("p2", RESOURCES) == {
        "image_count_total": 5,
        "image_size_total": 1000,
        "image_stage_total": 0,
        "other": 0,
    }


async def test_unified_limits_cache() -> None:
    identity = FakeIdentity()
    source = UnifiedLimits(identity.fetch, "image", ttl=60)
    identity.delay = 0.01
    answers = await asyncio.gather(*(source.limits("p1", RESOURCES) for _ in range(20)))
    assert all(a == answers[0] for a in answers)
    assert sorted(identity.calls) == sorted(
        ["/v3/services", "/v3/registered_limits", "/v3/services", "/v3/limits"]
    )  # twenty concurrent misses, one load each
    identity.calls.clear()
    identity.limits[0]["resource_limit"] = 8
    assert (await source.limits("p1", ["image_count_total"]))["image_count_total"] == 7
    assert identity.calls == []
    source.invalidate("p1")
    assert (await source.limits("p1", ["image_count_total"]))["image_count_total"] == 8
    assert identity.calls == ["/v3/services", "/v3/limits"]

    fresh = UnifiedLimits(identity.fetch, "image", ttl=0)
    await fresh.limits("p1", RESOURCES)
    identity.calls.clear()
    await fresh.limits("p1", RESOURCES)
    assert len(identity.calls) == 4  # a TTL of 0 caches nothing


async def test_unified_limits_failure_is_503_and_not_cached() -> None:
    identity = FakeIdentity()
    source = UnifiedLimits(identity.fetch, "image", ttl=60)
    identity.fail = True
    with pytest.raises(errors.ServiceUnavailable) as caught:
        await source.limits("p1", RESOURCES)
    assert caught.value.code == 503 and "image limits" in caught.value.message
    identity.fail = False
    assert (await source.limits("p1", ["image_count_total"]))["image_count_total"] == 7


async def test_unified_limits_unknown_service_is_unlimited() -> None:
    async def fetch(path: str, params: Mapping[str, str]) -> dict[str, Any]:
        assert path == "/v3/services"
        return {"services": []}

    source = UnifiedLimits(fetch, "image")
    assert await source.limits("p", ["image_count_total"]) == {"image_count_total": UNLIMITED}
