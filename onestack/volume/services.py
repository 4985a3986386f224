"""Service records (cinder-scheduler, cinder-volume per backend, cinder-backup): heartbeats
with the backends' capabilities, ``up`` / ``down``, and the pools the scheduler picks from."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from onestack.common.db import utcnow
from onestack.volume.core import VolumeCore
from onestack.volume.models import ServiceRecord, Volume

LOG = logging.getLogger(__name__)


async def beat(
    core: VolumeCore, host: str, binary: str, zone: str, capabilities: dict[str, Any] | None = None
) -> None:
    async with core.write() as session:
        row = await session.get(ServiceRecord, (host, binary))
        if row is None:
            session.add(
                ServiceRecord(
                    host=host,
                    binary=binary,
                    availability_zone=zone,
                    capabilities=capabilities or {},
                    last_seen_up=utcnow(),
                )
            )
            return
        row.last_seen_up = utcnow()
        row.availability_zone = zone
        if capabilities is not None:
            row.capabilities = capabilities


def keep_beating(
    core: VolumeCore, beats: Callable[[], Awaitable[None]], name: str
) -> asyncio.Task[Any]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(core.conf.report_interval)
            try:
                await beats()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("%s heartbeat failed; trying again", name)

    return core.spawn(loop(), f"{name}-heartbeat")


def is_up(core: VolumeCore, row: ServiceRecord) -> bool:
    return utcnow() - row.last_seen_up < dt.timedelta(seconds=core.conf.service_down_time)


async def records(
    core: VolumeCore, binary: str | None = None, host: str | None = None
) -> list[ServiceRecord]:
    stmt = select(ServiceRecord).order_by(ServiceRecord.binary, ServiceRecord.host)
    if binary:
        stmt = stmt.where(ServiceRecord.binary == binary)
    if host:
        stmt = stmt.where(ServiceRecord.host == host)
    async with core.read() as session:
        return list((await session.execute(stmt)).scalars())


async def pools(core: VolumeCore) -> list[dict[str, Any]]:
    """Every pool of every live backend: ``{"name": host@backend#pool, "capabilities"}``,
    with what its volumes provision (``provisioned_capacity_gb``, counted from the rows)."""
    rows = [r for r in await records(core, "cinder-volume") if is_up(core, r) and not r.disabled]
    async with core.read() as session:
        provisioned = dict(
            (
                await session.execute(
                    select(Volume.host, func.sum(Volume.size))
                    .where(Volume.host.is_not(None))
                    .group_by(Volume.host)
                )
            ).all()
        )
    found = []
    for row in rows:
        caps = row.capabilities or {}
        for pool in caps.get("pools", []):
            name = f"{row.host}#{pool['pool_name']}"
            merged = {k: v for k, v in caps.items() if k != "pools"}
            merged.update(pool)
            merged["provisioned_capacity_gb"] = int(provisioned.get(name) or 0)
            merged["allocated_capacity_gb"] = merged["provisioned_capacity_gb"]
            merged["timestamp"] = row.last_seen_up.isoformat()
            found.append({"name": name, "zone": row.availability_zone, "capabilities": merged})
    return found
