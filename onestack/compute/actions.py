"""Server actions (``POST /servers/{id}/action``): the state each allows, the task it sets,
and the agent or conductor work it hands over. 409 when the state forbids."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import flavors, instances, network, servers, snapshots, states
from onestack.compute import states as S
from onestack.compute.models import Instance

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

ALL_TASKS: tuple[str | None, ...] = (None,)


@dataclass(frozen=True)
class Simple:
    """An action the compute agent does on the instance's host."""

    rule: str
    vm_states: tuple[str, ...]
    task: str
    agent_action: str
    task_states: tuple[str | None, ...] = (None,)
    action_name: str = ""


SIMPLE: dict[str, Simple] = {
    "os-start": Simple("servers:start", (S.STOPPED,), S.POWERING_ON, "start", action_name="start"),
    "os-stop": Simple(
        "servers:stop", (S.ACTIVE, S.RESCUED, S.ERROR), S.POWERING_OFF, "stop", action_name="stop"
    ),
    "pause": Simple("os-pause-server:pause", (S.ACTIVE,), S.PAUSING, "pause", action_name="pause"),
    "unpause": Simple(
        "os-pause-server:unpause", (S.PAUSED,), S.UNPAUSING, "unpause", action_name="unpause"
    ),
    "suspend": Simple(
        "os-suspend-server:suspend", (S.ACTIVE,), S.SUSPENDING, "suspend", action_name="suspend"
    ),
    "resume": Simple(
        "os-suspend-server:resume", (S.SUSPENDED,), S.RESUMING, "resume", action_name="resume"
    ),
    "unrescue": Simple(
        "os-unrescue", (S.RESCUED,), S.UNRESCUING, "unrescue", action_name="unrescue"
    ),
    "confirmResize": Simple(
        "servers:confirm_resize",
        (S.RESIZED,),
        S.RESIZE_CONFIRMING,
        "confirm_resize",
        action_name="confirmResize",
    ),
    "revertResize": Simple(
        "servers:revert_resize",
        (S.RESIZED,),
        S.RESIZE_REVERTING,
        "revert_resize",
        action_name="revertResize",
    ),
    "shelveOffload": Simple(
        "os-shelve:shelve_offload",
        (S.SHELVED,),
        S.SHELVING_OFFLOADING,
        "shelve_offload",
        action_name="shelveOffload",
    ),
}


async def _begin(
    core: ComputeCore,
    ctx: RequestContext,
    uuid: str,
    rule: str,
    name: str,
    vm_states: tuple[str, ...],
    task: str | None,
    task_states: tuple[str | None, ...] = (None,),
    *,
    lock_check: bool = True,
    extra: dict[str, Any] | None = None,
) -> Instance:
    """Check policy, lock and state, then set the task in one conditional update (a
    concurrent action on the same server gets 409)."""
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, rule)
        if lock_check:
            servers.check_lock(core, ctx, instance)
        states.check(
            name,
            instance.vm_state,
            instance.task_state,
            vm_states=vm_states,
            task_states=task_states,
            uuid=uuid,
        )
        values = dict(extra or {})
        if task is not None:
            values["task_state"] = task
        if values and not await instances.set_state(
            session, uuid, expected_task=instance.task_state, **values
        ):
            raise Conflict(f"Cannot '{name}' instance {uuid}: another task started first.")
        await instances.start_action(session, uuid, name, ctx)
        for key, value in values.items():
            setattr(instance, key, value)
    return instance


def _host(instance: Instance) -> str:
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not on a host.")
    return instance.host


