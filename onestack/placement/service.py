"""The runnable Placement service: its app (mounted at /placement) and start-up."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware

from onestack.common import microversions
from onestack.common.api import LazyApp, create_app
from onestack.common.platform import Platform, PlatformValidator
from onestack.common.service import ServiceSpec
from onestack.placement.errors import RememberVersion, placement_errors
from onestack.placement.manager import PlacementManager
from onestack.placement.versions import SPEC as VERSIONS

SPEC = ServiceSpec("placement", "/placement", "placement", "placement")


class PlacementService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.manager = PlacementManager(platform)
        self.app = LazyApp(self._build_app)

    def _build_app(self) -> FastAPI:
        from onestack.placement.api import (
            aggregates,
            allocation_candidates,
            allocations,
            inventories,
            reshaper,
            resource_classes,
            resource_providers,
            root,
            traits,
            usages,
        )

        routers = (
            root,
            resource_providers,
            inventories,
            usages,
            aggregates,
            traits,
            resource_classes,
            allocations,
            allocation_candidates,
            reshaper,
        )
        return create_app(
            title="onestack placement",
            routers=[m.router for m in routers],
            error_format=placement_errors,
            token_validator=PlatformValidator(self.platform),
            policy=self.manager.policy,
            max_body=self.platform.settings.max_request_body,
            state={"placement": self.manager},
            service="placement",
            middleware=[
                microversions.middleware(VERSIONS, placement_errors),
                Middleware(RememberVersion),
            ],
        )

    async def start(self) -> None:
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()
