"""The runnable Networking service: its app, manager, agents' RPC endpoint and first start."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from onestack.common.api import LazyApp, create_app
from onestack.common.errors import neutron_format
from onestack.common.platform import Platform, PlatformValidator
from onestack.common.service import ServiceSpec
from onestack.network.manager import NetworkManager

SPEC = ServiceSpec("network", "/networking", "network", "neutron")


class NetworkService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.manager = NetworkManager(platform)
        self.app = LazyApp(self._build_app)
        self._rpc: Any = None

    def _build_app(self) -> FastAPI:
        from onestack.network.api import (
            core,
            extensions,
            extras,
            qos,
            routers,
            scheduling,
            versions,
        )

        areas = (versions, core, routers, scheduling, qos, extras, extensions)
        return create_app(
            title="onestack network",
            routers=[m.router for m in areas],
            error_format=neutron_format,
            token_validator=PlatformValidator(self.platform),
            policy=self.manager.policy,
            max_body=self.settings.max_request_body,
            state={"network": self.manager},
            service="network",
        )

    async def start(self) -> None:
        from onestack.network import bootstrap, rpc

        await self.manager.start()
        self._rpc = rpc.server(self.platform, self.manager)
        await self._rpc.start()
        await bootstrap.first_start(self.manager)

    async def stop(self) -> None:
        if self._rpc is not None:
            await self._rpc.stop()
        await self.manager.stop()
