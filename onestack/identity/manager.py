"""The Identity service object: its database, keys, policy, caches and revision.

Business logic lives in the area modules (``resource``, ``users``, ``assignment``, ``catalog``,
``credentials``, ``trusts``, ``tokens``, ...) as functions over a session; the manager gives
them the shared pieces. Every committed write bumps ``revision``, which invalidates the token
cache (tokens depend on users, projects, roles and grants). Writes also bump a counter row in
the database, which every process polls (``identity.cache_sync_interval``), so several
processes on one database see each other's writes (revocations included) within that interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.config import Settings
from onestack.common.db import Database
from onestack.common.fernet import KeyRepository
from onestack.common.policy import Policy
from onestack.identity.models import Revision
from onestack.identity.policies import DEFAULT_RULES
from onestack.identity.token_formatter import TokenFormatter

if TYPE_CHECKING:
    from fastapi import Request

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class IdentityManager:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.conf = settings.identity
        self.db = Database(settings.database_url_for("identity"), "identity", MIGRATIONS)
        self.keys = KeyRepository(settings.data_dir / "fernet-keys", self.conf.max_active_keys)
        self.credential_keys = KeyRepository(settings.data_dir / "credential-keys", 3)
        self.formatter = TokenFormatter(self.keys)
        self.policy = Policy(DEFAULT_RULES, self.conf.policy_file)
        #: Bumped on every committed write; cached token validations older than it are stale.
        self.revision = 0
        self._memo: dict[Hashable, Any] = {}
        self._memo_revision = -1
        self._shared_revision: int | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.keys.setup()
        self.credential_keys.setup()
        await self.db.upgrade()
        self._shared_revision = await self._read_shared_revision()
        self._poller = asyncio.create_task(self._poll_shared_revision(), name="identity-sync")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.db.dispose()

    async def _read_shared_revision(self) -> int | None:
        async with self.db.session() as session:
            return (await session.execute(select(Revision.value).where(Revision.id == 1))).scalar()

    async def _poll_shared_revision(self) -> None:
        """Drop the caches when another process has written (level-triggered, cheap)."""
        while True:
            await asyncio.sleep(self.conf.cache_sync_interval)
            try:
                shared = await self._read_shared_revision()
            except Exception:  # a database hiccup: keep polling, log once per failure
                LOG.warning("identity: could not read the shared revision", exc_info=True)
                continue
            if shared != self._shared_revision:
                self._shared_revision = shared
                self.revision += 1

    async def memo(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """``await load()``, remembered until the next write (plain values only, no ORM rows)."""
        if self._memo_revision != self.revision:
            self._memo.clear()
            self._memo_revision = self.revision
        if key in self._memo:
            return self._memo[key]
        value = await load()
        if len(self._memo) >= self.conf.token_cache_size:
            self._memo.clear()
        self._memo[key] = value
        return value

    def read(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A read transaction."""
        return self.db.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; on commit the revision moves so caches drop stale entries."""
        try:
            async with self.db.session(write=True) as session:
                yield session
                await session.execute(
                    update(Revision).where(Revision.id == 1).values(value=Revision.value + 1)
                )
        finally:
            self.revision += 1


def manager_of(request: Request) -> IdentityManager:
    return request.app.state.identity
