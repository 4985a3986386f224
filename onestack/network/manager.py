"""The Networking service object: database, policy, ML2 drivers, quotas and notifiers.

Business logic lives in the area modules (``networks``, ``subnets``, ``ports``, ``routers``,
...) as functions over a session; the manager gives them the shared pieces.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import Database
from onestack.common.policy import Policy
from onestack.common.quota import ConfiguredLimits, QuotaEnforcer
from onestack.network.ml2.mechanisms import MechanismManager
from onestack.network.ml2.types import TypeManager
from onestack.network.models import QUOTAS
from onestack.network.policies import DEFAULT_RULES

if TYPE_CHECKING:
    from fastapi import Request

    from onestack.common.platform import Platform

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")
#: Deadlocks and serialization failures a retry of the whole transaction resolves.
_RETRYABLE = (
    "deadlock",
    "serialization failure",
    "could not serialize",
    "lock wait timeout",
    "1213",
    "40001",
    "40p01",
)


class NetworkManager:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.network
        self.db = Database(self.settings.database_url_for("network"), "network", MIGRATIONS)
        self.policy = Policy(DEFAULT_RULES, self.conf.policy_file)
        self.types = TypeManager(self.conf)
        self.mechanisms = MechanismManager(self.conf)
        self.limits = ConfiguredLimits(self.conf.quotas, QUOTAS, self.db)
        self.quotas = QuotaEnforcer(self.limits, QUOTAS.locks, code=409)
        self._notifier: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self._admin_memo: dict[tuple[str, ...], bool] = {}

    async def start(self) -> None:
        await self.db.upgrade()
        self._notifier = self.platform.notifier("network")

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.db.dispose()

    def read(self) -> Any:
        return self.db.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; SQLite writers of this process queue here in order."""
        async with self.db.write() as session:
            yield session

    async def transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a write transaction, retried whole on a deadlock (MariaDB and
        PostgreSQL may pick a concurrent allocator as the victim)."""
        for attempt in range(6):
            try:
                async with self.write() as session:
                    return await work(session)
            except DBAPIError as exc:
                text = str(exc.orig).lower()
                if attempt == 5 or not any(code in text for code in _RETRYABLE):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def is_admin(self, ctx: RequestContext) -> bool:
        decision = self._admin_memo.get(ctx.roles)
        if decision is None:
            decision = self.policy.check(ctx, "context_is_admin", {})
            self._admin_memo[ctx.roles] = decision
        return decision

    def check(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        return self.policy.check(ctx, rule, target)

    def enforce(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        self.policy.enforce(ctx, rule, target)

    async def notify(
        self, ctx: RequestContext | None, event_type: str, payload: dict[str, Any]
    ) -> None:
        """Publish a ``<resource>.<action>.end`` notification; never fails the API call."""
        if self._notifier is None:
            return
        try:
            await self._notifier.info(ctx, event_type, payload)
        except Exception:
            LOG.warning("could not publish %s", event_type, exc_info=True)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def manager_of(request: Request) -> NetworkManager:
    return request.app.state.network
