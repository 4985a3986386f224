"""Reconcile after a crash: nothing stays in creating, deleting or extending.

On start, the agent ends the work of its hosts that no live lease covers (its predecessor on
the host died mid-operation); later, any agent ends the work whose lease lapsed (its holder
stopped renewing it). Creates and snapshots end in ``error`` (their partial data removed),
deletes are done again (they are idempotent), extends end in ``error_extending``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from onestack.volume import states
from onestack.volume.models import Backup, Snapshot, Volume

if TYPE_CHECKING:
    from onestack.volume.agent import VolumeAgent

LOG = logging.getLogger(__name__)
_CRASHED = "The operation was interrupted (its volume agent stopped) and did not finish."


async def reconcile_host(agent: VolumeAgent) -> None:
    core = agent.core
    hosts = list(agent.drivers)
    on_host = or_(*[Volume.host.like(f"{h}#%") for h in hosts], Volume.host.in_(hosts))
    async with core.read() as session:
        vols = list(
            (
                await session.execute(
                    select(Volume).where(on_host, Volume.status.in_(states.TRANSITIONAL))
                )
            ).scalars()
        )
        snaps = list(
            (
                await session.execute(
                    select(Snapshot)
                    .join(Volume, Volume.id == Snapshot.volume_id)
                    .where(on_host, Snapshot.status.in_((states.CREATING, states.DELETING)))
                )
            ).scalars()
        )
        backups = list(
            (
                await session.execute(
                    select(Backup).where(
                        Backup.host == agent.platform.host,
                        Backup.status.in_((states.CREATING, "restoring", states.DELETING)),
                    )
                )
            ).scalars()
        )
        live = await core.leases.live(session, [r.id for r in [*vols, *snaps, *backups]])
    for row in [*vols, *snaps, *backups]:
        if row.id not in live:
            await _finish(agent, row)


async def reconcile_lapsed(agent: VolumeAgent) -> None:
    core = agent.core
    async with core.read() as session:
        lapsed = await core.leases.lapsed(session)
    for lease in lapsed:
        async with core.write() as session:
            if not await core.leases.reclaim(session, lease):
                continue
            row: Any = (
                await session.get(Volume, lease.resource_id)
                or await session.get(Snapshot, lease.resource_id)
                or await session.get(Backup, lease.resource_id)
            )
        if row is not None:
            await _finish(agent, row)


async def _finish(agent: VolumeAgent, row: Any) -> None:
    """End one interrupted operation as the module docstring says."""
    core = agent.core
    LOG.warning("reconciling %s %s left %s", type(row).__name__, row.id, row.status)
    if row.status == states.DELETING:
        if isinstance(row, Volume) and row.host and row.host.split("#")[0] in agent.drivers:
            await agent.delete_volume(None, row.id)
            return
        if isinstance(row, Snapshot):
            await agent.delete_snapshot(None, row.id)
            return
    async with core.write() as session:
        fresh = await session.get(type(row), row.id)
        if fresh is None or fresh.status != row.status:
            return
        if isinstance(fresh, Volume):
            fresh.status = {
                states.EXTENDING: states.ERROR_EXTENDING,
                states.RESTORING_BACKUP: states.ERROR_RESTORING,
                states.BACKING_UP: states.AVAILABLE,
                states.UPLOADING: states.AVAILABLE,
                states.DELETING: states.ERROR_DELETING,
            }.get(fresh.status, states.ERROR)
            if fresh.status in (states.AVAILABLE,) and fresh.attach_status == "attached":
                fresh.status = states.IN_USE
        elif isinstance(fresh, Backup) and fresh.status == "restoring":
            fresh.status = states.AVAILABLE
        else:
            fresh.status = states.ERROR
        if hasattr(fresh, "fault"):
            fresh.fault = _CRASHED
        if isinstance(fresh, Backup):
            fresh.fail_reason = _CRASHED
    if isinstance(row, Volume) and row.status == states.CREATING:
        try:
            agent.driver_for(row.host).delete(row.id)
        except Exception:
            LOG.warning("could not remove the partial volume %s", row.id, exc_info=True)
