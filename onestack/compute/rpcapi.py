"""Typed RPC clients: API -> conductor -> scheduler -> compute agent (Nova's topics)."""

from __future__ import annotations

from typing import Any

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCClient, Transport

CONDUCTOR_TOPIC = "conductor"
SCHEDULER_TOPIC = "scheduler"
COMPUTE_TOPIC = "compute"


class ConductorAPI:
    """1.0: build_instances, reschedule, move_instance, unshelve_instance."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, CONDUCTOR_TOPIC, version="1.0")

    async def build_instances(self, ctx: RequestContext | None, instance_uuids: list[str]) -> None:
        await self.client.cast(ctx, "build_instances", instance_uuids=instance_uuids)

    async def reschedule(
        self,
        ctx: RequestContext | None,
        instance_uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
        reason: str,
    ) -> None:
        await self.client.cast(
            ctx,
            "reschedule",
            instance_uuid=instance_uuid,
            alternates=alternates,
            attempt=attempt,
            reason=reason,
        )

    async def move_instance(
        self, ctx: RequestContext | None, instance_uuid: str, kind: str, host: str | None = None
    ) -> None:
        """Resize, cold or live migrate, evacuate or unshelve: schedule, then hand over."""
        await self.client.cast(
            ctx, "move_instance", instance_uuid=instance_uuid, kind=kind, host=host
        )


class SchedulerAPI:
    """1.0: select_destinations."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, SCHEDULER_TOPIC, version="1.0", timeout=120)

    async def select_destinations(
        self, ctx: RequestContext | None, spec: dict[str, Any], consumer: str, alternates: int
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.client.call(
            ctx, "select_destinations", spec=spec, consumer=consumer, alternates=alternates
        )
        return result


class ComputeAgentAPI:
    """1.0: build_and_run_instance, run_action, terminate_instance, console_output,
    finish_move, snapshot_instance, live_migration_abort, live_migration_force_complete,
    get_console."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, COMPUTE_TOPIC, version="1.0")

    def _on(self, host: str, timeout: float | None = None) -> RPCClient:
        if timeout is None:
            return self.client.prepare(server=host)
        return self.client.prepare(server=host, timeout=timeout)

    async def build_and_run_instance(
        self,
        ctx: RequestContext | None,
        host: str,
        instance_uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
    ) -> None:
        await self._on(host).cast(
            ctx,
            "build_and_run_instance",
            instance_uuid=instance_uuid,
            alternates=alternates,
            attempt=attempt,
        )

    async def run_action(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, action: str, **kwargs: Any
    ) -> None:
        await self._on(host).cast(
            ctx, "run_action", instance_uuid=instance_uuid, action=action, args=kwargs
        )

    async def terminate_instance(
        self, ctx: RequestContext | None, host: str, instance_uuid: str
    ) -> None:
        await self._on(host).cast(ctx, "terminate_instance", instance_uuid=instance_uuid)

    async def console_output(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, length: int | None
    ) -> str:
        result: str = await self._on(host, 30).call(
            ctx, "console_output", instance_uuid=instance_uuid, length=length
        )
        return result

    async def finish_move(
        self,
        ctx: RequestContext | None,
        host: str,
        instance_uuid: str,
        kind: str,
        source: str | None,
    ) -> None:
        await self._on(host).cast(
            ctx, "finish_move", instance_uuid=instance_uuid, kind=kind, source=source
        )

    async def inject_nmi(self, ctx: RequestContext | None, host: str, instance_uuid: str) -> None:
        await self._on(host, 30).call(ctx, "inject_nmi", instance_uuid=instance_uuid)

    async def external_instance_event(
        self, ctx: RequestContext | None, host: str, events: list[dict[str, Any]]
    ) -> None:
        await self._on(host).cast(ctx, "external_instance_event", events=events)

    async def attach_interface(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._on(host, 120).call(
            ctx, "attach_interface", instance_uuid=instance_uuid, request=request
        )
        return result

    async def detach_interface(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, port_id: str
    ) -> None:
        await self._on(host, 120).call(
            ctx, "detach_interface", instance_uuid=instance_uuid, port_id=port_id
        )

    async def attach_volume(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, bdm_uuid: str
    ) -> None:
        await self._on(host, 120).call(
            ctx, "attach_volume", instance_uuid=instance_uuid, bdm_uuid=bdm_uuid
        )

    async def detach_volume(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, volume_id: str
    ) -> None:
        await self._on(host, 120).call(
            ctx, "detach_volume", instance_uuid=instance_uuid, volume_id=volume_id
        )

    async def get_console(
        self, ctx: RequestContext | None, host: str, instance_uuid: str, console_type: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._on(host, 30).call(
            ctx, "get_console", instance_uuid=instance_uuid, console_type=console_type
        )
        return result

    async def live_migration_abort(
        self, ctx: RequestContext | None, host: str, instance_uuid: str
    ) -> None:
        await self._on(host).cast(ctx, "live_migration_abort", instance_uuid=instance_uuid)

    async def live_migration_force_complete(
        self, ctx: RequestContext | None, host: str, instance_uuid: str
    ) -> None:
        await self._on(host).cast(ctx, "live_migration_force_complete", instance_uuid=instance_uuid)
