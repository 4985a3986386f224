"""The Placement service object: its database, policy and name caches.

Business logic lives in the area modules (``providers``, ``inventories``, ``allocations``,
``candidates``, ...) as functions over a Core connection; the manager hands out read and write
transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common import errors
from onestack.common.context import RequestContext
from onestack.common.db import Database
from onestack.common.policy import Policy
from onestack.placement import names
from onestack.placement.models import resource_classes, traits
from onestack.placement.policies import DEFAULT_RULES

if TYPE_CHECKING:
    from fastapi import Request

    from onestack.common.platform import Platform

MIGRATIONS = Path(__file__).parent / "migrations"


class PlacementManager:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.placement
        self.db = Database(self.settings.database_url_for("placement"), "placement", MIGRATIONS)
        self.policy = Policy(DEFAULT_RULES, self.conf.policy_file)
        self.classes = names.NameCache(resource_classes)
        self.traits = names.NameCache(traits)
        self._engine = self.db.engine
        self._write_engine = self.db.engine.execution_options(sqlite_immediate=True)
        self._write_lock = self.db.write_lock  # one queue with the service's other writers
        self._seeding: asyncio.Task[None] | None = None
        #: GET /resource_providers bodies: (link prefix, version shape) -> (change mark,
        #: body, newest updated_at); see ``providers.change_mark``
        self.listings: dict[tuple[Any, ...], tuple[Any, bytes, Any]] = {}

    async def start(self) -> None:
        """Migrate, seed the standard resource classes and traits, fill the caches. On a
        database that has traits already, the standard ones a newer os-traits adds are seeded
        in the background (reading os-traits costs ~50 ms of start-up)."""
        await self.db.upgrade()
        async with self.write() as conn:
            await names.seed_classes(conn)
            seeded = await names.has_traits(conn)
            if not seeded:
                await names.seed_traits(conn)
            await self.classes.reload(conn)
            await self.traits.reload(conn)
        if seeded:
            self._seeding = asyncio.create_task(self._seed_traits(), name="placement-traits")

    async def _seed_traits(self) -> None:
        await asyncio.sleep(1.0)
        async with self.write() as conn:
            await names.seed_traits(conn)
            await self.traits.reload(conn)

    async def stop(self) -> None:
        if self._seeding is not None:
            self._seeding.cancel()
            await asyncio.gather(self._seeding, return_exceptions=True)
        await self.db.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite this process's writers queue here in order instead
        of in SQLite's busy handler. A unique-key clash is a 409."""
        try:
            if self._write_lock is None:
                async with self._write_engine.connect() as conn, conn.begin():
                    yield conn
                return
            async with self._write_lock, self._write_engine.connect() as conn, conn.begin():
                yield conn
        except IntegrityError as exc:
            raise errors.Conflict(
                "Conflict occurred attempting to store the resource: a duplicate entry exists "
                "or a referenced entity is missing.",
                error_code="placement.duplicate_name" if _is_unique(exc) else None,
            ) from exc

    def enforce(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        self.policy.enforce(ctx, rule, target)


def _is_unique(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate" in text


def manager_of(request: Request) -> PlacementManager:
    return request.app.state.placement
