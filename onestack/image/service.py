"""The runnable Image service: its app, manager and start-up."""

from __future__ import annotations

from onestack.common.api import create_app
from onestack.common.auth import TokenValidator
from onestack.common.context import RequestContext
from onestack.common.errors import ServiceUnavailable, glance_format
from onestack.common.platform import Platform
from onestack.common.service import ServiceSpec
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
from onestack.image.manager import ImageManager

SPEC = ServiceSpec("image", "/image", "image", "glance")
ROUTERS = (versions, images, members, data, info, tasks, metadefs, locations)


class _PlatformValidator:
    """Validates through whatever validator the platform holds when the request comes (the
    Identity service installs its own when it is built in the same process)."""

    def __init__(self, platform: Platform):
        self.platform = platform

    async def context_for(self, token: str, request_id: str) -> RequestContext:
        validator: TokenValidator | None = self.platform.token_validator
        if validator is None:
            raise ServiceUnavailable("No token validator is configured.")
        return await validator.context_for(token, request_id)


class ImageService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.manager = ImageManager(platform)
        self.app = create_app(
            title="onestack image",
            routers=[m.router for m in ROUTERS],
            error_format=glance_format,
            token_validator=_PlatformValidator(platform),
            policy=self.manager.policy,
            max_body=self.settings.max_request_body,
            state={"image": self.manager},
            service="image",
            redirect_slashes=False,
        )
        self.app.add_middleware(data.StreamedUploads)

    async def start(self) -> None:
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()
