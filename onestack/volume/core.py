"""The Block Storage service object: database, policy, quotas, RPC clients and the Image API.

The API, the scheduler and the volume agents of one process share one (one engine, one SQLite
write queue); business logic lives in the area modules (``volumes``, ``snapshots``, ``types``,
``quotas``, ...) as functions over it.
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
from onestack.common.errors import BadRequest, ServiceUnavailable
from onestack.common.leases import Leases
from onestack.common.policy import Policy
from onestack.volume.models import LEASES
from onestack.volume.policies import DEFAULT_RULES

if TYPE_CHECKING:
    import httpx
    from fastapi import Request

    from onestack.common.platform import Platform

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class VolumeCore:
    def __init__(self, platform: Platform):
        from onestack.volume.quotas import VolumeQuotas

        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.volume
        self.db = Database(self.settings.database_url_for("volume"), "volume", MIGRATIONS)
        self.policy = Policy(DEFAULT_RULES, self.conf.policy_file)
        self.quotas = VolumeQuotas(self)
        self.leases = Leases(self.db, LEASES, ttl=self.settings.work_lease)
        self._rpc: Any = None
        self._notifier: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self._admin_memo: dict[tuple[Any, ...], bool] = {}

    async def start(self) -> None:
        await self.db.upgrade()
        self._notifier = self.platform.notifier("volume")

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.db.dispose()

    # -- RPC ----------------------------------------------------------------------------------
    @property
    def rpc(self) -> Any:
        """``(SchedulerAPI, VolumeAgentAPI)`` once the transport exists."""
        if self._rpc is None:
            from onestack.volume.rpcapi import SchedulerAPI, VolumeAgentAPI

            transport = self.platform.transport
            self._rpc = (SchedulerAPI(transport), VolumeAgentAPI(transport))
        return self._rpc

    @property
    def scheduler(self) -> Any:
        return self.rpc[0]

    @property
    def agents(self) -> Any:
        return self.rpc[1]

    # -- database -----------------------------------------------------------------------------
    def read(self) -> Any:
        return self.db.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self.db.write() as session:
            yield session

    # -- policy -------------------------------------------------------------------------------
    def is_admin(self, ctx: RequestContext) -> bool:
        key = (ctx.roles, ctx.system_scope, ctx.is_admin_project)
        decision = self._admin_memo.get(key)
        if decision is None:
            decision = self.policy.check(ctx, "context_is_admin", {})
            self._admin_memo[key] = decision
        return decision

    def enforce(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        self.policy.enforce(ctx, rule, target)

    def allowed(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        return self.policy.check(ctx, rule, target)

    # -- notifications and background work ----------------------------------------------------
    async def notify(
        self, ctx: RequestContext | None, event_type: str, payload: dict[str, Any]
    ) -> None:
        """A ``volume.*`` / ``snapshot.*`` notification; a failing bus never fails the work."""
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

    # -- other services -----------------------------------------------------------------------
    async def service_request(
        self, service: str, ctx: RequestContext | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A request to another service's API with the caller's token (so that service
        decides what the caller may see), or as the ``cinder`` service user without one."""
        clients = self.platform.clients
        client = clients.for_service(service, user="cinder")
        try:
            if ctx is None or not ctx.auth_token:
                return await client.request(method, path, **kwargs)
            url = await client.endpoint() + path
            headers = {**(kwargs.pop("headers", None) or {}), "X-Auth-Token": ctx.auth_token}
            return await clients.http.request(method, url, headers=headers, **kwargs)
        except Exception as exc:
            raise ServiceUnavailable(f"The {service} service is unreachable: {exc}") from exc

    async def image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image the caller names, as Glance shows it to the caller; 400 otherwise."""
        resp = await self.service_request("image", ctx, "GET", f"/v2/images/{image_id}")
        if resp.status_code in (400, 404):
            raise BadRequest("Invalid image identifier or unable to access requested image.")
        if resp.status_code != 200:
            raise ServiceUnavailable(f"The Image service answered {resp.status_code}.")
        return dict(resp.json())


def core_of(request: Request) -> VolumeCore:
    return request.app.state.volume


class SharedCore:
    """One :class:`VolumeCore` per platform, started by its first user, stopped by its last."""

    _cores: dict[int, tuple[VolumeCore, list[int]]] = {}

    @classmethod
    def get(cls, platform: Platform) -> VolumeCore:
        key = id(platform)
        if key not in cls._cores:
            cls._cores[key] = (VolumeCore(platform), [0])
        return cls._cores[key][0]

    @classmethod
    async def start(cls, platform: Platform) -> VolumeCore:
        core = cls.get(platform)
        users = cls._cores[id(platform)][1]
        users[0] += 1
        if users[0] == 1:
            await core.start()
        return core

    @classmethod
    async def stop(cls, platform: Platform) -> None:
        entry = cls._cores.get(id(platform))
        if entry is None:
            return
        core, users = entry
        users[0] -= 1
        if users[0] <= 0:
            del cls._cores[id(platform)]
            await core.stop()
