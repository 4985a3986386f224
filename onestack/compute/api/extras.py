"""The smaller Compute resources: limits, quota sets, availability zones, services,
hypervisors, aggregates, server groups, instance actions, metadata, tags, ips, usage,
external events, attachments (not yet available), consoles and the image proxy."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from typing import Any

from fastapi import Request
from sqlalchemy import select
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import servers, states, views
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, base, body_of
from onestack.compute.core import ComputeCore, core_of
from onestack.compute.models import (
    Aggregate,
    ComputeNode,
    ComputeService,
    Instance,
    InstanceAction,
    ServerGroup,
)
from onestack.compute.quotas import RESOURCES
from onestack.compute.scheduler.host_state import is_up

router = protected_router()
_OLD_QUOTAS = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups", "networks")


# -- limits and quotas ----------------------------------------------------------------------
async def _limits_and_usage(
    core: ComputeCore, project_id: str
) -> tuple[dict[str, int], dict[str, int]]:
    async with core.read() as session:
        limits = await core.quotas.limits.limits(project_id, list(RESOURCES), session=session)
        used = dict(
            await core.quotas.usage(
                session, project_id, ["instances", "cores", "ram", "server_groups"]
            )
        )
    return limits, used


@router.get("/limits")
async def limits(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "limits")
    project = request.query_params.get("tenant_id") or ctx.project_id or ""
    if project != ctx.project_id:
        core.enforce(ctx, "limits:other_project")
    lim, used = await _limits_and_usage(core, project)
    absolute: dict[str, int] = {
        "maxTotalInstances": lim["instances"],
        "maxTotalCores": lim["cores"],
        "maxTotalRAMSize": lim["ram"],
        "maxTotalKeypairs": lim["key_pairs"],
        "maxServerMeta": lim["metadata_items"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "totalInstancesUsed": used.get("instances", 0),
        "totalCoresUsed": used.get("cores", 0),
        "totalRAMUsed": used.get("ram", 0),
        "totalServerGroupsUsed": used.get("server_groups", 0),
    }
    if version < (2, 57):
        absolute.update(
            maxPersonality=lim["injected_files"],
            maxPersonalitySize=lim["injected_file_content_bytes"],
        )
    if version < (2, 36):
        absolute.update(
            maxSecurityGroups=10,
            maxSecurityGroupRules=20,
            maxTotalFloatingIps=10,
            totalFloatingIpsUsed=0,
            totalSecurityGroupsUsed=0,
        )
    return json({"limits": {"rate": [], "absolute": absolute}})


def _quota_body(values: dict[str, Any], version: Version) -> dict[str, Any]:
    out = dict(values)
    if version >= (2, 57):
        for key in ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes"):
            out.pop(key, None)
    if version < (2, 36):
        out.update({k: -1 if k != "security_groups" else 10 for k in _OLD_QUOTAS})
    return out


@router.get("/os-quota-sets/{project_id}/defaults")
async def quota_defaults(
    request: Request, project_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-sets:defaults")
    values = await _class_values(core, "default")
    return json({"quota_set": {"id": project_id, **_quota_body(values, version)}})


@router.get("/os-quota-sets/{project_id}/detail")
async def quota_detail(
    request: Request, project_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-sets:detail", {"project_id": project_id})
    lim, used = await _limits_and_usage(core, project_id)
    body = {
        r: {"limit": lim[r], "in_use": used.get(r, 0), "reserved": 0}
        for r in _quota_body(lim, version)
        if r in lim
    }
    return json({"quota_set": {"id": project_id, **body}})


@router.get("/os-quota-sets/{project_id}")
async def quota_show(
    request: Request, project_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-sets:show", {"project_id": project_id})
    lim, _ = await _limits_and_usage(core, project_id)
    return json({"quota_set": {"id": project_id, **_quota_body(lim, version)}})


@router.put("/os-quota-sets/{project_id}")
async def quota_update(
    request: Request, project_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-sets:update", {"project_id": project_id})
    body = await body_of(request, "quota_set")
    body.pop("force", None)
    values: dict[str, int] = {}
    for key, value in body.items():
        if key in _OLD_QUOTAS and version < (2, 36):
            continue
        if key not in RESOURCES:
            raise BadRequest(
                f"Invalid input for field/attribute quota_set. Additional "
                f"properties are not allowed ('{key}' was unexpected)"
            )
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1 or value > 2**31 - 1:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
        values[key] = value
    async with core.write() as session:
        await core.quotas.limits.set_overrides(session, project_id, values)
    lim, _ = await _limits_and_usage(core, project_id)
    return json({"quota_set": _quota_body(lim, version)})


@router.delete("/os-quota-sets/{project_id}")
async def quota_delete(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-sets:delete", {"project_id": project_id})
    async with core.write() as session:
        await core.quotas.limits.delete_overrides(session, project_id)
    return Response(status_code=202)


async def _class_values(core: ComputeCore, name: str) -> dict[str, int]:
    from onestack.compute.quotas import DEFAULT_CLASS

    async with core.read() as session:
        stored = await core.quotas.limits.overrides(session, f"class:{name}")
        if name != "default":  # only the default class counts; others show the defaults
            stored = {**(await core.quotas.limits.overrides(session, DEFAULT_CLASS)), **stored}
    return {r: stored.get(r, core.conf.default_quotas.get(r, -1)) for r in RESOURCES}


@router.get("/os-quota-class-sets/{name}")
async def quota_class(
    request: Request, name: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-class-sets:show")
    values = await _class_values(core, name)
    return json({"quota_class_set": {"id": name, **_quota_body(values, version)}})


@router.put("/os-quota-class-sets/{name}")
async def quota_class_update(
    request: Request, name: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-quota-class-sets:update")
    if not name or len(name) > 255:
        raise BadRequest("Invalid quota class name.")
    body = await body_of(request, "quota_class_set")
    values: dict[str, int] = {}
    for key, value in body.items():
        if key in _OLD_QUOTAS and version < (2, 50):
            continue
        if key not in RESOURCES:
            raise BadRequest(
                f"Invalid input for field/attribute quota_class_set. Additional "
                f"properties are not allowed ('{key}' was unexpected)"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < -1 or value > 2**31 - 1:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
        values[key] = value
    async with core.write() as session:
        await core.quotas.limits.set_overrides(session, f"class:{name}", values)
    return json({"quota_class_set": _quota_body(await _class_values(core, name), version)})


# -- availability zones -----------------------------------------------------------------------
async def _zones(core: ComputeCore) -> dict[str, list[str]]:
    """zone -> hosts of the compute services in it."""
    async with core.read() as session:
        hosts = [
            s.host
            for s in (
                await session.execute(
                    select(ComputeService).where(ComputeService.binary == "nova-compute")
                )
            ).scalars()
        ]
        aggs = list((await session.execute(select(Aggregate))).scalars())
    zones: dict[str, list[str]] = {}
    for host in hosts:
        zone = next(
            (
                a.metadata_["availability_zone"]
                for a in aggs
                if host in (a.hosts or []) and (a.metadata_ or {}).get("availability_zone")
            ),
            core.conf.default_availability_zone,
        )
        zones.setdefault(zone, []).append(host)
    return zones


@router.get("/os-availability-zone")
async def zones(request: Request, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-availability-zone:list")
    found = await _zones(core)
    return json(
        {
            "availabilityZoneInfo": [
                {"zoneName": z, "zoneState": {"available": True}, "hosts": None}
                for z in sorted(found)
            ]
        }
    )


@router.get("/os-availability-zone/detail")
async def zones_detail(request: Request, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-availability-zone:detail")
    found = await _zones(core)
    async with core.read() as session:
        services = list((await session.execute(select(ComputeService))).scalars())
    down = core.conf.service_down_time
    info = []
    internal = {
        s.host: {s.binary: _svc_state(s, down)} for s in services if s.binary != "nova-compute"
    }
    if internal:
        info.append(
            {
                "zoneName": core.conf.internal_service_availability_zone,
                "zoneState": {"available": True},
                "hosts": internal,
            }
        )
    by_host = {s.host: s for s in services if s.binary == "nova-compute"}
    for zone in sorted(found):
        info.append(
            {
                "zoneName": zone,
                "zoneState": {"available": True},
                "hosts": {
                    h: {"nova-compute": _svc_state(by_host[h], down)}
                    for h in found[zone]
                    if h in by_host
                },
            }
        )
    return json({"availabilityZoneInfo": info})


def _svc_state(svc: ComputeService, down: float) -> dict[str, Any]:
    return {
        "available": is_up(svc, down) and not svc.disabled,
        "active": not svc.disabled,
        "updated_at": views.iso_usec(svc.last_seen_up),
    }


# -- services -------------------------------------------------------------------------------
def _service_view(
    svc: ComputeService, core: ComputeCore, zone: str, version: Version
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": svc.uuid if version >= (2, 53) else svc.id,
        "binary": svc.binary,
        "host": svc.host,
        "zone": zone,
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if is_up(svc, core.conf.service_down_time) else "down",
        "updated_at": views.iso_usec(svc.last_seen_up),
        "disabled_reason": svc.disabled_reason,
    }
    if version >= (2, 11):
        body["forced_down"] = svc.forced_down
    return body


async def _service_zones(core: ComputeCore) -> dict[str, str]:
    found = await _zones(core)
    return {h: z for z, hosts in found.items() for h in hosts}


@router.get("/os-services")
async def list_services(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-services:list")
    params = request.query_params
    stmt = select(ComputeService).order_by(ComputeService.id)
    if params.get("host"):
        stmt = stmt.where(ComputeService.host == params["host"])
    if params.get("binary"):
        stmt = stmt.where(ComputeService.binary == params["binary"])
    async with core.read() as session:
        rows = list((await session.execute(stmt)).scalars())
    zones = await _service_zones(core)
    internal = core.conf.internal_service_availability_zone
    return json(
        {
            "services": [
                _service_view(
                    s,
                    core,
                    zones.get(s.host, internal) if s.binary == "nova-compute" else internal,
                    version,
                )
                for s in rows
            ]
        }
    )


@router.put("/os-services/{service_id}")
async def update_service(
    request: Request, service_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-services:update")
    if version < (2, 53):
        if service_id not in ("enable", "disable", "disable-log-reason", "force-down"):
            raise NotFound("Unknown action")
        body = await body_of(request)
        async with core.write() as session:
            svc = (
                await session.execute(
                    select(ComputeService).where(
                        ComputeService.host == body.get("host"),
                        ComputeService.binary == body.get("binary"),
                    )
                )
            ).scalar()
            if svc is None:
                raise NotFound(
                    f"Service {body.get('binary')} on host {body.get('host')} could not be found."
                )
            if service_id == "enable":
                svc.disabled, svc.disabled_reason = False, None
            elif service_id == "force-down":
                svc.forced_down = bool(body.get("forced_down"))
            else:
                svc.disabled = True
                svc.disabled_reason = body.get("disabled_reason")
        core.host_generation += 1
        out = {
            "host": svc.host,
            "binary": svc.binary,
            "status": "disabled" if svc.disabled else "enabled",
        }
        if service_id == "disable-log-reason":
            out["disabled_reason"] = svc.disabled_reason
        if service_id == "force-down":
            out = {"host": svc.host, "binary": svc.binary, "forced_down": svc.forced_down}
        return json({"service": out})
    body = await body_of(request)
    unknown = set(body) - {"status", "disabled_reason", "forced_down"}
    if unknown or not body:
        raise BadRequest("Invalid input for field/attribute service update.")
    if "status" in body and body["status"] not in ("enabled", "disabled"):
        raise BadRequest("Invalid input for field/attribute status.")
    if "disabled_reason" in body and body.get("status") != "disabled":
        raise BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    if "forced_down" in body and not isinstance(body["forced_down"], bool):
        raise BadRequest("Invalid input for field/attribute forced_down.")
    async with core.write() as session:
        svc = (
            await session.execute(select(ComputeService).where(ComputeService.uuid == service_id))
        ).scalar()
        if svc is None:
            raise NotFound(f"Service {service_id} could not be found.")
        if svc.binary != "nova-compute":
            raise BadRequest(
                f"Updating a {svc.binary} service is not supported. Only "
                "nova-compute services can be updated."
            )
        if "status" in body:
            svc.disabled = body["status"] == "disabled"
            svc.disabled_reason = body.get("disabled_reason") if svc.disabled else None
        if "forced_down" in body:
            svc.forced_down = body["forced_down"]
    core.host_generation += 1
    zones = await _service_zones(core)
    return json({"service": _service_view(svc, core, zones.get(svc.host, "nova"), version)})


@router.delete("/os-services/{service_id}")
async def delete_service(
    request: Request, service_id: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-services:delete")
    async with core.write() as session:
        column = ComputeService.id if service_id.isdigit() else ComputeService.uuid
        value: Any = int(service_id) if service_id.isdigit() else service_id
        svc = (await session.execute(select(ComputeService).where(column == value))).scalar()
        if svc is None:
            raise NotFound(f"Service {service_id} could not be found.")
        if svc.binary == "nova-compute":
            busy = (
                await session.execute(
                    select(Instance.id).where(
                        Instance.host == svc.host, Instance.deleted.is_(False)
                    )
                )
            ).first()
            if busy is not None:
                raise Conflict(
                    "Unable to delete compute service that is hosting instances. "
                    "Migrate or delete the instances first."
                )
            nodes = list(
                (
                    await session.execute(select(ComputeNode).where(ComputeNode.host == svc.host))
                ).scalars()
            )
            for node in nodes:
                await session.delete(node)
        await session.delete(svc)
    core.host_generation += 1
    if svc.binary == "nova-compute":
        for node in nodes:
            await core.placement.delete_provider(node.uuid)
    return Response(status_code=204)


# -- hypervisors -----------------------------------------------------------------------------
async def _hypervisors(
    core: ComputeCore,
) -> list[tuple[ComputeNode, ComputeService | None, list[Instance]]]:
    async with core.read() as session:
        nodes = list(
            (await session.execute(select(ComputeNode).order_by(ComputeNode.id))).scalars()
        )
        services = {
            s.host: s
            for s in (
                await session.execute(
                    select(ComputeService).where(ComputeService.binary == "nova-compute")
                )
            ).scalars()
        }
        rows = list(
            (
                await session.execute(
                    select(Instance).where(Instance.deleted.is_(False), Instance.node.is_not(None))
                )
            ).scalars()
        )
    by_node: dict[str, list[Instance]] = {}
    for row in rows:
        by_node.setdefault(row.node or "", []).append(row)
    return [(n, services.get(n.host), by_node.get(n.hypervisor_hostname, [])) for n in nodes]


def _hv_view(
    node: ComputeNode,
    svc: ComputeService | None,
    rows: list[Instance],
    core: ComputeCore,
    version: Version,
    detail: bool,
    with_servers: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": node.uuid if version >= (2, 53) else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if svc and is_up(svc, core.conf.service_down_time) else "down",
        "status": "disabled" if svc and svc.disabled else "enabled",
    }
    if with_servers or (version >= (2, 53) and detail is False and with_servers):
        body["servers"] = [{"name": r.name, "uuid": r.uuid} for r in rows]
    if not detail:
        return body
    used_vcpus = sum(r.vcpus for r in rows)
    used_ram = sum(r.memory_mb for r in rows) + core.conf.reserved_host_memory_mb
    used_disk = sum(r.root_gb for r in rows)
    body.update(
        {
            "host_ip": node.host_ip,
            "hypervisor_type": node.hypervisor_type,
            "hypervisor_version": node.hypervisor_version,
            "service": {
                "host": node.host,
                "id": svc.uuid if svc and version >= (2, 53) else (svc.id if svc else None),
                "disabled_reason": svc.disabled_reason if svc else None,
            },
        }
    )
    if version < (2, 88):
        body.update(
            {
                "vcpus": node.vcpus,
                "memory_mb": node.memory_mb,
                "local_gb": node.local_gb,
                "vcpus_used": used_vcpus,
                "memory_mb_used": used_ram,
                "local_gb_used": used_disk,
                "free_ram_mb": node.memory_mb - used_ram,
                "free_disk_gb": node.local_gb - used_disk,
                "current_workload": sum(1 for r in rows if r.task_state),
                "running_vms": len(rows),
                "disk_available_least": node.local_gb - used_disk,
                "cpu_info": node.cpu_info if version >= (2, 28) else str(node.cpu_info),
            }
        )
    else:
        body["uptime"] = None
    return body


@router.get("/os-hypervisors")
@router.get("/os-hypervisors/detail")
async def list_hypervisors(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    detail = request.url.path.endswith("/detail")
    core.enforce(ctx, "os-hypervisors:list-detail" if detail else "os-hypervisors:list")
    params = request.query_params
    with_servers = version >= (2, 53) and params.get("with_servers", "").lower() in (
        "true",
        "1",
        "yes",
    )
    found = await _hypervisors(core)
    pattern = params.get("hypervisor_hostname_pattern") if version >= (2, 53) else None
    if pattern:
        found = [f for f in found if pattern in f[0].hypervisor_hostname]
        if not found:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    marker = params.get("marker")
    if marker:
        ids = [str(n.uuid if version >= (2, 53) else n.id) for n, _, _ in found]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        found = found[ids.index(marker) + 1 :]
    if params.get("limit"):
        try:
            found = found[: int(params["limit"])]
        except ValueError:
            raise BadRequest("limit must be an integer") from None
    return json(
        {
            "hypervisors": [
                _hv_view(n, s, r, core, version, detail, with_servers) for n, s, r in found
            ]
        }
    )


@router.get("/os-hypervisors/statistics")
async def hypervisor_stats(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    if version >= (2, 88):
        raise NotFound("The resource could not be found.")
    core.enforce(ctx, "os-hypervisors:statistics")
    found = await _hypervisors(core)
    views_ = [_hv_view(n, s, r, core, version, True) for n, s, r in found]
    keys = (
        "vcpus",
        "memory_mb",
        "local_gb",
        "vcpus_used",
        "memory_mb_used",
        "local_gb_used",
        "free_ram_mb",
        "free_disk_gb",
        "current_workload",
        "running_vms",
        "disk_available_least",
    )
    stats = {k: sum(v[k] for v in views_) for k in keys}
    stats["count"] = len(views_)
    return json({"hypervisor_statistics": stats})


@router.get("/os-hypervisors/{hypervisor_id}")
async def show_hypervisor(
    request: Request, hypervisor_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-hypervisors:show")
    with_servers = version >= (2, 53) and request.query_params.get("with_servers", "").lower() in (
        "true",
        "1",
        "yes",
    )
    for n, s, r in await _hypervisors(core):
        if hypervisor_id in (str(n.id), n.uuid):
            return json({"hypervisor": _hv_view(n, s, r, core, version, True, with_servers)})
    raise NotFound(f"Hypervisor {hypervisor_id} could not be found.")


@router.get("/os-hypervisors/{pattern}/servers")
@router.get("/os-hypervisors/{pattern}/search")
async def hypervisor_servers(
    request: Request, pattern: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    if version >= (2, 53):
        raise NotFound("The resource could not be found.")
    core.enforce(ctx, "os-hypervisors:servers")
    found = [(n, s, r) for n, s, r in await _hypervisors(core) if pattern in n.hypervisor_hostname]
    if not found:
        raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    with_servers = request.url.path.endswith("/servers")
    return json(
        {
            "hypervisors": [
                _hv_view(n, s, r, core, version, False, with_servers) for n, s, r in found
            ]
        }
    )


# -- aggregates ------------------------------------------------------------------------------
def _agg_view(agg: Aggregate, version: Version) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": agg.id,
        "name": agg.name,
        "hosts": list(agg.hosts or []),
        "metadata": dict(agg.metadata_ or {}),
        "availability_zone": (agg.metadata_ or {}).get("availability_zone"),
        "created_at": views.iso_usec(agg.created_at),
        "updated_at": views.iso_usec(agg.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    if version >= (2, 41):
        body["uuid"] = agg.uuid
    return body


async def _aggregate(session: Any, agg_id: str) -> Aggregate:
    agg = None
    if agg_id.isdigit():
        agg = (await session.execute(select(Aggregate).where(Aggregate.id == int(agg_id)))).scalar()
    if agg is None:
        raise NotFound(f"Aggregate {agg_id} could not be found.")
    return agg


def _check_agg_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise BadRequest(f"Invalid input for field/attribute {field}.")
    return value


async def _sync_aggregate(core: ComputeCore, agg: Aggregate) -> None:
    """Tell Placement which providers are in the aggregate (member_of)."""
    async with core.read() as session:
        nodes = list((await session.execute(select(ComputeNode))).scalars())
        aggs = list((await session.execute(select(Aggregate))).scalars())
    for node in nodes:
        members = [a.uuid for a in aggs if node.host in (a.hosts or [])]
        await core.placement.set_aggregates(node.uuid, members)


@router.get("/os-aggregates")
async def list_aggregates(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-aggregates:index")
    async with core.read() as session:
        rows = list((await session.execute(select(Aggregate).order_by(Aggregate.id))).scalars())
    return json({"aggregates": [_agg_view(a, version) for a in rows]})


@router.post("/os-aggregates")
async def create_aggregate(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-aggregates:create")
    body = await body_of(request, "aggregate")
    name = _check_agg_name(body.get("name"), "name")
    zone = body.get("availability_zone")
    if zone is not None:
        zone = _check_agg_name(zone, "availability_zone")
    async with core.write() as session:
        taken = (await session.execute(select(Aggregate.id).where(Aggregate.name == name))).first()
        if taken is not None:
            raise Conflict(f"Aggregate {name} already exists.")
        agg = Aggregate(
            uuid=str(uuidlib.uuid4()),
            name=name,
            hosts=[],
            metadata_={"availability_zone": zone} if zone else {},
        )
        session.add(agg)
        await session.flush()
    core.host_generation += 1
    out = _agg_view(agg, version)
    out.pop("hosts")
    out.pop("metadata")
    return json({"aggregate": out})


@router.get("/os-aggregates/{agg_id}")
async def show_aggregate(
    request: Request, agg_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-aggregates:show")
    async with core.read() as session:
        return json({"aggregate": _agg_view(await _aggregate(session, agg_id), version)})


@router.put("/os-aggregates/{agg_id}")
async def update_aggregate(
    request: Request, agg_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-aggregates:update")
    body = await body_of(request, "aggregate")
    if not body or set(body) - {"name", "availability_zone"}:
        raise BadRequest("Invalid input for field/attribute aggregate.")
    async with core.write() as session:
        agg = await _aggregate(session, agg_id)
        if "name" in body:
            agg.name = _check_agg_name(body["name"], "name")
        if "availability_zone" in body:
            meta = dict(agg.metadata_ or {})
            if body["availability_zone"] is None:
                meta.pop("availability_zone", None)
            else:
                meta["availability_zone"] = _check_agg_name(
                    body["availability_zone"], "availability_zone"
                )
            agg.metadata_ = meta
    core.host_generation += 1
    return json({"aggregate": _agg_view(agg, version)})


@router.delete("/os-aggregates/{agg_id}")
async def delete_aggregate(request: Request, agg_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-aggregates:delete")
    async with core.write() as session:
        agg = await _aggregate(session, agg_id)
        if agg.hosts:
            raise BadRequest(f"Cannot remove aggregate {agg_id}: it still has hosts.")
        await session.delete(agg)
    core.host_generation += 1
    return Response(status_code=200)


@router.post("/os-aggregates/{agg_id}/action")
async def aggregate_action(
    request: Request, agg_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    body = await body_of(request)
    name = next(iter(body), "")
    args = body.get(name)
    if name not in ("add_host", "remove_host", "set_metadata") or not isinstance(args, dict):
        raise BadRequest(f"Invalid aggregate action {name!r}.")
    core.enforce(ctx, f"os-aggregates:{name}")
    async with core.write() as session:
        agg = await _aggregate(session, agg_id)
        if name == "set_metadata":
            meta = args.get("metadata")
            if not isinstance(meta, dict):
                raise BadRequest("Invalid input for field/attribute metadata.")
            merged = dict(agg.metadata_ or {})
            for key, value in meta.items():
                if not key or len(key) > 255:
                    raise BadRequest("Invalid input for field/attribute metadata key.")
                if value is None:
                    merged.pop(key, None)
                elif not isinstance(value, str | int | float) or len(str(value)) > 255:
                    raise BadRequest(f"Invalid input for field/attribute metadata {key}.")
                else:
                    merged[key] = str(value)
            agg.metadata_ = merged
        else:
            host = args.get("host")
            if not isinstance(host, str) or not host:
                raise BadRequest("Invalid input for field/attribute host.")
            known = (
                await session.execute(select(ComputeService.id).where(ComputeService.host == host))
            ).first()
            if known is None:
                raise NotFound(f"Compute host {host} could not be found.")
            hosts = list(agg.hosts or [])
            if name == "add_host":
                if host in hosts:
                    raise Conflict(f"Aggregate {agg_id} already has host {host}.")
                agg.hosts = [*hosts, host]
            else:
                if host not in hosts:
                    raise NotFound(f"Cannot remove host {host} in aggregate {agg_id}")
                agg.hosts = [h for h in hosts if h != host]
    core.host_generation += 1
    if name != "set_metadata":
        await _sync_aggregate(core, agg)
    return json({"aggregate": _agg_view(agg, version)})


# -- server groups ---------------------------------------------------------------------------
_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def _group_view(group: ServerGroup, version: Version) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group.uuid,
        "name": group.name,
        "members": list(group.members or []),
        "metadata": {},
    }
    if version >= (2, 64):
        body.pop("metadata")
        body["policy"] = group.policy
        body["rules"] = dict(group.rules or {})
    else:
        body["policies"] = [group.policy]
    if version >= (2, 13):
        body["project_id"] = group.project_id
        body["user_id"] = group.user_id
    return body


@router.get("/os-server-groups")
async def list_groups(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-server-groups:index")
    stmt = select(ServerGroup).order_by(ServerGroup.id)
    if request.query_params.get("all_projects", "").lower() in (
        "true",
        "1",
        "yes",
    ) and core.allowed(ctx, "os-server-groups:index:all_projects"):
        pass
    else:
        stmt = stmt.where(ServerGroup.project_id == ctx.project_id)
    async with core.read() as session:
        rows = list((await session.execute(stmt)).scalars())
    return json({"server_groups": [_group_view(g, version) for g in rows]})


@router.post("/os-server-groups")
async def create_group(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-server-groups:create", {"project_id": ctx.project_id})
    body = await body_of(request, "server_group")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("Invalid input for field/attribute name.")
    rules: dict[str, Any] = {}
    if version >= (2, 64):
        policy = body.get("policy")
        rules = body.get("rules") or {}
        if not isinstance(rules, dict) or set(rules) - {"max_server_per_host"}:
            raise BadRequest("Invalid input for field/attribute rules.")
        if rules and policy != "anti-affinity":
            raise BadRequest("Only anti-affinity policy supports rules.")
        if "max_server_per_host" in rules and (
            isinstance(rules["max_server_per_host"], bool)
            or not isinstance(rules["max_server_per_host"], int)
            or rules["max_server_per_host"] < 1
        ):
            raise BadRequest("Invalid input for field/attribute max_server_per_host.")
    else:
        policies = body.get("policies")
        if not isinstance(policies, list) or len(policies) != 1:
            raise BadRequest("Invalid input for field/attribute policies.")
        policy = policies[0]
        if policy in ("soft-affinity", "soft-anti-affinity") and version < (2, 15):
            raise BadRequest("Invalid input for field/attribute policies.")
    if policy not in _POLICIES:
        raise BadRequest(f"Invalid input for field/attribute policy. Value: {policy}.")
    async with core.write() as session:
        await core.quotas.check_server_groups(session, ctx.project_id or "")
        group = ServerGroup(
            uuid=str(uuidlib.uuid4()),
            name=name,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            policy=policy,
            rules=rules,
            members=[],
        )
        session.add(group)
    return json({"server_group": _group_view(group, version)})


async def _group(
    session: Any, core: ComputeCore, ctx: RequestContext, gid: str, rule: str
) -> ServerGroup:
    group = (await session.execute(select(ServerGroup).where(ServerGroup.uuid == gid))).scalar()
    if group is None or (group.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Instance group {gid} could not be found.")
    core.enforce(ctx, rule, {"project_id": group.project_id})
    return group


@router.get("/os-server-groups/{gid}")
async def show_group(
    request: Request, gid: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        group = await _group(session, core, ctx, gid, "os-server-groups:show")
    return json({"server_group": _group_view(group, version)})


@router.delete("/os-server-groups/{gid}")
async def delete_group(request: Request, gid: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    async with core.write() as session:
        group = await _group(session, core, ctx, gid, "os-server-groups:delete")
        await session.delete(group)
    return Response(status_code=204)


# -- per-server sub-resources -----------------------------------------------------------------
@router.get("/servers/{server_id}/os-instance-actions")
async def list_actions(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await _any_server(session, core, ctx, server_id, "os-instance-actions:list")
        rows = list(
            (
                await session.execute(
                    select(InstanceAction)
                    .where(InstanceAction.instance_uuid == instance.uuid)
                    .order_by(InstanceAction.id.desc())
                )
            ).scalars()
        )
    return json({"instanceActions": [_action_view(a, version, False, core, ctx) for a in rows]})


@router.get("/servers/{server_id}/os-instance-actions/{request_id}")
async def show_action(
    request: Request,
    server_id: str,
    request_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await _any_server(session, core, ctx, server_id, "os-instance-actions:show")
        found = (
            await session.execute(
                select(InstanceAction).where(
                    InstanceAction.instance_uuid == instance.uuid,
                    InstanceAction.request_id == request_id,
                )
            )
        ).scalar()
    if found is None:
        raise NotFound(f"Action {request_id} for instance {server_id} could not be found.")
    return json({"instanceAction": _action_view(found, version, True, core, ctx)})


async def _any_server(
    session: Any, core: ComputeCore, ctx: RequestContext, uuid: str, rule: str
) -> Instance:
    """A server, deleted ones included (instance actions outlive the server)."""
    row = (await session.execute(select(Instance).where(Instance.uuid == uuid))).scalar()
    if row is None or (row.project_id != ctx.project_id and not core.is_admin(ctx)):
        raise NotFound(f"Instance {uuid} could not be found.")
    core.enforce(ctx, rule, {"project_id": row.project_id})
    return row


def _action_view(
    a: InstanceAction, version: Version, events: bool, core: ComputeCore, ctx: RequestContext
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "request_id": a.request_id,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "start_time": views.iso_usec(a.start_time),
        "message": a.message,
    }
    if version >= (2, 58):
        body["updated_at"] = views.iso_usec(a.updated_at)
    if events:
        admin = core.is_admin(ctx)
        out = []
        for e in a.events or []:
            entry = {
                "event": e["event"],
                "start_time": e["start_time"],
                "finish_time": e["finish_time"],
                "result": e["result"],
            }
            if admin:
                entry["traceback"] = e.get("traceback")
                if version >= (2, 62):
                    entry["host"] = e.get("host")
            if version >= (2, 62):
                entry["hostId"] = ""
            if version >= (2, 84) and admin:
                entry["details"] = e.get("traceback")
            out.append(entry)
        body["events"] = out
    return body


@router.get("/servers/{server_id}/metadata")
async def list_metadata(request: Request, server_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "server-metadata:index")
    return json({"metadata": dict(instance.metadata_ or {})})


async def _set_metadata(
    request: Request, server_id: str, ctx: RequestContext, *, replace: bool
) -> Response:
    core = core_of(request)
    body = await body_of(request, "metadata")
    async with core.write() as session:
        instance = await servers.get(
            session,
            core,
            ctx,
            server_id,
            "server-metadata:update_all" if replace else "server-metadata:create",
        )
        servers.check_lock(core, ctx, instance)
        limit = await core.quotas.limit_of(session, instance.project_id, "metadata_items")
        merged = dict(body) if replace else {**(instance.metadata_ or {}), **body}
        instance.metadata_ = servers.check_metadata(merged, limit)
        instance.updated_at = utcnow()
    return json({"metadata": dict(instance.metadata_)})


@router.post("/servers/{server_id}/metadata")
async def update_metadata(
    request: Request, server_id: str, ctx: RequestContext = Caller
) -> Response:
    return await _set_metadata(request, server_id, ctx, replace=False)


@router.put("/servers/{server_id}/metadata")
async def replace_metadata(
    request: Request, server_id: str, ctx: RequestContext = Caller
) -> Response:
    return await _set_metadata(request, server_id, ctx, replace=True)


@router.get("/servers/{server_id}/metadata/{key}")
async def show_meta(
    request: Request, server_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "server-metadata:show")
    if key not in (instance.metadata_ or {}):
        raise NotFound("Metadata item was not found")
    return json({"meta": {key: instance.metadata_[key]}})


@router.put("/servers/{server_id}/metadata/{key}")
async def set_meta(
    request: Request, server_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    body = await body_of(request, "meta")
    if len(body) != 1 or key not in body:
        raise BadRequest("Request body and URI mismatch")
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "server-metadata:update")
        servers.check_lock(core, ctx, instance)
        limit = await core.quotas.limit_of(session, instance.project_id, "metadata_items")
        instance.metadata_ = servers.check_metadata({**(instance.metadata_ or {}), **body}, limit)
    return json({"meta": body})


@router.delete("/servers/{server_id}/metadata/{key}")
async def delete_meta(
    request: Request, server_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "server-metadata:delete")
        servers.check_lock(core, ctx, instance)
        if key not in (instance.metadata_ or {}):
            raise NotFound("Metadata item was not found")
        instance.metadata_ = {k: v for k, v in instance.metadata_.items() if k != key}
    return Response(status_code=204)


def _tags_version(version: Version) -> None:
    if version < (2, 26):
        raise NotFound("The resource could not be found.")


@router.get("/servers/{server_id}/tags")
async def list_tags(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:index")
    return json({"tags": list(instance.tags or [])})


@router.put("/servers/{server_id}/tags")
async def replace_tags(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    body = await body_of(request)
    tags = servers.check_tags(body.get("tags"))
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:update_all")
        instance.tags = list(dict.fromkeys(tags))
        instance.updated_at = utcnow()
    return json({"tags": instance.tags})


@router.delete("/servers/{server_id}/tags")
async def delete_tags(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:delete_all")
        instance.tags = []
    return Response(status_code=204)


@router.get("/servers/{server_id}/tags/{tag}")
async def check_tag(
    request: Request, server_id: str, tag: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:show")
    if tag not in (instance.tags or []):
        raise NotFound(f"Tag '{tag}' could not be found for instance {server_id}.")
    return Response(status_code=204)


@router.put("/servers/{server_id}/tags/{tag}")
async def add_tag(
    request: Request, server_id: str, tag: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    servers.check_tags([tag])
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:update")
        if tag in (instance.tags or []):
            return Response(status_code=204)
        if len(instance.tags or []) >= 50:
            raise BadRequest("The number of tags exceeded the per-server limit 50")
        instance.tags = [*(instance.tags or []), tag]
    root = base(request)
    return Response(
        status_code=201, headers={"Location": f"{root}/v2.1/servers/{server_id}/tags/{tag}"}
    )


@router.delete("/servers/{server_id}/tags/{tag}")
async def delete_tag(
    request: Request, server_id: str, tag: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _tags_version(version)
    core = core_of(request)
    async with core.write() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-tags:delete")
        if tag not in (instance.tags or []):
            raise NotFound(f"Tag '{tag}' could not be found for instance {server_id}.")
        instance.tags = [t for t in instance.tags if t != tag]
    return Response(status_code=204)


@router.get("/servers/{server_id}/topology")
async def topology(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    if version < (2, 78):
        raise NotFound("The resource could not be found.")
    core = core_of(request)
    async with core.read() as session:
        await servers.get(session, core, ctx, server_id, "servers:topology:index")
    return json({"nodes": [], "pagesize_kb": None})


@router.get("/servers/{server_id}/diagnostics")
async def diagnostics(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-server-diagnostics")
    flavor = instance.flavor or {}
    return json(
        {
            "state": states.status(instance.vm_state, None).lower(),
            "driver": "fake",
            "hypervisor": "fake",
            "hypervisor_os": "fake",
            "uptime": 0,
            "config_drive": bool(instance.config_drive),
            "num_cpus": flavor.get("vcpus"),
            "num_nics": 0,
            "num_disks": 1,
            "memory_details": {"maximum": flavor.get("memory_mb"), "used": 0},
            "cpu_details": [],
            "nic_details": [],
            "disk_details": [],
        }
    )


# -- external events ----------------------------------------------------------------------------
_EVENTS = (
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
)


@router.post("/os-server-external-events")
async def external_events(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-server-external-events:create")
    body = await body_of(request)
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise BadRequest("Invalid input for field/attribute events.")
    out = []
    by_host: dict[str, list[dict[str, Any]]] = {}
    async with core.read() as session:
        for event in events:
            if (
                not isinstance(event, dict)
                or event.get("name") not in _EVENTS
                or not isinstance(event.get("server_uuid"), str)
            ):
                raise BadRequest("Invalid input for field/attribute events.")
            found = (
                await session.execute(
                    select(Instance).where(
                        Instance.uuid == event["server_uuid"], Instance.deleted.is_(False)
                    )
                )
            ).scalar()
            result = dict(event)
            result.setdefault("status", "completed")
            if found is None:
                result.update(code=404, status="failed")
            elif not found.host:
                result.update(code=422, status="failed")
            else:
                result["code"] = 200
                by_host.setdefault(found.host, []).append(result)
            out.append(result)
    if all(e["code"] == 404 for e in out):
        raise NotFound("No instances found for any event")
    for host, host_events in by_host.items():
        await core.agents.external_instance_event(ctx, host, host_events)
    code = 200 if all(e["code"] == 200 for e in out) else 207
    return json({"events": out}, status=code)


# -- usage --------------------------------------------------------------------------------------
def _period(params: Any) -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()

    def parse(key: str, default: dt.datetime) -> dt.datetime:
        if not params.get(key):
            return default
        try:
            value = dt.datetime.fromisoformat(params[key].replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"Invalid {key} {params[key]!r}.") from None
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value

    start, end = parse("start", now - dt.timedelta(days=1)), parse("end", now)
    if start > end:
        raise BadRequest("Invalid start time. The start time cannot occur after the end time.")
    return start, end


def _usage(
    rows: list[Instance], start: dt.datetime, end: dt.datetime, project: str
) -> dict[str, Any]:
    servers_usage = []
    totals = {
        "total_vcpus_usage": 0.0,
        "total_memory_mb_usage": 0.0,
        "total_local_gb_usage": 0.0,
        "total_hours": 0.0,
    }
    for r in rows:
        began = max(r.launched_at or r.created_at, start)
        ended = min(r.terminated_at or utcnow(), end)
        if ended <= began:
            continue
        hours = (ended - began).total_seconds() / 3600
        totals["total_hours"] += hours
        totals["total_vcpus_usage"] += hours * r.vcpus
        totals["total_memory_mb_usage"] += hours * r.memory_mb
        totals["total_local_gb_usage"] += hours * r.root_gb
        servers_usage.append(
            {
                "instance_id": r.uuid,
                "name": r.name,
                "hours": hours,
                "vcpus": r.vcpus,
                "memory_mb": r.memory_mb,
                "local_gb": r.root_gb,
                "flavor": (r.flavor or {}).get("name"),
                "tenant_id": r.project_id,
                "started_at": views.iso_usec(began),
                "ended_at": views.iso_usec(r.terminated_at),
                "uptime": int((ended - began).total_seconds()),
                "state": "terminated" if r.deleted else r.vm_state,
            }
        )
    return {
        "tenant_id": project,
        "start": views.iso_usec(start),
        "stop": views.iso_usec(end),
        **totals,
        "server_usages": servers_usage,
    }


@router.get("/os-simple-tenant-usage")
async def usage_all(request: Request, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-simple-tenant-usage:list")
    start, end = _period(request.query_params)
    async with core.read() as session:
        rows = list((await session.execute(select(Instance))).scalars())
    by_project: dict[str, list[Instance]] = {}
    for r in rows:
        by_project.setdefault(r.project_id, []).append(r)
    detailed = request.query_params.get("detailed", "").lower() in ("1", "true", "yes")
    usages = []
    for project, items in by_project.items():
        u = _usage(items, start, end, project)
        if not detailed:
            u.pop("server_usages")
        usages.append(u)
    return json({"tenant_usages": usages})


@router.get("/os-simple-tenant-usage/{project_id}")
async def usage_one(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-simple-tenant-usage:show", {"project_id": project_id})
    start, end = _period(request.query_params)
    async with core.read() as session:
        rows = list(
            (
                await session.execute(select(Instance).where(Instance.project_id == project_id))
            ).scalars()
        )
    return json({"tenant_usage": _usage(rows, start, end, project_id)})


# -- the image proxy (below 2.36) ------------------------------------------------------------------
def _proxy_version(version: Version) -> None:
    if version >= (2, 36):
        raise NotFound("The resource could not be found.")


def _image_view(root: str, image: dict[str, Any], detail: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": image["id"],
        "name": image.get("name"),
        "links": [
            *views.links(root, "images", image["id"]),
            {
                "rel": "alternate",
                "type": "application/vnd.openstack.image",
                "href": f"{root.rsplit('/compute', 1)[0]}/image/images/{image['id']}",
            },
        ],
    }
    if not detail:
        return body
    status = {
        "active": "ACTIVE",
        "queued": "SAVING",
        "saving": "SAVING",
        "deleted": "DELETED",
        "pending_delete": "DELETED",
        "killed": "ERROR",
    }.get(image.get("status", ""), "UNKNOWN")
    skip = {
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "min_disk",
        "min_ram",
        "size",
        "visibility",
        "owner",
        "protected",
        "tags",
        "file",
        "schema",
        "self",
        "checksum",
        "disk_format",
        "container_format",
        "os_hash_algo",
        "os_hash_value",
        "virtual_size",
        "locations",
        "direct_url",
        "os_hidden",
        "stores",
    }
    body.update(
        {
            "status": status,
            "progress": 100 if status == "ACTIVE" else 25,
            "minDisk": image.get("min_disk", 0),
            "minRam": image.get("min_ram", 0),
            "created": image.get("created_at"),
            "updated": image.get("updated_at"),
            "OS-EXT-IMG-SIZE:size": image.get("size"),
            "metadata": {k: str(v) for k, v in image.items() if k not in skip},
        }
    )
    if image.get("instance_uuid"):
        body["server"] = {
            "id": image["instance_uuid"],
            "links": views.links(root, "servers", image["instance_uuid"]),
        }
    return body


@router.get("/images")
@router.get("/images/detail")
async def proxy_images(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _proxy_version(version)
    core = core_of(request)
    core.enforce(ctx, "images")
    params = {
        k: v for k, v in request.query_params.items() if k in ("limit", "marker", "name", "status")
    }
    resp = await core.image_request(ctx, "GET", "/v2/images", params=params)
    if resp.status_code != 200:
        raise BadRequest(f"The Image service answered {resp.status_code}.")
    detail = request.url.path.endswith("/detail")
    root = base(request)
    return json({"images": [_image_view(root, i, detail) for i in resp.json()["images"]]})


async def _proxy_image(core: ComputeCore, ctx: RequestContext, image_id: str) -> dict[str, Any]:
    resp = await core.image_request(ctx, "GET", f"/v2/images/{image_id}")
    if resp.status_code != 200:
        raise NotFound("Image not found.")
    return dict(resp.json())


@router.get("/images/{image_id}")
async def proxy_image(
    request: Request, image_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _proxy_version(version)
    core = core_of(request)
    image = await _proxy_image(core, ctx, image_id)
    return json({"image": _image_view(base(request), image, True)})


@router.delete("/images/{image_id}")
async def proxy_delete(
    request: Request, image_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _proxy_version(version)
    core = core_of(request)
    resp = await core.image_request(ctx, "DELETE", f"/v2/images/{image_id}")
    if resp.status_code == 404:
        raise NotFound("Image not found.")
    if resp.status_code == 403:
        from onestack.common.errors import Forbidden

        raise Forbidden("You are not allowed to delete the image.")
    return Response(status_code=204)


@router.get("/images/{image_id}/metadata")
async def proxy_metadata(
    request: Request, image_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    _proxy_version(version)
    core = core_of(request)
    image = await _proxy_image(core, ctx, image_id)
    return json({"metadata": _image_view(base(request), image, True)["metadata"]})


# -- extensions (the CLI still asks) --------------------------------------------------------------
@router.get("/extensions")
async def extensions(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"extensions": []})
