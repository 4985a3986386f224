"""The conductor agent (topic ``conductor``): schedules builds and moves, reschedules failed
builds to alternates, and puts an instance nothing can take into ERROR with its fault."""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.compute import instances, states
from onestack.compute.core import SharedCore
from onestack.compute.heartbeat import keep_beating
from onestack.compute.models import Migration
from onestack.compute.placement import resources_of
from onestack.compute.rpcapi import CONDUCTOR_TOPIC
from onestack.compute.scheduler.manager import NoValidHost

LOG = logging.getLogger(__name__)


class Conductor:
    RPC_API_VERSION = "1.0"

    def __init__(self, platform: Platform):
        self.platform = platform
        self.core = SharedCore.get(platform)
        self.server = RPCServer(platform.transport, CONDUCTOR_TOPIC, platform.host, [self])

    async def start(self) -> None:
        await SharedCore.start(self.platform)
        await self.server.start()
        self._beat = keep_beating(self.core, self.platform.host, "nova-conductor", CONDUCTOR_TOPIC)

    async def stop(self) -> None:
        self._beat.cancel()
        await asyncio.gather(self._beat, return_exceptions=True)
        await self.server.stop()
        await SharedCore.stop(self.platform)

    # -- builds ---------------------------------------------------------------------------
    async def build_instances(self, ctx: RequestContext | None, instance_uuids: list[str]) -> None:
        for uuid in instance_uuids:
            try:
                await self._build_one(ctx, uuid)
            except Exception as exc:  # never leave it in BUILD
                LOG.exception("scheduling %s failed", uuid)
                await self._error(ctx, uuid, f"Build of instance {uuid} failed: {exc}", exc)

    async def _build_one(self, ctx: RequestContext | None, uuid: str) -> None:
        async with self.core.read() as session:
            try:
                instance = await instances.load(session, uuid)
            except Exception:
                return  # deleted while waiting
            spec = dict(instance.request_spec)
        if instance.vm_state != states.BUILDING:
            return
        try:
            selections = await self.core.scheduler.select_destinations(
                ctx, spec, uuid, self.core.conf.max_attempts - 1
            )
        except NoValidHost as exc:
            await self._error(ctx, uuid, exc.message, None)
            return
        chosen, alternates = selections[0], selections[1:]
        await self._hand_to(ctx, uuid, chosen, alternates, attempt=1)

    async def _hand_to(
        self,
        ctx: RequestContext | None,
        uuid: str,
        chosen: dict[str, Any],
        alternates: list[dict[str, Any]],
        attempt: int,
    ) -> None:
        zone = chosen.get("zone") or await self._zone_of(chosen["host"])
        async with self.core.write() as session:
            placed = await instances.set_state(
                session,
                uuid,
                host=chosen["host"],
                node=chosen["nodename"],
                cell="cell1",
                availability_zone=zone,
                task_state=None,
            )
            if placed:
                await instances.record_event(
                    session, uuid, "conductor_schedule_and_build_instances", chosen["host"]
                )
        if not placed:  # deleted meanwhile: give the capacity back
            await self.core.placement.release(uuid)
            return
        await self.core.agents.build_and_run_instance(
            ctx, chosen["host"], uuid, alternates, attempt
        )

    async def _zone_of(self, host: str) -> str:
        from sqlalchemy import select

        from onestack.compute.models import Aggregate

        async with self.core.read() as session:
            for agg in (await session.execute(select(Aggregate))).scalars():
                if host in (agg.hosts or []) and (agg.metadata_ or {}).get("availability_zone"):
                    return str(agg.metadata_["availability_zone"])
        return self.core.conf.default_availability_zone

    async def reschedule(
        self,
        ctx: RequestContext | None,
        instance_uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
        reason: str,
    ) -> None:
        """A build failed on its host (its allocation is already released): try the next
        alternate the scheduler offered, up to ``max_attempts`` builds in all."""
        async with self.core.read() as session:
            try:
                instance = await instances.load(session, instance_uuid)
            except Exception:
                return
        max_attempts = self.core.conf.max_attempts
        while alternates and attempt < max_attempts:
            nxt, alternates = alternates[0], alternates[1:]
            claimed = await self.core.placement.claim(
                instance_uuid,
                nxt["allocation"]["allocations"],
                project_id=instance.project_id,
                user_id=instance.user_id,
            )
            if claimed:
                await self._hand_to(ctx, instance_uuid, nxt, alternates, attempt + 1)
                return
        message = (
            f"Exceeded maximum number of retries. Exceeded max scheduling attempts "
            f"{max_attempts} for instance {instance_uuid}. Last exception: {reason}"
        )
        if attempt < max_attempts:
            message = f"No valid host was found. There are not enough hosts available. {reason}"
        await self._error(ctx, instance_uuid, message, None)

    async def _error(
        self, ctx: RequestContext | None, uuid: str, message: str, exc: BaseException | None
    ) -> None:
        async with self.core.write() as session:
            await instances.set_state(
                session,
                uuid,
                vm_state=states.ERROR,
                task_state=None,
                fault=instances.fault(message, 500, exc),
            )
            await instances.record_event(
                session, uuid, "conductor_schedule_and_build_instances", None, "Error", message
            )
        await self.core.notify(
            ctx, "instance.create.error", {"instance_uuid": uuid, "fault": message}
        )

    # -- moves ----------------------------------------------------------------------------
    async def move_instance(
        self, ctx: RequestContext | None, instance_uuid: str, kind: str, host: str | None = None
    ) -> None:
        """resize / migrate / live-migration / evacuate / unshelve: hold the old allocation
        under a migration consumer, schedule the new one for the instance, hand over."""
        async with self.core.read() as session:
            instance = await instances.load(session, instance_uuid)
        flavor = (
            instance.new_flavor if kind == "resize" and instance.new_flavor else instance.flavor
        )
        spec = dict(instance.request_spec)
        spec["flavor"] = flavor
        spec["resources"] = resources_of(flavor)
        spec["force_host"] = host
        spec["force_node"] = None
        source = instance.host
        spec["ignore_hosts"] = [source] if source and kind != "resize" else []
        if kind == "unshelve" and instance.requested_zone:
            spec["availability_zone"] = instance.requested_zone
        migration = str(uuidlib.uuid4())
        old: dict[str, Any] = {}
        record = kind in instances.MIGRATION_TYPES
        if record:
            async with self.core.write() as session:
                session.add(
                    Migration(
                        uuid=migration,
                        instance_uuid=instance_uuid,
                        project_id=instance.project_id,
                        user_id=instance.user_id,
                        migration_type=instances.MIGRATION_TYPES[kind],
                        status="pre-migrating" if kind in ("resize", "migrate") else "accepted",
                        source_compute=source,
                        source_node=instance.node,
                        old_flavor_id=(instance.flavor or {}).get("flavorid"),
                        new_flavor_id=flavor.get("flavorid"),
                    )
                )
        if kind in ("resize", "migrate", "live-migration"):
            current = await self.core.placement.allocations(instance_uuid)
            old = current.get("allocations") or {}
            if old:
                moved = {rp: {"resources": a["resources"]} for rp, a in old.items()}
                await self.core.placement.claim(
                    migration, moved, project_id=instance.project_id, user_id=instance.user_id
                )
                await self.core.placement.release(instance_uuid)
        elif kind == "evacuate":
            await self.core.placement.release(instance_uuid)
        try:
            selections = await self.core.scheduler.select_destinations(ctx, spec, instance_uuid, 0)
        except Exception as exc:
            if old:
                restored = {rp: {"resources": a["resources"]} for rp, a in old.items()}
                await self.core.placement.claim(
                    instance_uuid,
                    restored,
                    project_id=instance.project_id,
                    user_id=instance.user_id,
                )
                await self.core.placement.release(migration)
            message = exc.message if isinstance(exc, NoValidHost) else str(exc)
            async with self.core.write() as session:
                await instances.set_migration(
                    session, migration if record else None, status="error"
                )
            await self._move_failed(ctx, instance, kind, message)
            return
        dest = selections[0]
        async with self.core.write() as session:
            meta = dict(instance.system_metadata or {})
            if old:
                meta["migration_uuid"] = migration
            if record:
                meta["migration_record"] = migration
            meta["move_source"] = source or ""
            await instances.set_state(session, instance_uuid, system_metadata=meta)
            await instances.set_migration(
                session,
                migration if record else None,
                status="preparing" if kind == "live-migration" else "migrating",
                dest_compute=dest["host"],
                dest_node=dest["nodename"],
            )
        await self.core.agents.finish_move(ctx, dest["host"], instance_uuid, kind, source)

    async def _move_failed(
        self, ctx: RequestContext | None, instance: Any, kind: str, message: str
    ) -> None:
        async with self.core.write() as session:
            values: dict[str, Any] = {"task_state": None, "new_flavor": None}
            if kind == "unshelve":
                values["vm_state"] = states.SHELVED_OFFLOADED
            elif kind == "evacuate":
                values.update(vm_state=states.ERROR, fault=instances.fault(message))
            await instances.set_state(session, instance.uuid, **values)
            await instances.record_event(
                session, instance.uuid, f"conductor_{kind}", None, "Error", message
            )
