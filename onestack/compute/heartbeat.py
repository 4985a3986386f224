"""Service records and heartbeats of the conductor and scheduler (nova-conductor,
nova-scheduler): ``os-services`` lists them, and a silent one shows ``down``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from onestack.common.db import utcnow
from onestack.compute.core import ComputeCore
from onestack.compute.models import ComputeService

LOG = logging.getLogger(__name__)


async def beat(core: ComputeCore, host: str, binary: str, topic: str) -> None:
    """Create the record on the first beat, refresh ``last_seen_up`` after."""
    import uuid

    async with core.write() as session:
        row = (
            await session.execute(
                select(ComputeService).where(
                    ComputeService.host == host, ComputeService.binary == binary
                )
            )
        ).scalar()
        if row is None:
            session.add(
                ComputeService(
                    uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"onestack:{binary}:{host}")),
                    host=host,
                    binary=binary,
                    topic=topic,
                    last_seen_up=utcnow(),
                )
            )
        else:
            row.last_seen_up = utcnow()


def keep_beating(core: ComputeCore, host: str, binary: str, topic: str) -> asyncio.Task[Any]:
    async def loop() -> None:
        while True:
            try:
                await beat(core, host, binary, topic)
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("%s heartbeat failed; trying again", binary)
            await asyncio.sleep(core.conf.report_interval)

    return asyncio.create_task(loop(), name=f"{binary}-heartbeat")
