"""What one onestack process gives every service it runs: settings, the RPC transport,
notifiers, clients for other services' APIs, metrics and the token validator.

A service is built as ``SomeService(platform)``. In the all-in-one process every service shares
one Platform; ``onestack serve SERVICE`` and ``onestack agent KIND`` build one for themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.common.auth import TokenValidator
from onestack.common.clients import ServiceClients
from onestack.common.config import Settings

if TYPE_CHECKING:
    from onestack.common.context import RequestContext
    from onestack.common.notifications import Notifier
    from onestack.common.rpc import Transport


class Platform:
    """Process-wide machinery; ``start()`` connects the RPC transport."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.clients = ServiceClients(settings)
        #: The Identity service's local validator in its own process; a remote one elsewhere.
        self.token_validator: TokenValidator | None = None
        self._transport: Transport | None = None

    @property
    def host(self) -> str:
        return self.settings.host_name

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("the platform is not started")
        return self._transport

    async def start(self) -> None:
        """Connect the RPC transport (``settings.transport_url``)."""
        from onestack.common import metrics
        from onestack.common.rpc import get_transport

        if self._transport is None:
            url = self.settings.transport_url
            if url.rstrip("/") == "memory:":
                # a private bus per platform: two clouds in one process (tests) never mix
                transport = get_transport(f"memory://{id(self):x}")
            elif url.startswith("memory:"):
                transport = get_transport(url)
            else:
                transport = get_transport(url, connection_name=f"onestack@{self.host}")
            metrics.observe_transport(transport)
            await transport.start()
            self._transport = transport

    async def stop(self) -> None:
        await self.clients.close()
        if self._transport is not None:
            await self._transport.stop()
            self._transport = None

    def notifier(self, service: str) -> Notifier:
        """A notifier publishing as ``<service>.<host>``."""
        from onestack.common.notifications import Notifier

        return Notifier(self.transport, publisher_id=f"{service}.{self.host}")


class PlatformValidator:
    """A service app's token validator: validates through whatever validator the platform
    holds when the request comes (the Identity service installs its own when it is built in
    the same process; a remote one otherwise)."""

    def __init__(self, platform: Platform):
        self.platform = platform

    async def context_for(self, token: str, request_id: str) -> RequestContext:
        from onestack.common.errors import ServiceUnavailable

        validator: TokenValidator | None = self.platform.token_validator
        if validator is None:
            raise ServiceUnavailable("No token validator is configured.")
        return await validator.context_for(token, request_id)
