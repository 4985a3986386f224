"""The runnable Image service: its app, manager and start-up."""

from __future__ import annotations

from fastapi import FastAPI

from onestack.common.api import LazyApp, create_app
from onestack.common.errors import glance_format
from onestack.common.platform import Platform, PlatformValidator
from onestack.common.service import ServiceSpec
from onestack.image.manager import ImageManager

SPEC = ServiceSpec("image", "/image", "image", "glance")


class ImageService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.manager = ImageManager(platform)
        self.app = LazyApp(self._build_app)

    def _build_app(self) -> FastAPI:
        from onestack.image.api import (
            data,
            images,
            info,
            locations,
            members,
            metadefs,
            tasks,
            versions,
        )

        routers = (versions, images, members, data, info, tasks, metadefs, locations)
        app = create_app(
            title="onestack image",
            routers=[m.router for m in routers],
            error_format=glance_format,
            token_validator=PlatformValidator(self.platform),
            policy=self.manager.policy,
            max_body=self.settings.max_request_body,
            state={"image": self.manager},
            service="image",
            redirect_slashes=False,
        )
        app.add_middleware(data.StreamedUploads)
        return app

    async def start(self) -> None:
        await self.manager.start()
        await self.manager.start_cache()

    async def stop(self) -> None:
        await self.manager.stop()
