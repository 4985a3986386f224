"""The all-in-one cloud: every enabled service mounted under its prefix in one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common import metrics
from onestack.common.agents import Agent, agent_kinds, start_agent
from onestack.common.api import LazyApp
from onestack.common.config import Settings
from onestack.common.files import write_private
from onestack.common.observe import BodyTimeoutMiddleware
from onestack.common.platform import Platform
from onestack.common.remote_auth import RemoteTokenValidator
from onestack.common.service import (
    RunnableService,
    load_service,
    service_names,
)

if TYPE_CHECKING:
    from onestack.identity.service import IdentityService

LOG = logging.getLogger(__name__)


class Cloud:
    """The services of one process and the root app that routes to them."""

    def __init__(self, settings: Settings, platform: Platform | None = None):
        self.settings = settings
        self.platform = platform or Platform(settings)
        names = service_names(settings)
        if "identity" not in names and self.platform.token_validator is None:
            self.platform.token_validator = RemoteTokenValidator(
                self.platform.clients, user=load_service(names[0]).spec.catalog_name
            )
        self.services: list[RunnableService] = [load_service(name)(self.platform) for name in names]
        self.identity: IdentityService | None = next(
            (svc for svc in self.services if svc.spec.name == "identity"),  # type: ignore[misc]
            None,
        )
        self.ready = False
        self.agents: list[Agent] = []
        self._agents_task: asyncio.Task[None] | None = None
        self.on_fatal: Callable[[], None] | None = None  # a served cloud's stop, on a failure
        self.bootstrap_ids: dict[str, str] = {}
        routes: list[Any] = [
            Route("/healthcheck", self.healthcheck, methods=["GET", "HEAD"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Route("/", self.root, methods=["GET"]),
        ]
        root = Starlette(routes=routes, lifespan=self.lifespan)
        apps: dict[str, ASGIApp] = {}
        for svc in self.services:
            apps[svc.spec.prefix] = svc.app
            apps.update(getattr(svc, "mounts", {}))  # a service's other apps (its own prefixes)
        self.app = BodyTimeoutMiddleware(
            PrefixRouter(apps, root),
            timeout=settings.request_body_timeout,
        )
        self.platform.clients.local_app = self.app

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.start(agents_in_background=True)
        try:
            yield
        finally:
            await self.stop()

    async def start(self, *, agents_in_background: bool = False) -> None:
        """Start the platform and every service, then the workers; ``ready`` once all run.

        With ``agents_in_background`` (a served cloud) the APIs answer while the workers
        start (compute registers its hosts with Placement: half a second of start-up); the
        healthcheck says "starting" until they run, and a worker that fails to start calls
        ``on_fatal`` (the server stops) as a failed start would.
        """
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.platform.start()
        if self.identity is not None:
            from onestack.identity.bootstrap import bootstrap  # not in a process without it

            await self.identity.start()
            remote = {
                name: url
                for name, url in self.settings.remote_services.items()
                if name not in {svc.spec.name for svc in self.services}
            }
            specs = [svc.spec for svc in self.services] + [
                load_service(name).spec for name in remote
            ]
            self.bootstrap_ids = await bootstrap(self.identity.manager, specs, remote)
            self.identity.tokens.admin_project_id = self.bootstrap_ids["admin_project_id"]
            write_clouds_yaml(self.settings)
        for svc in self.services:
            if svc is not self.identity:
                await svc.start()
        if agents_in_background:
            self._agents_task = asyncio.create_task(
                self._start_agents(build_apps=True), name="start-agents"
            )
        else:
            await self._start_agents()

    async def _start_agents(self, *, build_apps: bool = False) -> None:
        try:
            if build_apps:  # a served cloud; in-process (the tests) an app builds when called
                await self._build_apps()
            # on the in-process bus no other process can take the work: the workers run here
            if self.settings.run_agents or not self.platform.transport.durable:
                for kind in agent_kinds(self.settings):
                    self.agents.append(await start_agent(kind, self.platform))
        except Exception:
            if self._agents_task is None:
                raise
            LOG.exception("a worker failed to start: stopping")
            if self.on_fatal is not None:
                self.on_fatal()
            return
        self.ready = True

    async def _build_apps(self) -> None:
        """Build the services' apps not built by a request yet (:class:`LazyApp`), one at a
        time after a pause, so that a request arriving meanwhile is answered first (it needs
        several turns of the loop: thread pool hops, database calls) rather than waiting
        behind every build."""
        for svc in self.services:
            app = svc.app
            if isinstance(app, LazyApp) and not app.built:
                await asyncio.sleep(0.05)
                app.build()

    async def stop(self) -> None:
        self.ready = False
        if self._agents_task is not None:
            # let a start in progress finish (a half-started worker could not be stopped)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._agents_task), timeout=30)
            self._agents_task.cancel()
            self._agents_task = None
        for worker in reversed(self.agents):
            await worker.stop()
        self.agents = []
        for svc in reversed(self.services):
            await svc.stop()
        await self.platform.stop()

    async def healthcheck(self, request: Request) -> Response:
        if self.ready:
            return PlainTextResponse("OK")
        return PlainTextResponse("starting", status_code=503)

    async def root(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"services": {s.spec.name: f"{base}{s.spec.prefix}" for s in self.services}}
        )


class PrefixRouter:
    """Sends ``/prefix`` and ``/prefix/...`` to a service's app (root_path = prefix, as a
    mount does, but without redirecting the bare prefix), everything else to ``default``."""

    def __init__(self, apps: dict[str, ASGIApp], default: ASGIApp):
        self.apps = apps
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, app in self.apps.items():
                if path == prefix or path.startswith(prefix + "/"):
                    child = dict(scope)
                    child["root_path"] = scope.get("root_path", "") + prefix
                    if path == prefix:
                        child["path"] = prefix + "/"
                        child["raw_path"] = child["path"].encode()
                    await app(child, receive, send)
                    return
        await self.default(scope, receive, send)


def clouds_yaml(settings: Settings) -> dict[str, Any]:
    data_dir = settings.data_dir
    auth_url = f"{settings.base_url}/identity"

    def cloud(user: str, project: str, password_file: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": auth_url,
                "username": user,
                "password": (data_dir / password_file).read_text().strip(),
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": settings.region,
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "clouds": {
            "onestack": cloud("admin", "admin", "admin-password"),
            "onestack-demo": cloud("demo", "demo", "demo-password"),
        }
    }


def write_clouds_yaml(settings: Settings) -> Path:
    path = settings.data_dir / "clouds.yaml"
    write_private(path, yaml.safe_dump(clouds_yaml(settings), sort_keys=False))
    return path
