"""The scheduler worker (cinder-scheduler): picks a backend pool for each new volume and hands
the volume to that host's agent. ``onestack up`` runs one in-process; ``onestack agent
volume-scheduler --host H`` runs one alone."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.volume import services, states
from onestack.volume.core import SharedCore
from onestack.volume.models import Volume, VolumeTypeExtraSpec
from onestack.volume.rpcapi import SCHEDULER_TOPIC
from onestack.volume.scheduler import filters

LOG = logging.getLogger(__name__)


class VolumeScheduler:
    RPC_API_VERSION = "1.0"

    def __init__(self, platform: Platform):
        self.platform = platform
        self.core = SharedCore.get(platform)
        self.server = RPCServer(platform.transport, SCHEDULER_TOPIC, platform.host, [self])

    async def start(self) -> None:
        await SharedCore.start(self.platform)
        await self._beat()  # and a first reconcile
        services.keep_beating(self.core, self._beat, "cinder-scheduler")
        await self.server.start()

    async def _beat(self) -> None:
        await services.beat(
            self.core,
            self.platform.host,
            "cinder-scheduler",
            self.core.conf.storage_availability_zone,
        )
        await self.reconcile()

    async def stop(self) -> None:
        await self.server.stop()
        await SharedCore.stop(self.platform)

    async def reconcile(self) -> None:
        """Volumes still waiting for a backend long after any scheduler would have placed
        them (a scheduler died, a cast was lost) end in ``error``: never stuck in creating."""
        cutoff = utcnow() - dt.timedelta(seconds=self.core.settings.work_lease)
        async with self.core.write() as session:
            stale = (
                (
                    await session.execute(
                        select(Volume).where(
                            Volume.status == states.CREATING,
                            Volume.host.is_(None),
                            Volume.created_at < cutoff,
                        )
                    )
                )
                .scalars()
                .all()
            )
            for volume in stale:
                volume.status = states.ERROR
                volume.fault = "The volume was never scheduled (its scheduler stopped)."

    async def create_volume(
        self,
        ctx: RequestContext | None,
        volume_id: str,
        source: dict[str, Any],
        host: str | None,
        hints: dict[str, Any],
    ) -> None:
        core = self.core
        async with core.read() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None or volume.status != states.CREATING or volume.host is not None:
                return
            specs = {
                r.key: r.value
                for r in (
                    await session.execute(
                        select(VolumeTypeExtraSpec).where(
                            VolumeTypeExtraSpec.type_id == volume.volume_type_id
                        )
                    )
                ).scalars()
            }
        pools = await services.pools(core)
        if host is not None:  # from a snapshot or a volume: where its source is
            chosen = next((p for p in pools if p["name"] == host), None)
            reason = f"the backend {host} of the source is down" if chosen is None else ""
        else:
            fit = [
                p for p in pools if filters.passes(p, volume.size, volume.availability_zone, specs)
            ]
            chosen = filters.best(fit, volume.size)
            reason = "No valid backend was found. No weighed backends available"
        async with core.write() as session:
            row = await session.get(Volume, volume_id)
            if row is None or row.status != states.CREATING:
                return
            if chosen is None:
                row.status = states.ERROR
                row.fault = reason
                LOG.warning("volume %s: %s", volume_id, reason)
                return
            row.host = chosen["name"]
        await core.agents.cast(
            ctx, chosen["name"], "create_volume", volume_id=volume_id, source=source
        )
