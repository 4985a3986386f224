"""Servers: create (validate, quota, write, hand to the conductor), list, show, update,
delete. The API's half of every server operation; the agents do the rest."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.microversions import Version
from onestack.common.quota import Overage, QuotaExceeded
from onestack.compute import flavors, instances, network, states, volumes
from onestack.compute.models import Aggregate, ComputeNode, Instance, KeyPair, ServerGroup
from onestack.compute.placement import resources_of

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)
_KNOWN = {
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "key_name",
    "user_data",
    "metadata",
    "personality",
    "availability_zone",
    "min_count",
    "max_count",
    "return_reservation_id",
    "security_groups",
    "block_device_mapping_v2",
    "block_device_mapping",
    "config_drive",
    "OS-DCF:diskConfig",
    "accessIPv4",
    "accessIPv6",
    "adminPass",
    "description",
    "tags",
    "hostname",
    "host",
    "hypervisor_hostname",
    "trusted_image_certificates",
}


def check_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str):
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"{value!r} is not of type 'string'"
        )
    if len(value) > 255:
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. '{value}' is too long"
        )
    if not value.strip():
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"'{value}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"
        )
    if any(ord(c) < 32 for c in value):
        raise BadRequest(
            f"Invalid input for field/attribute {field}: control characters are not allowed."
        )
    return value


def _ref_id(value: Any, field: str) -> str:
    """An id given as itself or as a link (``.../flavors/1``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 1024:
        raise BadRequest(f"Invalid input for field/attribute {field}.")
    return value.rstrip("/").rsplit("/", 1)[-1]


def check_metadata(value: Any, limit: int) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest("Invalid input for field/attribute metadata: it must be an object.")
    for key, item in value.items():
        if not key or len(key) > 255:
            raise BadRequest(
                "Invalid input for field/attribute metadata: keys must be 1 to 255 characters long."
            )
        if not isinstance(item, str) or len(item) > 255:
            raise BadRequest(
                f"Invalid input for field/attribute metadata. Value of {key} "
                "must be a string of at most 255 characters."
            )
    if 0 <= limit < len(value):
        raise Forbidden(
            f"Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
        )
    return dict(value)


def _check_ip(key: str, value: object, family: int) -> None:
    import ipaddress

    try:
        ok = isinstance(value, str) and ipaddress.ip_address(value).version == family
    except ValueError:
        ok = False
    if not ok:
        raise BadRequest(
            f"Invalid input for field/attribute {key}. Value: {value!r} is not "
            f"an IPv{family} address."
        )


def _hostname(name: str) -> str:
    text = re.sub(r"[^\w.-]+", "-", name.lower()).strip(".-")
    text = re.sub(r"[_]", "-", text)
    return (text or "server")[:63]


def _count(body: dict[str, Any], key: str) -> int | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(
            f"Invalid input for field/attribute {key}. Value: {value}. "
            "It must be an integer of at least 1."
        )
    return value


async def _zones(session: Any, core: ComputeCore) -> set[str]:
    zones = {core.conf.default_availability_zone}
    for (meta,) in await session.execute(select(Aggregate.metadata_)):
        if meta and meta.get("availability_zone"):
            zones.add(meta["availability_zone"])
    return zones


async def create(
    core: ComputeCore,
    ctx: RequestContext,
    body: dict[str, Any],
    hints: dict[str, Any],
    version: Version,
) -> tuple[list[Instance], str, str | None]:
    """Validate the request, check quotas, write the instances (cell0, BUILD) and hand them
    to the conductor; (instances, reservation id, admin password)."""
    core.enforce(ctx, "servers:create")
    unknown = set(body) - _KNOWN
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute server. Additional properties are "
            f"not allowed ({', '.join(repr(k) for k in sorted(unknown))} "
            "were unexpected)"
        )
    if "name" not in body:
        raise BadRequest("Invalid input for field/attribute server: 'name' is a required property")
    name = check_name(body["name"])
    if "flavorRef" not in body:
        raise BadRequest(
            "Invalid input for field/attribute server: 'flavorRef' is a required property"
        )
    flavor_id = _ref_id(body["flavorRef"], "flavorRef")
    network.parse(body.get("networks"), version)
    if "personality" in body and version >= (2, 57):
        raise BadRequest(
            "Invalid input for field/attribute server. Additional properties are "
            "not allowed ('personality' was unexpected)"
        )
    if "description" in body:
        if version < (2, 19):
            raise BadRequest(
                "Invalid input for field/attribute server. Additional properties "
                "are not allowed ('description' was unexpected)"
            )
        if body["description"] is not None and (
            not isinstance(body["description"], str) or len(body["description"]) > 255
        ):
            raise BadRequest("Invalid input for field/attribute description.")
    tags = body.get("tags", [])
    if "tags" in body and version < (2, 52):
        raise BadRequest(
            "Invalid input for field/attribute server. Additional properties are "
            "not allowed ('tags' was unexpected)"
        )
    check_tags(tags)
    if "hostname" in body and version < (2, 90):
        raise BadRequest(
            "Invalid input for field/attribute server. Additional properties are "
            "not allowed ('hostname' was unexpected)"
        )
    user_data = body.get("user_data")
    if user_data is not None:
        if not isinstance(user_data, str) or len(user_data) > 65535:
            raise BadRequest(
                "Invalid input for field/attribute user_data: base64 of at most 65535 characters."
            )
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("User data needs to be valid base 64.") from None
    min_count = _count(body, "min_count") or 1
    max_count = _count(body, "max_count") or min_count
    if min_count > max_count:
        raise BadRequest("min_count must be <= max_count")
    disk_config = body.get("OS-DCF:diskConfig", "MANUAL")
    if disk_config not in ("AUTO", "MANUAL"):
        raise BadRequest(f"{disk_config} must be either 'MANUAL' or 'AUTO'.")
    groups = body.get("security_groups") or [{"name": "default"}]
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and isinstance(g.get("name"), str) for g in groups
    ):
        raise BadRequest("Invalid input for field/attribute security_groups.")
    for key in ("key_name", "adminPass", "hostname"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value!r}.")
    for key, family in (("accessIPv4", 4), ("accessIPv6", 6)):
        value = body.get(key)
        if value not in (None, ""):
            _check_ip(key, value, family)
    config_drive = body.get("config_drive")
    if config_drive is not None and config_drive not in (
        True,
        False,
        "True",
        "False",
        "true",
        "false",
        "1",
        "0",
        "",
    ):
        raise BadRequest(
            f"Invalid input for field/attribute config_drive. Value: {config_drive!r}."
        )
    config_drive_text = "True" if config_drive in (True, "True", "true", "1") else ""
    image_ref = body.get("imageRef", "")
    bdms = volumes.parse_bdms(body.get("block_device_mapping_v2"), version)
    for bdm in bdms:
        local = bdm["destination_type"] == "local"
        if local and bdm["source_type"] == "image" and bdm["boot_index"] == 0 and not image_ref:
            image_ref = bdm["uuid"]
    volume_backed = volumes.volume_backed(bdms)
    if volume_backed:
        image_ref = ""
    elif image_ref:
        image_ref = _ref_id(image_ref, "imageRef")
    else:
        raise BadRequest(
            "Invalid input for field/attribute imageRef: an image is required "
            "to boot without a volume."
        )
    # availability zone, forced host
    zone_req = body.get("availability_zone")
    force_host = force_node = None
    if zone_req is not None:
        if not isinstance(zone_req, str) or len(zone_req) > 255:
            raise BadRequest("Invalid input for field/attribute availability_zone.")
        zone, _, rest = zone_req.partition(":")
        if rest:
            core.enforce(ctx, "servers:create:forced_host")
            force_host, _, force_node = rest.partition(":")
            force_host, force_node = force_host or None, force_node or None
        zone_req = zone or None
    if body.get("host") or body.get("hypervisor_hostname"):
        if version < (2, 74):
            raise BadRequest(
                "Invalid input for field/attribute server. Additional properties "
                "are not allowed ('host' was unexpected)"
            )
        core.enforce(ctx, "servers:create:requested_destination")
        for key in ("host", "hypervisor_hostname"):
            if key in body and (
                not isinstance(body[key], str) or not body[key] or len(body[key]) > 255
            ):
                raise BadRequest(f"Invalid input for field/attribute {key}.")
        force_host = body.get("host") or force_host
        force_node = body.get("hypervisor_hostname") or force_node
    image: dict[str, Any] = {}
    if image_ref:
        image = await core.image(ctx, image_ref)
        if image.get("status") != "active":
            raise BadRequest(f"Image {image_ref} is not active.")
    root_image = await volumes.check_request(core, ctx, bdms, max_count, version)
    async with core.read() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id, for_boot=True)
        if image and not volume_backed:
            min_ram = int(image.get("min_ram") or 0)
            min_disk = int(image.get("min_disk") or 0)
            size_gb = -(-int(image.get("size") or 0) // (1024**3))
            if flavor.memory_mb < min_ram:
                raise BadRequest("Flavor's memory is too small for requested image.")
            if flavor.root_gb and (flavor.root_gb < min_disk or flavor.root_gb < size_gb):
                raise BadRequest("Flavor's disk is too small for requested image.")
        key_data = None
        key_name = body.get("key_name")
        if key_name is not None:
            pair = (
                await session.execute(
                    select(KeyPair).where(KeyPair.user_id == ctx.user_id, KeyPair.name == key_name)
                )
            ).scalar()
            if pair is None:
                raise BadRequest("Invalid key_name provided.")
            key_data = pair.public_key
        if zone_req and zone_req not in await _zones(session, core):
            raise BadRequest("The requested availability zone is not available")
        if force_host or force_node:
            stmt = select(ComputeNode.id)
            if force_host:
                stmt = stmt.where(ComputeNode.host == force_host)
            if force_node:
                stmt = stmt.where(ComputeNode.hypervisor_hostname == force_node)
            if (await session.execute(stmt)).first() is None:
                raise BadRequest(f"Compute host {force_host or force_node} could not be found.")
        group = None
        if hints.get("group"):
            group = (
                await session.execute(select(ServerGroup).where(ServerGroup.uuid == hints["group"]))
            ).scalar()
            if group is None or (group.project_id != ctx.project_id and not core.is_admin(ctx)):
                raise BadRequest(f"Invalid server group {hints['group']}.")
        metadata_limit = await core.quotas.limit_of(session, ctx.project_id or "", "metadata_items")
    metadata = check_metadata(body.get("metadata", {}), metadata_limit)
    for hint in ("same_host", "different_host"):
        wanted = hints.get(hint)
        if wanted is not None:
            ids = [wanted] if isinstance(wanted, str) else wanted
            if not isinstance(ids, list) or not all(
                isinstance(i, str) and UUID_RE.match(i) for i in ids
            ):
                raise BadRequest(f"Invalid input for field/attribute {hint}.")
    wanted_networks = await network.requested_networks(
        core,
        ctx,
        body.get("networks"),
        version,
        [g["name"] for g in groups],
        max_count,
        min_count,
    )
    fsnap = flavors.snapshot(flavor)
    image = image or root_image
    image_props = dict(image.get("properties") or {})
    image_props.update(
        {
            k: v
            for k, v in image.items()
            if k.startswith(("hw_", "img_", "os_", "trait:"))
            or k in ("architecture", "hypervisor_type", "kernel_id", "ramdisk_id")
        }
    )
    spec = {
        "flavor": fsnap,
        # a volume-backed server claims no local root disk (as Nova)
        "resources": resources_of({**fsnap, "root_gb": 0} if volume_backed else fsnap),
        "image_properties": image_props,
        "availability_zone": zone_req,
        "force_host": force_host,
        "force_node": force_node,
        "hints": hints,
        "project_id": ctx.project_id,
        "user_id": ctx.user_id,
        "group_uuid": group.uuid if group else None,
        "group_policy": group.policy if group else None,
        "group_rules": dict(group.rules or {}) if group else {},
        "networks": wanted_networks,
    }
    reservation = f"r-{secrets.token_hex(4)}"
    password = body.get("adminPass")
    if password is None and core.conf.enable_instance_password:
        password = secrets.token_urlsafe(9)
    created: list[Instance] = []
    async with core.write() as session:
        count = await _within_quota(
            core,
            session,
            ctx.project_id or "",
            min_count,
            max_count,
            flavor.vcpus,
            flavor.memory_mb,
        )
        if group is not None:
            group = (
                await session.execute(select(ServerGroup).where(ServerGroup.uuid == group.uuid))
            ).scalar_one()
            limit = await core.quotas.limit_of(
                session, ctx.project_id or "", "server_group_members"
            )
            if 0 <= limit < len(group.members or []) + count:
                raise Forbidden("Quota exceeded, too many servers in group")
        for index in range(count):
            display = name if count == 1 else f"{name}-{index + 1}"
            instance = Instance(
                uuid=str(uuidlib.uuid4()),
                cell="cell0",
                project_id=ctx.project_id,
                user_id=ctx.user_id,
                name=display,
                hostname=body.get("hostname") or _hostname(display),
                description=body.get("description"),
                image_ref=image_ref,
                flavor=fsnap,
                vcpus=flavor.vcpus,
                memory_mb=flavor.memory_mb,
                root_gb=flavor.root_gb,
                key_name=key_name,
                key_data=key_data,
                user_data=user_data,
                config_drive=config_drive_text,
                admin_password=password,
                metadata_=metadata,
                system_metadata={},
                tags=list(dict.fromkeys(tags)),
                security_groups=[g["name"] for g in groups],
                availability_zone=zone_req,
                requested_zone=zone_req,
                vm_state=states.BUILDING,
                task_state=states.SCHEDULING,
                power_state=0,
                access_ip_v4=body.get("accessIPv4"),
                access_ip_v6=body.get("accessIPv6"),
                disk_config=disk_config,
                reservation_id=reservation,
                launch_index=index,
                request_spec=spec,
            )
            session.add(instance)
            session.add_all(volumes.mappings_for(instance.uuid, bdms))
            await instances.start_action(session, instance.uuid, "create", ctx)
            created.append(instance)
        if group is not None:
            group.members = [*(group.members or []), *(i.uuid for i in created)]
    await core.notify(ctx, "instance.create.start", {"instance_uuids": [i.uuid for i in created]})
    await core.conductor.build_instances(ctx, [i.uuid for i in created])
    return created, reservation, password


async def _within_quota(
    core: ComputeCore,
    session: Any,
    project_id: str,
    min_count: int,
    max_count: int,
    vcpus: int,
    ram: int,
) -> int:
    """How many of ``max_count`` instances fit the quotas (at least ``min_count``, else 403)."""
    resources = ["instances", "cores", "ram"]
    limits = await core.quotas.limits.limits(project_id, resources, session=session)
    if all(v < 0 for v in limits.values()):
        return max_count
    await core.quotas.enforcer.lock(session, project_id)
    used = await core.quotas.usage(session, project_id, resources)
    per = {"instances": 1, "cores": vcpus, "ram": ram}
    allowed = max_count
    for resource in resources:
        limit = limits[resource]
        if limit < 0 or per[resource] == 0:
            continue
        allowed = min(allowed, (limit - used.get(resource, 0)) // per[resource])
    if allowed < min_count:
        overs = [
            Overage(r, limits[r], used.get(r, 0), per[r] * min_count)
            for r in resources
            if limits[r] >= 0 and used.get(r, 0) + per[r] * min_count > limits[r]
        ]
        raise QuotaExceeded(overs, code=403)
    return allowed


def check_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or len(tags) > 50:
        raise BadRequest("Invalid input for field/attribute tags: a list of at most 50 tags.")
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > 60 or "/" in tag or "," in tag:
            raise BadRequest(
                f"Invalid input for field/attribute tags. Value: {tag}. Tags are "
                "1 to 60 characters without '/' or ','."
            )
    return tags


# -- reading ------------------------------------------------------------------------------
async def get(
    session: Any, core: ComputeCore, ctx: RequestContext, uuid: str, rule: str = "servers:show"
) -> Instance:
    """The caller's server (or any, for an admin); 404 for anything else."""
    stmt = select(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
    instance = (await session.execute(stmt)).scalar() if len(uuid) <= 36 else None
    if instance is None:
        raise NotFound(f"Instance {uuid} could not be found.")
    target = {"project_id": instance.project_id, "user_id": instance.user_id}
    if not core.allowed(ctx, rule, target):
        if instance.project_id != ctx.project_id and not core.is_admin(ctx):
            raise NotFound(f"Instance {uuid} could not be found.")
        core.enforce(ctx, rule, target)
    return instance


_SORT_KEYS = {
    "created_at",
    "display_name",
    "updated_at",
    "uuid",
    "vm_state",
    "task_state",
    "power_state",
    "host",
    "node",
    "launched_at",
    "terminated_at",
    "project_id",
    "user_id",
    "hostname",
    "availability_zone",
    "display_description",
    "key_name",
    "image_ref",
    "instance_type_id",
    "locked",
    "config_drive",
}
_COLUMN = {
    "display_name": "name",
    "display_description": "description",
    "instance_type_id": "vcpus",
}


def _time(value: str, name: str) -> Any:
    import datetime as dt

    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid filter field: {name}. Value {value!r} is not a time.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


#: The columns ``server_detail`` renders (a listing selects these, never the whole row: the
#: request spec, key data and admin password are wide JSON/text nobody lists).
DETAIL_COLUMNS = (
    "id",
    "uuid",
    "name",
    "project_id",
    "user_id",
    "hostname",
    "description",
    "image_ref",
    "flavor",
    "key_name",
    "user_data",
    "config_drive",
    "metadata_",
    "system_metadata",
    "tags",
    "security_groups",
    "availability_zone",
    "requested_zone",
    "host",
    "node",
    "vm_state",
    "task_state",
    "power_state",
    "locked",
    "locked_reason",
    "access_ip_v4",
    "access_ip_v6",
    "disk_config",
    "reservation_id",
    "launch_index",
    "fault",
    "progress",
    "launched_at",
    "terminated_at",
    "created_at",
    "updated_at",
)
BRIEF_COLUMNS = ("id", "uuid", "name", "host")


def _columns(names: tuple[str, ...]) -> list[Any]:
    return [getattr(Instance, n).label(n) for n in names]


async def list_servers(
    session: Any,
    core: ComputeCore,
    ctx: RequestContext,
    params: Any,
    version: Version,
    rule: str,
    columns: tuple[str, ...] = DETAIL_COLUMNS,
) -> list[Any]:
    """Listing with Nova's filters, sort and limit/marker pagination.

    Rows carry ``columns`` as attributes (what the views read), not ORM instances. Filters
    SQL can express, the sort and (without Python-side filters or a marker) the limit run in
    the database; the regex, flavor, tag and IP filters and the marker run over a narrow first
    pass of the ordered ids, and only the page's rows are then read with ``columns``.
    """
    core.enforce(ctx, rule)
    admin = core.is_admin(ctx)
    where: list[Any] = []
    all_tenants = params.get("all_tenants")
    all_projects = all_tenants is not None and all_tenants.lower() not in ("0", "false", "off")
    if all_projects:
        core.enforce(ctx, f"{rule}:get_all_tenants")
    project = params.get("project_id") or params.get("tenant_id")
    if project and admin:
        where.append(Instance.project_id == project)
    elif not (all_projects and admin):
        where.append(Instance.project_id == ctx.project_id)
    changes = params.get("changes-since")
    before = params.get("changes-before")
    deleted = params.get("deleted", "").lower() in ("true", "1", "yes") and admin
    if changes:
        where.append(Instance.updated_at >= _time(changes, "changes-since"))
    if before:
        if version < (2, 66):
            before = None
        else:
            where.append(Instance.updated_at <= _time(before, "changes-before"))
    if changes and before and _time(changes, "c") > _time(before, "c"):
        raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
    if deleted:
        where.append(Instance.deleted.is_(True))
    elif not changes and not before:
        where.append(Instance.deleted.is_(False))
    status = params.get("status")
    if status:
        vm = states.vm_states_for(status)
        pairs = states.task_states_for(status)
        if not vm and not pairs:
            if version >= (2, 38):
                raise BadRequest(f"Invalid status value {status}")
            return []
        conds = [Instance.vm_state.in_(vm)] if vm else []
        conds += [(Instance.vm_state == v) & (Instance.task_state == t) for v, t in pairs]
        where.append(or_(*conds))
    if params.get("image"):
        where.append(Instance.image_ref == params["image"].rstrip("/").rsplit("/", 1)[-1])
    if params.get("reservation_id"):
        where.append(Instance.reservation_id == params["reservation_id"])
    if admin:
        for key, column in (
            ("host", Instance.host),
            ("node", Instance.node),
            ("user_id", Instance.user_id),
            ("vm_state", Instance.vm_state),
            ("task_state", Instance.task_state),
            ("availability_zone", Instance.availability_zone),
            ("uuid", Instance.uuid),
        ):
            if params.get(key):
                where.append(column == params[key])
    if params.get("locked") is not None and version >= (2, 73):
        text = params["locked"].lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise BadRequest(
                f"Unrecognized value '{params['locked']}', acceptable values are 'true' or 'false'"
            )
        where.append(Instance.locked.is_(text in ("true", "1", "yes")))
    sort_keys = params.getlist("sort_key") if hasattr(params, "getlist") else []
    sort_dirs = params.getlist("sort_dir") if hasattr(params, "getlist") else []
    order = []
    for i, key in enumerate(sort_keys or ["created_at"]):
        if key not in _SORT_KEYS:
            raise BadRequest(f"Invalid sort_key {key}")
        direction = sort_dirs[i] if i < len(sort_dirs) else (sort_dirs[-1] if sort_dirs else "desc")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort_dir {direction}")
        column = getattr(Instance, _COLUMN.get(key, key if key != "uuid" else "uuid"))
        order.append(column.desc() if direction == "desc" else column.asc())
    order.append(Instance.id.desc())
    name = params.get("name")
    pattern = None
    if name:
        try:
            pattern = re.compile(name)
        except re.error:
            raise BadRequest(f"Invalid name filter regex {name!r}.") from None
    tagged = version >= (2, 26) and any(
        params.get(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")
    )
    ips = [(k, f) for k, f in (("ip", 4), ("ip6", 6)) if params.get(k)]
    marker = params.get("marker")
    flavor = params.get("flavor")
    narrow = bool(flavor or pattern or tagged or ips or marker)
    if not narrow:
        # the limit is validated after the filters, as before: a bad status answers first
        stmt = select(*_columns(columns)).where(*where).order_by(*order)
        return list((await session.execute(stmt.limit(_limit(core, params)))).all())
    first = ["id", "uuid"]
    if flavor:
        first.append("flavor")
    if pattern:
        first.append("name")
    if tagged:
        first.append("tags")
    if ips:
        first.append("system_metadata")
    rows: list[Any] = list(
        await session.execute(select(*_columns(tuple(first))).where(*where).order_by(*order))
    )
    if flavor:
        rows = [r for r in rows if (r.flavor or {}).get("flavorid") == flavor]
    if pattern is not None:
        rows = [r for r in rows if pattern.search(r.name)]
    if tagged:
        rows = _tag_filter(rows, params)
    for key, family in ips:
        rows = _ip_filter(rows, params[key], family)
    if marker:
        ids = [r.uuid for r in rows]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    page = [r.id for r in rows[: _limit(core, params)]]
    if not page:
        return []
    found = {}
    for start in range(0, len(page), 500):  # bounded IN lists on every backend
        chunk = page[start : start + 500]
        stmt = select(*_columns(columns)).where(Instance.id.in_(chunk))
        found.update({r.id: r for r in await session.execute(stmt)})
    return [found[i] for i in page if i in found]


def _limit(core: ComputeCore, params: Any) -> int:
    limit: int = core.conf.max_limit
    if params.get("limit") is not None:
        try:
            limit = min(int(params["limit"]), limit)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        if limit < 0:
            raise BadRequest("limit must be >= 0")
    return limit


def _ip_filter(rows: list[Any], value: str, family: int) -> list[Any]:
    """Nova's ``ip``/``ip6`` filters: a regular expression over the servers' addresses."""
    try:
        pattern = re.compile(value)
    except re.error:
        raise BadRequest(f"Invalid ip filter regex {value!r}.") from None
    return [
        r
        for r in rows
        if any(
            pattern.search(ip["ip_address"]) or any(pattern.search(f) for f in ip["floating_ips"])
            for port in network.cached(r)
            for ip in port["fixed_ips"]
            if ip["version"] == family
        )
    ]


def _tag_filter(rows: list[Any], params: Any) -> list[Any]:
    def split(key: str) -> set[str] | None:
        value = params.get(key)
        return set(value.split(",")) if value else None

    every, anyof = split("tags"), split("tags-any")
    not_every, not_any = split("not-tags"), split("not-tags-any")
    out = []
    for row in rows:
        have = set(row.tags or [])
        if every and not every <= have:
            continue
        if anyof and not anyof & have:
            continue
        if not_every and not_every <= have:
            continue
        if not_any and not_any & have:
            continue
        out.append(row)
    return out


async def host_states(session: Any, core: ComputeCore, hosts: set[str]) -> dict[str, str]:
    """``host_status`` of each host (UP, DOWN, MAINTENANCE)."""
    from onestack.compute.models import ComputeService
    from onestack.compute.scheduler.host_state import is_up

    if not hosts:
        return {}
    rows = (
        await session.execute(
            select(ComputeService).where(
                ComputeService.host.in_(list(hosts)), ComputeService.binary == "nova-compute"
            )
        )
    ).scalars()
    found = {}
    for svc in rows:
        if not is_up(svc, core.conf.service_down_time):
            found[svc.host] = "DOWN"
        elif svc.disabled:
            found[svc.host] = "MAINTENANCE"
        else:
            found[svc.host] = "UP"
    return found


# -- update and delete -------------------------------------------------------------------
async def update(
    core: ComputeCore, ctx: RequestContext, uuid: str, body: dict[str, Any], version: Version
) -> Instance:
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    if version >= (2, 19):
        allowed.add("description")
    if version >= (2, 90):
        allowed.add("hostname")
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute server. Additional properties are "
            f"not allowed ({', '.join(repr(k) for k in sorted(unknown))} "
            "were unexpected)"
        )
    async with core.write() as session:
        instance = await get(session, core, ctx, uuid, "servers:update")
        if "name" in body:
            instance.name = check_name(body["name"])
        if "description" in body:
            if body["description"] is not None and (
                not isinstance(body["description"], str) or len(body["description"]) > 255
            ):
                raise BadRequest("Invalid input for field/attribute description.")
            instance.description = body["description"]
        if "hostname" in body:
            instance.hostname = _hostname(check_name(body["hostname"], "hostname"))
        for key, attr in (("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6")):
            if key in body:
                setattr(instance, attr, body[key] or None)
        if "OS-DCF:diskConfig" in body:
            if body["OS-DCF:diskConfig"] not in ("AUTO", "MANUAL"):
                raise BadRequest("OS-DCF:diskConfig must be either 'MANUAL' or 'AUTO'.")
            instance.disk_config = body["OS-DCF:diskConfig"]
        instance.updated_at = utcnow()
    return instance


async def delete(core: ComputeCore, ctx: RequestContext, uuid: str, *, force: bool = False) -> None:
    """Delete (or soft delete when a reclaim interval is set): an instance on a host is
    destroyed by its agent; one that never reached a host is deleted here."""
    from onestack.compute.manager import finish_delete

    async with core.write() as session:
        rule = "os-deferred-delete:force" if force else "servers:delete"
        instance = await get(session, core, ctx, uuid, rule)
        check_lock(core, ctx, instance)
        if instance.task_state == states.DELETING and not force:
            return
        soft = (
            core.conf.reclaim_instance_interval > 0
            and not force
            and instance.vm_state not in (states.BUILDING, states.ERROR, states.SOFT_DELETED)
        )
        if force and instance.vm_state != states.SOFT_DELETED:
            raise Conflict(
                f"Cannot 'forceDelete' instance {uuid} while it is in vm_state {instance.vm_state}"
            )
        await instances.start_action(session, uuid, "delete", ctx)
        host = instance.host
        if soft and host:
            instance.task_state = states.SOFT_DELETING
            instance.updated_at = utcnow()
        elif soft:
            instance.vm_state = states.SOFT_DELETED
            instance.updated_at = utcnow()
        else:
            instance.task_state = states.DELETING
            instance.updated_at = utcnow()
    await core.notify(ctx, "instance.delete.start", {"instance_uuid": uuid})
    if not soft and instance.vm_state in (states.SHELVED, states.SHELVED_OFFLOADED):
        from onestack.compute import snapshots  # a shelved server's snapshot goes with it

        await snapshots.delete(core, ctx, (instance.system_metadata or {}).get("shelved_image_id"))
    if soft:
        if host:
            await core.agents.run_action(ctx, host, uuid, "soft_delete")
        return
    if host and instance.vm_state != states.SHELVED_OFFLOADED:
        async with core.read() as session:
            down = (await host_states(session, core, {host})).get(host) == "DOWN"
        if not down:
            await core.agents.terminate_instance(ctx, host, uuid)
            return
        # Nova's local delete: the host's agent is down; its reconcile destroys the guest
    await core.placement.release(uuid)
    migration = (instance.system_metadata or {}).get("migration_uuid")
    if migration:
        await core.placement.release(migration)
    await network.HostNetworking(core, host or "").deallocate(instance)
    await volumes.cleanup(core, uuid)
    await finish_delete(core, uuid)


def check_lock(core: ComputeCore, ctx: RequestContext, instance: Instance) -> None:
    if instance.locked and not core.is_admin(ctx):
        raise Conflict(f"Instance {instance.uuid} is locked")
