"""What one onestack process gives every service it runs: settings, the RPC transport,
notifiers, clients for other services' APIs, and the token validator.

A service is built as ``SomeService(platform)``. In the all-in-one process every service shares
one Platform; ``onestack serve SERVICE`` builds a Platform for that one service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onestack.common.auth import TokenValidator
from onestack.common.config import Settings

if TYPE_CHECKING:
    from onestack.common.clients import ServiceClients
    from onestack.common.notifications import Notifier
    from onestack.common.rpc import Transport


@dataclass
class Platform:
    """Shared process-wide machinery; built once per process by the server or CLI."""

    settings: Settings
    transport: Transport
    clients: ServiceClients
    #: Set by the Identity service in the all-in-one process; a remote validator otherwise.
    token_validator: TokenValidator | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.settings.host_name

    def notifier(self, service: str) -> Notifier:
        """A notifier publishing as ``<service>.<host>``."""
        from onestack.common.notifications import Notifier

        return Notifier(self.transport, publisher_id=f"{service}.{self.host}")
