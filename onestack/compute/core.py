"""The Compute service object: database, policy, quotas, RPC clients, Placement and Image.

The API, the conductor, the scheduler and the compute agents each hold one; business logic
lives in the area modules (``servers``, ``actions``, ``flavors``, ...) as functions over it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import Database
from onestack.common.errors import BadRequest, Forbidden, ServiceUnavailable
from onestack.common.policy import Policy
from onestack.compute.placement import PlacementClient
from onestack.compute.policies import default_rules

if TYPE_CHECKING:
    from fastapi import Request

    from onestack.common.platform import Platform

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class ComputeCore:
    def __init__(self, platform: Platform):
        from onestack.compute.quotas import ComputeQuotas
        from onestack.compute.rpcapi import ComputeAgentAPI, ConductorAPI, SchedulerAPI

        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.compute
        self.db = Database(self.settings.database_url_for("compute"), "compute", MIGRATIONS)
        self.policy = Policy(default_rules(self.conf.enforce_new_defaults), self.conf.policy_file)
        self.placement = PlacementClient(platform.clients)
        self.quotas = ComputeQuotas(self)
        self._rpc: tuple[ConductorAPI, SchedulerAPI, ComputeAgentAPI] | None = None
        self._rpc_classes = (ConductorAPI, SchedulerAPI, ComputeAgentAPI)
        self._notifier: Any = None
        self._versioned: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self._admin_memo: dict[tuple[str, ...], bool] = {}
        #: bumped when this process changes services or aggregates (schedulers look again)
        self.host_generation = 0

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            await self.db.upgrade()
        from onestack.common.notifications import Notifier

        self._notifier = self.platform.notifier("compute")
        self._versioned = Notifier(
            self.platform.transport,
            f"nova-compute:{self.platform.host}",
            topics=("versioned_notifications",),
        )

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.db.dispose()

    # -- RPC clients (the transport exists once the platform started) ----------------------
    def _apis(self) -> Any:
        if self._rpc is None:
            transport = self.platform.transport
            self._rpc = tuple(cls(transport) for cls in self._rpc_classes)  # type: ignore[assignment]
        return self._rpc

    @property
    def conductor(self) -> Any:
        return self._apis()[0]

    @property
    def scheduler(self) -> Any:
        return self._apis()[1]

    @property
    def agents(self) -> Any:
        return self._apis()[2]

    # -- database ---------------------------------------------------------------------------
    def read(self) -> Any:
        return self.db.session()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction (queued in-process on SQLite, as the Image service does)."""
        async with self.db.write() as session:
            yield session

    # -- policy -----------------------------------------------------------------------------
    def is_admin(self, ctx: RequestContext) -> bool:
        decision = self._admin_memo.get(ctx.roles)
        if decision is None:
            decision = self.policy.check(ctx, "context_is_admin", {})
            self._admin_memo[ctx.roles] = decision
        return decision

    def in_scope(self, ctx: RequestContext) -> bool:
        """Nova's rules are for project-scoped tokens; with ``enforce_scope`` a system-scoped
        token is refused (oslo.policy's InvalidScope, a 403)."""
        return not (self.conf.enforce_scope and ctx.system_scope)

    def enforce(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        if not self.in_scope(ctx):
            raise Forbidden(
                f"os_compute_api:{rule} is enforced for project scope; the token is system-scoped."
            )
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        self.policy.enforce(ctx, f"os_compute_api:{rule}", target)

    def allowed(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        if not self.in_scope(ctx):
            return False
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        return self.policy.check(ctx, f"os_compute_api:{rule}", target)

    # -- notifications and background work -------------------------------------------------
    async def notify(
        self, ctx: RequestContext | None, event_type: str, payload: dict[str, Any]
    ) -> None:
        """An ``instance.*`` notification, as Nova sends both: the legacy one on
        ``notifications`` and the versioned one (the instance's full ``nova_object``
        payload) on ``versioned_notifications``; a failing bus never fails the work."""
        if self._notifier is None:
            return
        try:
            await self._notifier.info(ctx, f"compute.{event_type}", payload)
        except Exception:
            LOG.warning("could not publish %s", event_type, exc_info=True)
        uuid = payload.get("instance_uuid")  # the API's multi-create start is legacy only
        if not uuid:
            return
        try:
            from onestack.compute import instances

            async with self.read() as session:
                instance = await instances.load(session, uuid, deleted=True)
        except Exception:
            return
        extra = {k: v for k, v in payload.items() if k not in ("instance_uuid", "fault")}
        await self.notify_instance(ctx, event_type, instance, fault=payload.get("fault"), **extra)

    async def notify_instance(
        self,
        ctx: RequestContext | None,
        event_type: str,
        instance: Any,
        *,
        fault: Any = None,
        **extra: Any,
    ) -> None:
        """The versioned notification of ``event_type`` about ``instance``."""
        from onestack.compute import notifications

        name = notifications.event_name(event_type)
        if self._versioned is None or name is None:
            return
        body = notifications.instance_payload(instance, ctx, name, fault=fault, **extra)
        try:
            if name.endswith(".error"):
                await self._versioned.error(ctx, name, body)
            else:
                await self._versioned.info(ctx, name, body)
        except Exception:
            LOG.warning("could not publish %s", name, exc_info=True)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- the Image service -------------------------------------------------------------------
    async def image_request(
        self, ctx: RequestContext | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A request to the Image API with the caller's token (so Glance decides what the
        caller may see), or as the ``nova`` service user without a caller."""
        client = self.platform.clients.for_service("image", user="nova")
        try:
            if ctx is None or not ctx.auth_token:
                return await client.request(method, path, **kwargs)
            url = await client.endpoint() + path
            headers = {**(kwargs.pop("headers", None) or {}), "X-Auth-Token": ctx.auth_token}
            return await self.platform.clients.http.request(method, url, headers=headers, **kwargs)
        except Exception as exc:
            raise ServiceUnavailable(f"The Image service is unreachable: {exc}") from exc

    async def image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image the caller names, as Glance shows it to the caller; 400 otherwise."""
        resp = await self.image_request(ctx, "GET", f"/v2/images/{image_id}")
        if resp.status_code == 404 or resp.status_code == 400:
            raise BadRequest(f"Image {image_id} could not be found.")
        if resp.status_code != 200:
            raise ServiceUnavailable(f"The Image service answered {resp.status_code}.")
        return dict(resp.json())


def core_of(request: Request) -> ComputeCore:
    return request.app.state.compute


class SharedCore:
    """One :class:`ComputeCore` per platform, shared by the API and the in-process agents
    (one engine, one SQLite write queue); started by its first user, stopped by its last."""

    _cores: dict[int, tuple[ComputeCore, list[int]]] = {}

    @classmethod
    def get(cls, platform: Platform) -> ComputeCore:
        key = id(platform)
        if key not in cls._cores:
            cls._cores[key] = (ComputeCore(platform), [0])
        return cls._cores[key][0]

    @classmethod
    async def start(cls, platform: Platform) -> ComputeCore:
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
