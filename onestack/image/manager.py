"""The Image service object: its database, policy, stores, protections, quotas and notifier.

Business logic lives in the area modules (``images``, ``members``, ``data``, ``imports``,
``tasks``) as functions over a session; the manager gives them the shared pieces and runs the
background work (imports) it owns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import Database
from onestack.common.leases import Leases
from onestack.common.policy import Policy
from onestack.image.models import LEASES
from onestack.image.policies import DEFAULT_RULES
from onestack.image.protections import PropertyProtections
from onestack.image.quotas import ImageQuotas
from onestack.image.stores import Store, stores_from_settings
from onestack.image.stores.filesystem import FilesystemStore

if TYPE_CHECKING:
    from fastapi import Request

    from onestack.common.platform import Platform
    from onestack.image.cache import ImageCache

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
#: The store id of the staging area (the interoperable import's ``/stage``), as in Glance.
STAGING_STORE = "os_glance_staging_store"


class ImageManager:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.image
        self.db = Database(self.settings.database_url_for("image"), "image", MIGRATIONS)
        self.policy = Policy(DEFAULT_RULES, self.conf.policy_file)
        self.protections: PropertyProtections | None = None
        if self.conf.property_protection_file:
            self.protections = PropertyProtections(
                self.conf.property_protection_file,
                self.conf.property_protection_rule_format,
                check_rule=lambda ctx, rule: self.policy.check(ctx, rule, {}),
            )
        self.stores: dict[str, Store] = stores_from_settings(self.settings)
        for store in self.stores.values():
            if hasattr(store, "bind"):  # stores that reach other services (swift)
                store.bind(platform)
        self.default_store = next(iter(self.stores))
        staging = self.conf.staging_dir or self.settings.data_dir / "image-staging"
        self.staging = FilesystemStore(STAGING_STORE, staging)
        self.quotas = ImageQuotas(self)
        self.leases = Leases(self.db, LEASES, ttl=self.settings.work_lease)
        self._notifier: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self._admin_memo: dict[tuple[Any, ...], bool] = {}
        #: The local image cache (caching.py); only the API service sets it up.
        self.cache: ImageCache | None = None
        self._prefetch_wake = asyncio.Event()

    async def start(self) -> None:
        """Migrate, connect the notifier, seed the metadef resource types, reconcile the work
        of processes that are gone, sweep data nothing records and keep renewing this
        process's own leases."""
        await self.db.upgrade()
        await self.start_notifier()
        from onestack.image import metadefs, recovery

        await metadefs.seed_resource_types(self)
        await recovery.reconcile(self)
        self.spawn(recovery.sweep(self), "image-sweep")  # a directory scan: in the background
        self.spawn(self.leases.keep(lambda: recovery.reconcile(self)), "image-leases")

    async def start_cache(self) -> None:
        """Set up the local image cache where it is enabled, and run its prefetcher."""
        from onestack.image import caching

        self.cache = caching.cache_for(self)
        if self.cache is None:
            return
        await asyncio.to_thread(self.cache.prepare)
        self.spawn(caching.prefetcher(self, self.cache, self._prefetch_wake), "image-prefetch")

    def wake_prefetcher(self) -> None:
        self._prefetch_wake.set()

    async def start_notifier(self) -> None:
        self._notifier = self.platform.notifier("image")

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.db.dispose()

    def read(self) -> Any:
        """A read transaction."""
        return self.db.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. On SQLite, writers of this process queue here in order instead
        of in SQLite's busy handler, which sleeps and retries (unfair, long tails)."""
        async with self.db.write() as session:
            yield session

    def is_admin(self, ctx: RequestContext) -> bool:
        """Glance's ``context_is_admin`` (the cloud admin: see policies.py)."""
        key = (ctx.roles, ctx.system_scope, ctx.is_admin_project)
        decision = self._admin_memo.get(key)
        if decision is None:
            decision = self.policy.check(ctx, "context_is_admin", {})
            self._admin_memo[key] = decision
        return decision

    def enforce(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        self.policy.enforce(ctx, rule, target)

    async def notify(self, ctx: RequestContext, event_type: str, payload: dict[str, Any]) -> None:
        """Publish an ``image.*`` notification; a failing bus never fails the API call."""
        if self._notifier is None:
            return
        try:
            await self._notifier.info(ctx, event_type, payload)
        except Exception:
            LOG.warning("could not publish %s", event_type, exc_info=True)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run background work owned by the service (cancelled on stop)."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def manager_of(request: Request) -> ImageManager:
    return request.app.state.image
