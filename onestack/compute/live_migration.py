"""A live migration on its destination host: run it through the virt driver (the migration
``running`` meanwhile, so it can be forced or aborted), or roll it back when aborted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.compute import instances

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore
    from onestack.compute.models import Instance
    from onestack.compute.virt.driver import GuestSpec, VirtDriver

#: the statuses in which a live migration may be aborted: 2.24, and from 2.65 also these
ABORTABLE = ("running",)
ABORTABLE_2_65 = ("running", "queued", "preparing")


async def run(
    core: ComputeCore, driver: VirtDriver, host: str, i: Instance, guest: GuestSpec
) -> bool:
    """True when the guest is here now; False when it was aborted (and rolled back)."""
    meta = dict(i.system_metadata or {})
    record = meta.get("migration_record")
    async with core.write() as session:
        await instances.set_migration(session, record, status="running")
    if await driver.live_migration(guest):
        return True
    await restore_allocation(core, i, meta.pop("migration_uuid", None))
    for key in ("migration_record", "move_source"):
        meta.pop(key, None)
    async with core.write() as session:
        await instances.set_migration(session, record, status="cancelled")
        await instances.set_state(session, i.uuid, task_state=None, system_metadata=meta)
        await instances.record_event(
            session, i.uuid, "compute_live_migration", host, "Error", "aborted"
        )
    return False


async def restore_allocation(core: ComputeCore, i: Instance, migration: str | None) -> None:
    """Give the instance back the allocation the migration consumer held for it."""
    if not migration:
        return
    held = await core.placement.allocations(migration)
    allocs: dict[str, Any] = {
        rp: {"resources": a["resources"]} for rp, a in (held.get("allocations") or {}).items()
    }
    current = await core.placement.allocations(i.uuid)
    await core.placement.claim(
        i.uuid,
        allocs,
        project_id=i.project_id,
        user_id=i.user_id,
        consumer_generation=current.get("consumer_generation"),
    )
    await core.placement.release(migration)


async def recover(core: ComputeCore, i: Instance) -> None:
    """A live migration cut off by a restart of the agent: the guest stays on its source,
    the allocation goes back to it and the migration ends in ``error`` (as Nova's
    ``_init_instance`` does)."""
    meta = dict(i.system_metadata or {})
    record = meta.pop("migration_record", None)
    await restore_allocation(core, i, meta.pop("migration_uuid", None))
    meta.pop("move_source", None)
    async with core.write() as session:
        await instances.set_migration(session, record, status="error")
        await instances.set_state(session, i.uuid, system_metadata=meta)
