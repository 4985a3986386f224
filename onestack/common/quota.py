"""Quotas: per-project limits that concurrent requests can never exceed.

A service checks a request's resource deltas inside the write transaction that creates the
resources::

    tables = quota_tables(Base.metadata, "image")        # in the service's models + migration
    enforcer = QuotaEnforcer(UnifiedLimits(fetch, "image"), tables.locks, code=413)

    async with db.session(write=True) as session:
        await enforcer.enforce(session, project_id, {"image_count_total": 1}, usage=count)
        session.add(Image(...))

``enforce`` serialises the project's quota checks (a lock row per project on PostgreSQL and
MySQL, the database write lock on SQLite), then asks the service to count its own rows
(``usage``), so what is counted is what exists and two requests can never both take the last
unit. The lock is held until the caller's transaction ends.

Limits come from a :class:`LimitSource`: Keystone's unified limits (:class:`UnifiedLimits`) or
defaults from configuration with per-project overrides in the service's own database
(:class:`ConfiguredLimits`, for services with an ``os-quota-sets`` style API). ``-1`` means
unlimited; a resource no source knows is unlimited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common import errors
from onestack.common.db import Database

UNLIMITED = -1

#: ``fetch(path, params) -> JSON body``: a GET on the Identity API (e.g. ``/v3/limits``).
Fetch = Callable[[str, Mapping[str, str]], Awaitable[Mapping[str, Any]]]
#: ``usage(session, project_id, resources) -> {resource: amount in use}``, counted by the service.
Usage = Callable[[AsyncSession, str, Collection[str]], Awaitable[Mapping[str, int]]]

_TITLES = {403: "Forbidden", 409: "Conflict", 413: "Request Entity Too Large"}


@dataclass(frozen=True, slots=True)
class Overage:
    """One resource a request would take over its limit."""

    resource: str
    limit: int
    usage: int
    requested: int


class QuotaExceeded(errors.APIError):
    """The request would exceed a project's limit (403 by default; Glance answers 413,
    Neutron 409)."""

    kind = "OverQuota"

    def __init__(self, overs: Collection[Overage], *, code: int = 403):
        self.overs = list(overs)
        self.code = code
        self.title = _TITLES.get(code, "Forbidden")
        details = "; ".join(
            f"{o.resource}: requested {o.requested}, but already used {o.usage} of {o.limit}"
            for o in self.overs
        )
        super().__init__(f"Quota exceeded for {details}.")


class LimitSource(Protocol):
    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        """``{resource: limit}`` for ``project_id`` (``-1``: unlimited). ``session`` is the
        caller's transaction, for sources that read the service's own database."""
        ...


# -- limits from Keystone's unified limits ----------------------------------------------------
class UnifiedLimits:
    """Limits of one service type from Keystone: a project's limit, else the registered
    default, else ``missing`` (unlimited unless told otherwise).

    Registered limits of the service's region (``region_id``) win over region-less ones; other
    regions' are ignored. Answers are cached for ``ttl`` seconds and concurrent misses share one
    request. A failing fetch is a 503: limits that cannot be read are not enforced as zero.
    """

    def __init__(
        self,
        fetch: Fetch,
        service_type: str,
        *,
        region_id: str | None = None,
        ttl: float = 30.0,
        missing: int = UNLIMITED,
        max_projects: int = 10_000,
    ):
        self.fetch = fetch
        self.service_type = service_type
        self.region_id = region_id
        self.ttl = ttl
        self.missing = missing
        self.max_projects = max_projects
        self._cache: dict[str, tuple[float, asyncio.Future[dict[str, int]]]] = {}

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        defaults = await self._cached("", self._load_registered)
        own = await self._cached(project_id, lambda: self._load_project(project_id))
        return {r: own.get(r, defaults.get(r, self.missing)) for r in resources}

    def invalidate(self, project_id: str | None = None) -> None:
        """Forget cached answers (one project's limits, or everything)."""
        if project_id is None:
            self._cache.clear()
        else:
            self._cache.pop(project_id, None)

    async def _cached(
        self, key: str, load: Callable[[], Awaitable[dict[str, int]]]
    ) -> dict[str, int]:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or hit[0] <= now or _failed(hit[1]):
            if len(self._cache) > self.max_projects:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            hit = (now + self.ttl, asyncio.ensure_future(load()))
            hit[1].add_done_callback(lambda f: f.cancelled() or f.exception())
            self._cache[key] = hit
        return await asyncio.shield(hit[1])

    async def _get(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            return await self.fetch(path, params)
        except Exception as exc:
            raise errors.ServiceUnavailable(
                f"The {self.service_type} limits could not be read from the Identity service."
            ) from exc

    async def _service_id(self) -> str | None:
        body = await self._get("/v3/services", {"type": self.service_type})
        found = [s["id"] for s in body.get("services", []) if s.get("type") == self.service_type]
        return str(found[0]) if found else None

    def _pick(self, rows: Collection[Mapping[str, Any]], value: str) -> dict[str, int]:
        """``{resource_name: row[value]}``, this region's rows over region-less ones."""
        picked: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: r.get("region_id") is not None):
            if row.get("region_id") in (None, self.region_id):
                picked[row["resource_name"]] = int(row[value])
        return picked

    async def _load_registered(self) -> dict[str, int]:
        service_id = await self._service_id()
        if service_id is None:
            return {}
        body = await self._get("/v3/registered_limits", {"service_id": service_id})
        return self._pick(body.get("registered_limits", []), "default_limit")

    async def _load_project(self, project_id: str) -> dict[str, int]:
        service_id = await self._service_id()
        if service_id is None:
            return {}
        params = {"service_id": service_id, "project_id": project_id}
        body = await self._get("/v3/limits", params)
        rows = [r for r in body.get("limits", []) if r.get("project_id") == project_id]
        return self._pick(rows, "resource_limit")


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


# -- limits from configuration and the service's own database ---------------------------------
@dataclass(frozen=True, slots=True)
class QuotaTables:
    """A service's quota tables: per-project overrides and the per-project lock rows."""

    overrides: Table
    locks: Table


def quota_tables(metadata: MetaData, prefix: str) -> QuotaTables:
    """Define ``<prefix>_quotas`` (project_id, resource, hard_limit) and
    ``<prefix>_quota_locks`` (project_id) on a service's metadata; its migration creates them."""
    overrides = Table(
        f"{prefix}_quotas",
        metadata,
        Column("project_id", String(64), primary_key=True),
        Column("resource", String(255), primary_key=True),
        Column("hard_limit", Integer, nullable=False),
    )
    locks = Table(
        f"{prefix}_quota_locks", metadata, Column("project_id", String(64), primary_key=True)
    )
    return QuotaTables(overrides, locks)


class ConfiguredLimits:
    """Defaults from configuration, overridden per project by rows of ``tables.overrides``
    (the Nova / Cinder / Neutron ``os-quota-sets`` model)."""

    def __init__(
        self, defaults: Mapping[str, int], tables: QuotaTables, db: Database | None = None
    ):
        self.defaults = dict(defaults)
        self.tables = tables
        self.db = db

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        if session is None:
            if self.db is None:
                raise RuntimeError("ConfiguredLimits needs a session or a Database")
            async with self.db.session() as own:
                return await self.limits(project_id, resources, session=own)
        own_limits = await self.overrides(session, project_id, resources)
        return {r: own_limits.get(r, self.defaults.get(r, UNLIMITED)) for r in resources}

    async def overrides(
        self, session: AsyncSession, project_id: str, resources: Collection[str] | None = None
    ) -> dict[str, int]:
        """The project's own limits (all of them, or those of ``resources``)."""
        t = self.tables.overrides
        stmt = select(t.c.resource, t.c.hard_limit).where(t.c.project_id == project_id)
        if resources is not None:
            stmt = stmt.where(t.c.resource.in_(list(resources)))
        return {r: int(v) for r, v in await session.execute(stmt)}

    async def set_overrides(
        self, session: AsyncSession, project_id: str, values: Mapping[str, int]
    ) -> None:
        """Set a project's own limits (known resources, -1 or more; 400 otherwise)."""
        for resource, value in values.items():
            if resource not in self.defaults:
                raise errors.BadRequest(f"Unknown quota resource {resource}.")
            if isinstance(value, bool) or not isinstance(value, int) or value < UNLIMITED:
                raise errors.BadRequest(
                    f"Quota limit {value!r} for {resource} must be an integer of -1 or more."
                )
        t = self.tables.overrides
        for resource, value in values.items():
            where = (t.c.project_id == project_id) & (t.c.resource == resource)
            done = await session.execute(update(t).where(where).values(hard_limit=value))
            if getattr(done, "rowcount", 0) == 0:
                await session.execute(
                    insert(t).values(project_id=project_id, resource=resource, hard_limit=value)
                )

    async def delete_overrides(self, session: AsyncSession, project_id: str) -> None:
        """Back to the defaults for every resource of the project."""
        t = self.tables.overrides
        await session.execute(delete(t).where(t.c.project_id == project_id))


# -- enforcement ------------------------------------------------------------------------------
class QuotaEnforcer:
    """Checks deltas against a :class:`LimitSource` under a per-project lock."""

    def __init__(self, source: LimitSource, locks: Table, *, code: int = 403):
        self.source = source
        self.locks = locks
        self.code = code

    async def enforce(
        self,
        session: AsyncSession,
        project_id: str,
        deltas: Mapping[str, int],
        usage: Usage,
    ) -> None:
        """Raise :class:`QuotaExceeded` unless usage + delta stays within every limit.

        Call it in the write transaction that then creates the resources (and before creating
        them): the project's lock is held until that transaction ends. Deltas of 0 or less
        always pass; unlimited resources are neither locked nor counted.
        """
        wanted = {r: d for r, d in deltas.items() if d > 0}
        if not wanted:
            return
        found = await self.source.limits(project_id, list(wanted), session=session)
        limits = {r: found.get(r, UNLIMITED) for r in wanted}
        limits = {r: v for r, v in limits.items() if v > UNLIMITED}
        if not limits:
            return
        await self.lock(session, project_id)
        used = await usage(session, project_id, list(limits))
        overs = [
            Overage(r, limit, used.get(r, 0), wanted[r])
            for r, limit in sorted(limits.items())
            if used.get(r, 0) + wanted[r] > limit
        ]
        if overs:
            raise QuotaExceeded(overs, code=self.code)

    async def lock(self, session: AsyncSession, project_id: str) -> None:
        """Take ``project_id``'s quota lock until the end of the session's transaction."""
        conn = await session.connection()
        dialect = conn.dialect.name
        if dialect == "sqlite":
            # a write session holds the database's write lock (BEGIN IMMEDIATE) already
            sync = conn.sync_connection
            if sync is None or not sync.get_execution_options().get("sqlite_immediate"):
                raise RuntimeError("quota enforcement needs a write session")
            return
        row = {"project_id": project_id}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert  # its backend only

            pg = pg_insert(self.locks).values(row)
            # inserts the row or locks the existing one; waits for a concurrent inserter
            stmt: Any = pg.on_conflict_do_update(
                index_elements=[self.locks.c.project_id],
                set_={"project_id": pg.excluded.project_id},
            )
            await session.execute(stmt)
        elif dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            my = mysql_insert(self.locks).values(row)
            await session.execute(my.on_duplicate_key_update(project_id=my.inserted.project_id))
        else:
            await self._lock_generic(session, project_id)

    async def _lock_generic(self, session: AsyncSession, project_id: str) -> None:
        locked = select(self.locks.c.project_id).where(self.locks.c.project_id == project_id)
        if (await session.execute(locked.with_for_update())).first() is None:
            try:
                async with session.begin_nested():
                    await session.execute(insert(self.locks).values(project_id=project_id))
            except IntegrityError:
                pass  # another request made it first: wait for its lock below
            await session.execute(locked.with_for_update())
