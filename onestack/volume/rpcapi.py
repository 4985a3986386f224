"""Typed RPC clients: the scheduler (topic ``cinder-scheduler``) and the volume agents
(topic ``cinder-volume``, one server per host)."""

from __future__ import annotations

from typing import Any

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCClient, Transport

SCHEDULER_TOPIC = "cinder-scheduler"
VOLUME_TOPIC = "cinder-volume"


def agent_host(host: str) -> str:
    """The agent's RPC server name of a volume host ``host@backend#pool``."""
    return host.split("@", 1)[0]


class SchedulerAPI:
    """1.0: create_volume."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, SCHEDULER_TOPIC, version="1.0")

    async def create_volume(self, ctx: RequestContext | None, volume_id: str, **kw: Any) -> None:
        await self.client.cast(ctx, "create_volume", volume_id=volume_id, **kw)


class VolumeAgentAPI:
    """1.0: every operation a volume host does, cast to the host that holds the volume."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, VOLUME_TOPIC, version="1.0", timeout=60)

    def _to(self, host: str) -> RPCClient:
        return self.client.prepare(server=agent_host(host))

    async def cast(self, ctx: RequestContext | None, host: str, method: str, **kw: Any) -> None:
        await self._to(host).cast(ctx, method, **kw)

    async def call(self, ctx: RequestContext | None, host: str, method: str, **kw: Any) -> Any:
        return await self._to(host).call(ctx, method, **kw)
