"""Shelve and unshelve (the API's half; the agent's half is ``ShelveSteps``).

Shelve snapshots the server into an image named ``<server>-shelved`` (not for a
volume-backed server), powers it off and, with ``shelved_offload_time`` 0 (Nova's default),
offloads it at once: the guest is destroyed and the host's allocation freed. Unshelve of an
offloaded server schedules it again (to ``availability_zone`` from 2.77, to ``host`` from 2.91)
and boots it from the snapshot, which is deleted afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict
from onestack.common.microversions import Version
from onestack.compute import servers, snapshots, states
from onestack.compute import states as S
from onestack.compute.actions import _begin, _host, action
from onestack.compute.virt import driver as virt

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore
    from onestack.compute.models import Instance
    from onestack.compute.virt.driver import VirtDriver

SHELVABLE = (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED)
SHELVED_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


@action("shelve")
async def shelve(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-shelve:shelve")
    servers.check_lock(core, ctx, instance)
    states.check("shelve", instance.vm_state, instance.task_state, vm_states=SHELVABLE, uuid=uuid)
    image_id = None
    if not snapshots.is_volume_backed(instance):
        body = snapshots.snapshot_body(ctx, instance, f"{instance.name}-shelved")
        image_id = await snapshots.create(core, ctx, body)
    try:
        instance = await _begin(
            core, ctx, uuid, "os-shelve:shelve", "shelve", SHELVABLE, S.SHELVING
        )
    except Exception:
        await snapshots.delete(core, ctx, image_id)
        raise
    await core.agents.run_action(ctx, _host(instance), uuid, "shelve", image_id=image_id)


@action("unshelve")
async def unshelve(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    host, extra = _unshelve_args(core, ctx, args, version)
    async with core.read() as session:
        current = await servers.get(session, core, ctx, uuid, "os-shelve:unshelve")
    if current.vm_state == S.SHELVED and (host or "requested_zone" in extra):
        raise Conflict(
            f"The server {uuid} is shelved, not offloaded: only an offloaded server "
            "unshelves to another availability zone or host."
        )
    instance = await _begin(
        core,
        ctx,
        uuid,
        "os-shelve:unshelve",
        "unshelve",
        (S.SHELVED, S.SHELVED_OFFLOADED),
        S.UNSHELVING,
        extra=extra,
    )
    if instance.vm_state == S.SHELVED and instance.host:
        await core.agents.run_action(ctx, instance.host, uuid, "unshelve")
    else:
        await core.conductor.move_instance(ctx, uuid, "unshelve", host)


def _unshelve_args(
    core: ComputeCore, ctx: RequestContext, args: Any, version: Version
) -> tuple[str | None, dict[str, Any]]:
    """``null`` or ``{"availability_zone": ..., "host": ...}`` by microversion."""
    if args is None:
        return None, {}
    if not isinstance(args, dict) or version < (2, 77):
        raise BadRequest("Invalid input for field/attribute unshelve.")
    allowed = {"availability_zone"} | ({"host"} if version >= (2, 91) else set())
    unknown = set(args) - allowed
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute unshelve: Additional properties are not "
            f"allowed ({', '.join(sorted(unknown))} unexpected)"
        )
    extra: dict[str, Any] = {}
    if "availability_zone" in args:
        zone = args["availability_zone"]
        if zone is None and version < (2, 91):
            raise BadRequest("Invalid input for field/attribute availability_zone.")
        if zone is not None and (not isinstance(zone, str) or not 1 <= len(zone) <= 255):
            raise BadRequest("Invalid input for field/attribute availability_zone.")
        extra["requested_zone"] = zone
    host = args.get("host")
    if "host" in args:
        if not isinstance(host, str) or not 1 <= len(host) <= 255:
            raise BadRequest("Invalid input for field/attribute host.")
        core.enforce(ctx, "os-shelve:unshelve_to_host")
    return host, extra


def shelved_meta(instance: Instance, image_id: str | None, host: str) -> dict[str, Any]:
    meta = dict(instance.system_metadata or {})
    meta.update(shelved_at=utcnow().isoformat(), shelved_image_id=image_id or "", shelved_host=host)
    return meta


def unshelved_meta(instance: Instance) -> dict[str, Any]:
    meta = dict(instance.system_metadata or {})
    for key in SHELVED_KEYS:
        meta.pop(key, None)
    return meta


async def offload(core: ComputeCore, driver: VirtDriver, instance: Instance) -> dict[str, Any]:
    """Destroy the guest and free the host: the allocation goes back to Placement."""
    await driver.destroy(instance.uuid)
    await core.placement.release(instance.uuid)
    return {
        "vm_state": S.SHELVED_OFFLOADED,
        "power_state": virt.SHUTDOWN,
        "host": None,
        "node": None,
    }