Handler = Callable[["ComputeCore", RequestContext, str, Any, Version], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


async def run(
    core: ComputeCore, ctx: RequestContext, uuid: str, body: dict[str, Any], version: Version
) -> Any:
    """Dispatch ``{"<action>": args}``; what the handler answers goes back to the client."""
    if len(body) != 1:
        raise BadRequest("There is no such action: the body must name exactly one action.")
    name, args = next(iter(body.items()))
    simple = SIMPLE.get(name)
    if simple is not None:
        instance = await _begin(
            core,
            ctx,
            uuid,
            simple.rule,
            simple.action_name or name,
            simple.vm_states,
            simple.task,
            simple.task_states,
        )
        host = instance.system_metadata.get("move_source") if name == "confirmResize" else None
        await core.agents.run_action(ctx, host or _host(instance), uuid, simple.agent_action)
        return None
    handler = HANDLERS.get(name)
    if handler is None:
        raise BadRequest(f"There is no such action: {name}")
    return await handler(core, ctx, uuid, args, version)


@action("reboot")
async def reboot(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    kind = (args or {}).get("type") if isinstance(args, dict) else None
    if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
        raise BadRequest("Invalid input for field/attribute type: must be SOFT or HARD.")
    hard = kind.upper() == "HARD"
    allowed = (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED, S.ERROR) if hard else (S.ACTIVE,)
    tasks = (None, S.REBOOTING, S.REBOOTING_HARD) if hard else (None,)
    instance = await _begin(
        core,
        ctx,
        uuid,
        "servers:reboot",
        "reboot",
        allowed,
        S.REBOOTING_HARD if hard else S.REBOOTING,
        tasks,
    )
    await core.agents.run_action(ctx, _host(instance), uuid, "reboot", hard=hard)


@action("lock")
async def lock(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    reason = None
    if isinstance(args, dict) and "locked_reason" in args:
        if version < (2, 73):
            raise BadRequest("Invalid input for field/attribute lock.")
        reason = args["locked_reason"]
        if not isinstance(reason, str) or len(reason) > 255:
            raise BadRequest("Invalid input for field/attribute locked_reason.")
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-lock-server:lock")
        await instances.start_action(session, uuid, "lock", ctx)
        instance.locked = True
        instance.locked_by = "admin" if core.is_admin(ctx) else "owner"
        instance.locked_reason = reason


@action("unlock")
async def unlock(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-lock-server:unlock")
        if instance.locked_by == "admin" and not core.is_admin(ctx):
            core.enforce(
                ctx, "os-lock-server:unlock:unlock_override", {"project_id": instance.project_id}
            )
        await instances.start_action(session, uuid, "unlock", ctx)
        instance.locked, instance.locked_by, instance.locked_reason = False, None, None


@action("rescue")
async def rescue(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> dict[str, Any]:
    args = args if isinstance(args, dict) else {}
    password = args.get("adminPass") or secrets.token_urlsafe(9)
    image_ref = args.get("rescue_image_ref")
    if image_ref:
        await core.image(ctx, str(image_ref))
    instance = await _begin(
        core, ctx, uuid, "os-rescue", "rescue", (S.ACTIVE, S.STOPPED, S.ERROR), S.RESCUING
    )
    await core.agents.run_action(ctx, _host(instance), uuid, "rescue", image_ref=image_ref)
    return {"adminPass": password} if core.conf.enable_instance_password else {}


@action("changePassword")
async def change_password(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    password = args.get("adminPass") if isinstance(args, dict) else None
    if not isinstance(password, str) or not password:
        raise BadRequest("Invalid input for field/attribute adminPass.")
    instance = await _begin(
        core, ctx, uuid, "os-admin-password", "changePassword", (S.ACTIVE,), S.UPDATING_PASSWORD
    )
    await core.agents.run_action(ctx, _host(instance), uuid, "change_password", password=password)


@action("os-resetState")
async def reset_state(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    wanted = args.get("state") if isinstance(args, dict) else None
    if wanted not in ("active", "error"):
        raise BadRequest("Invalid input for field/attribute state: must be active or error.")
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-admin-actions:reset_state")
        await instances.start_action(session, uuid, "resetState", ctx)
        instance.vm_state = wanted
        instance.task_state = None


@action("resize")
async def resize(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    if not isinstance(args, dict) or "flavorRef" not in args:
        raise BadRequest(
            "Invalid input for field/attribute resize: 'flavorRef' is a required property"
        )
    flavor_id = servers._ref_id(args["flavorRef"], "flavorRef")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "servers:resize")
        flavor = await flavors.get(session, core, ctx, flavor_id, for_boot=True)
    current = instance.flavor or {}
    if current.get("flavorid") == flavor.flavorid:
        raise BadRequest("When resizing, instances must change flavor!")
    if flavor.root_gb < int(current.get("root_gb", 0)):
        raise BadRequest(
            "Resize to zero disk flavor is not allowed."
            if flavor.root_gb == 0
            else "Unable to resize disk down."
        )
    async with core.write() as session:
        delta_cores = flavor.vcpus - instance.vcpus
        delta_ram = flavor.memory_mb - instance.memory_mb
        if delta_cores > 0 or delta_ram > 0:
            await core.quotas.enforcer.enforce(
                session,
                instance.project_id,
                {"cores": max(delta_cores, 0), "ram": max(delta_ram, 0)},
                core.quotas.usage,
            )
    await _begin(
        core,
        ctx,
        uuid,
        "servers:resize",
        "resize",
        (S.ACTIVE, S.STOPPED),
        S.RESIZE_PREP,
        extra={"new_flavor": flavors.snapshot(flavor)},
    )
    await core.conductor.move_instance(ctx, uuid, "resize")


@action("migrate")
async def migrate(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    host = args.get("host") if isinstance(args, dict) and version >= (2, 56) else None
    await _begin(
        core,
        ctx,
        uuid,
        "os-migrate-server:migrate",
        "migrate",
        (S.ACTIVE, S.STOPPED),
        S.RESIZE_PREP,
        lock_check=False,
    )
    await core.conductor.move_instance(ctx, uuid, "migrate", host)


@action("os-migrateLive")
async def live_migrate(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    if not isinstance(args, dict) or "host" not in args:
        raise BadRequest(
            "Invalid input for field/attribute os-migrateLive: 'host' is a required property"
        )
    host = args.get("host")
    await _begin(
        core,
        ctx,
        uuid,
        "os-migrate-server:migrate_live",
        "os-migrateLive",
        (S.ACTIVE, S.PAUSED),
        S.MIGRATING,
        lock_check=False,
    )
    await core.conductor.move_instance(ctx, uuid, "live-migration", host)


@action("evacuate")
async def evacuate(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> dict[str, Any] | None:
    args = args if isinstance(args, dict) else {}
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-evacuate")
        status = await servers.host_states(
            session, core, {instance.host} if instance.host else set()
        )
    if instance.host and status.get(instance.host) != "DOWN":
        raise Conflict(f"Compute service of {instance.host} is still in use.")
    await _begin(
        core,
        ctx,
        uuid,
        "os-evacuate",
        "evacuate",
        (S.ACTIVE, S.STOPPED, S.ERROR),
        S.REBUILDING,
        lock_check=False,
    )
    await core.conductor.move_instance(ctx, uuid, "evacuate", args.get("host"))
    if version < (2, 14):
        return {"adminPass": args.get("adminPass") or secrets.token_urlsafe(9)}
    return None


@action("rebuild")
async def rebuild(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> Instance:
    if not isinstance(args, dict) or "imageRef" not in args:
        raise BadRequest(
            "Invalid input for field/attribute rebuild: 'imageRef' is a required property"
        )
    image_ref = servers._ref_id(args["imageRef"], "imageRef")
    image = await core.image(ctx, image_ref)
    if image.get("status") != "active":
        raise BadRequest(f"Image {image_ref} is not active.")
    extra: dict[str, Any] = {"image_ref": image_ref}
    if "name" in args:
        extra["name"] = servers.check_name(args["name"])
    if "metadata" in args:
        extra["metadata_"] = servers.check_metadata(args["metadata"], 128)
    if "description" in args and version >= (2, 19):
        extra["description"] = args["description"]
    instance = await _begin(
        core,
        ctx,
        uuid,
        "servers:rebuild",
        "rebuild",
        (S.ACTIVE, S.STOPPED, S.ERROR),
        S.REBUILDING,
        extra=extra,
    )
    props = dict(image.get("properties") or {})
    await core.agents.run_action(
        ctx, _host(instance), uuid, "rebuild", image_ref=image_ref, image_properties=props
    )
    return instance


@action("createImage")
async def create_image(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> dict[str, Any]:
    if (
        not isinstance(args, dict)
        or not isinstance(args.get("name"), str)
        or not args["name"].strip()
        or len(args["name"]) > 255
    ):
        raise BadRequest("Invalid input for field/attribute createImage: 'name' is required.")
    metadata = servers.check_metadata(args.get("metadata", {}), 128)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "servers:create_image")
    states.check(
        "createImage",
        instance.vm_state,
        instance.task_state,
        vm_states=(S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED),
        uuid=uuid,
    )
    body = snapshots.snapshot_body(ctx, instance, args["name"], extra=metadata)
    image_id = await snapshots.create(core, ctx, body)
    try:
        await _begin(
            core,
            ctx,
            uuid,
            "servers:create_image",
            "createImage",
            (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED),
            S.IMAGE_SNAPSHOT,
        )
    except Exception:
        await snapshots.delete(core, ctx, image_id)
        raise
    await core.agents.run_action(ctx, _host(instance), uuid, "snapshot", image_id=image_id)
    return {"image_id": image_id}


@action("os-getConsoleOutput")
async def console_output(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> dict[str, Any]:
    length = args.get("length") if isinstance(args, dict) else None
    if isinstance(length, str) and length.lstrip("-").isdigit():
        length = int(length)
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < -1
    ):
        raise BadRequest("Invalid input for field/attribute length.")
    if length == -1:
        length = None
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-console-output")
    if (
        instance.vm_state not in (S.ACTIVE, S.RESCUED, S.RESIZED, S.PAUSED, S.STOPPED, S.SUSPENDED)
        or not instance.host
    ):
        raise Conflict(
            f"Cannot 'os-getConsoleOutput' instance {uuid} while it is in "
            f"vm_state {instance.vm_state}"
        )
    text = await core.agents.console_output(ctx, instance.host, uuid, length)
    return {"output": text}


@action("trigger_crash_dump")
async def crash_dump(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    if version < (2, 17):
        raise BadRequest("There is no such action: trigger_crash_dump")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "servers:trigger_crash_dump")
    servers.check_lock(core, ctx, instance)
    states.check(
        "trigger_crash_dump",
        instance.vm_state,
        instance.task_state,
        vm_states=(S.ACTIVE, S.PAUSED, S.RESCUED, S.RESIZED, S.ERROR),
        uuid=uuid,
    )
    await core.agents.inject_nmi(ctx, _host(instance), uuid)


@action("restore")
async def restore(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    instance = await _begin(
        core, ctx, uuid, "os-deferred-delete:restore", "restore", (S.SOFT_DELETED,), S.RESTORING
    )
    if instance.host:
        await core.agents.run_action(ctx, instance.host, uuid, "restore")
    else:
        async with core.write() as session:
            await instances.set_state(session, uuid, vm_state=S.SHELVED_OFFLOADED, task_state=None)


@action("forceDelete")
async def force_delete(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    await servers.delete(core, ctx, uuid, force=True)


@action("addSecurityGroup")
async def add_security_group(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    name = args.get("name") if isinstance(args, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Security group name cannot be empty")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-security-groups:add")
    await network.change_security_group(core, ctx, instance, name, add=True)
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-security-groups:add")
        if name not in instance.security_groups:
            instance.security_groups = [*instance.security_groups, name]


@action("removeSecurityGroup")
async def remove_security_group(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    name = args.get("name") if isinstance(args, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Security group name cannot be empty")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-security-groups:remove")
    on_ports = await network.change_security_group(core, ctx, instance, name, add=False)
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-security-groups:remove")
        if not on_ports and name not in instance.security_groups:
            raise NotFound(f"Security group {name} not in use on instance {uuid}.")
        instance.security_groups = [g for g in instance.security_groups if g != name]


@action("addFixedIp")
@action("removeFixedIp")
async def fixed_ip_proxies(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    raise NotFound(
        "These network proxy actions were removed in microversion 2.44; use the Networking API."
    )


@action("addFloatingIp")
async def add_floating_ip(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    """The deprecated proxy (below 2.44): associate a floating IP of the caller's project."""
    if version >= (2, 44):
        raise NotFound("The addFloatingIp action was removed in microversion 2.44.")
    if not isinstance(args, dict) or not isinstance(args.get("address"), str):
        raise BadRequest("Invalid input for field/attribute address.")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-floating-ips:add")
    await network.associate_floating_ip(
        core, ctx, instance, args["address"], args.get("fixed_address")
    )


@action("removeFloatingIp")
async def remove_floating_ip(
    core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
) -> None:
    if version >= (2, 44):
        raise NotFound("The removeFloatingIp action was removed in microversion 2.44.")
    if not isinstance(args, dict) or not isinstance(args.get("address"), str):
        raise BadRequest("Invalid input for field/attribute address.")
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-floating-ips:remove")
    await network.associate_floating_ip(core, ctx, instance, args["address"], None, remove=True)


# the actions of their own modules register themselves on import
from onestack.compute import consoles, shelving  # noqa: E402, F401
