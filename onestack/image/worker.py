"""The image worker: runs imports (glance-direct, web-download, copy-image) taken from the
``image-worker`` topic. ``onestack up`` runs one in-process; ``onestack agent image --host H``
runs one alone (it needs the image database and the same stores and staging directory)."""

from __future__ import annotations

from onestack.common.context import RequestContext
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.image import imports
from onestack.image.manager import ImageManager
from onestack.image.rpcapi import TOPIC


class ImageWorker:
    RPC_API_VERSION = "1.0"

    def __init__(self, platform: Platform):
        self.platform = platform
        self.manager = ImageManager(platform)
        self.server = RPCServer(platform.transport, TOPIC, platform.host, [self])

    async def start(self) -> None:
        await self.manager.start()
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.manager.stop()

    async def run_import(
        self,
        ctx: RequestContext | None,
        image_id: str,
        task_id: str,
        method: str,
        stores: list[str],
        uri: str | None,
        all_must: bool,
    ) -> None:
        caller = ctx or RequestContext(request_id="")
        job = imports.ImportJob(
            self.manager, caller, image_id, task_id, method, stores, uri, all_must
        )
        await job.run()
