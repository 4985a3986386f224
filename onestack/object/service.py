"""The runnable Object Storage service: the proxy pipeline over the local servers, and the
consistency daemons in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import Scope

from onestack.common.observe import ObserveMiddleware
from onestack.common.platform import Platform
from onestack.common.service import ServiceSpec
from onestack.object.layout import Layout
from onestack.object.middleware.auth import AuthMiddleware
from onestack.object.middleware.cors import CORSMiddleware
from onestack.object.middleware.formpost import FormPostMiddleware
from onestack.object.middleware.s3auth import S3AuthMiddleware
from onestack.object.middleware.tempurl import TempURLMiddleware
from onestack.object.proxy.app import Dispatcher, ProxyApp
from onestack.object.proxy.storage import Storage

LOG = logging.getLogger(__name__)
SPEC = ServiceSpec(
    "object", "/object-store", "object-store", "swift", endpoint_suffix="/v1/AUTH_%(project_id)s"
)


class ObjectService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.conf = self.settings.object
        self.layout = Layout(self.settings.data_dir / "object", self.conf.devices)
        self.storage: Storage = None  # type: ignore[assignment]  # set in _load
        self._tasks: set[asyncio.Task[Any]] = set()
        self._load()
        # the pipeline, outermost last (as Swift's proxy-server.conf reads, first to last):
        # catch_errors s3api cors formpost tempurl auth [bulk slo dlo versioned symlink] proxy
        self.dispatcher = Dispatcher(self)
        auth = AuthMiddleware(self.dispatcher, self)
        tempurl = TempURLMiddleware(auth, self)
        formpost = FormPostMiddleware(tempurl, self)
        cors = CORSMiddleware(formpost, self)
        s3 = S3AuthMiddleware(cors, self)
        # counted, timed and access-logged like every service (ProxyApp answers its own errors)
        self.app = ObserveMiddleware(
            ProxyApp(self, s3), service="object", formatter=lambda e: {"message": e.message}
        )

    def _load(self) -> None:
        policies = len(self.conf.storage_policies)
        self.layout.ensure_rings(self.conf.replicas, self.conf.part_power, policies)
        prefix, suffix = self.layout.hash_secret()
        rings = self.layout.load_rings(prefix, suffix, policies)
        self.storage = Storage(self.layout.devices, rings, prefix, suffix)

    def public_base(self, scope: Scope) -> str:
        """The service's own root as the client reached it (``.../object-store``)."""
        host = "127.0.0.1"
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"

    async def start(self) -> None:
        from onestack.object.daemons import run_daemons

        if self.conf.run_daemons:
            task = asyncio.create_task(run_daemons(self), name="object-daemons")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        from onestack.object.servers import db

        db.close_all()
