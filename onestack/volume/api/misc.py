"""Limits, quota sets, availability zones, services, capabilities, pools."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import services, volumes
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller
from onestack.volume.quotas import PER_TYPE, RESOURCES, type_names

router = protected_router()


@router.get("/limits")
async def limits(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "limits_extension:used_limits")
    project = ctx.project_id or ""
    async with core.read() as session:
        found = await core.quotas.limits.limits(project, RESOURCES, session=session)
        used = await core.quotas.usage_of(session, project)
    absolute = {
        "maxTotalVolumes": found["volumes"],
        "maxTotalSnapshots": found["snapshots"],
        "maxTotalVolumeGigabytes": found["gigabytes"],
        "maxTotalBackups": found["backups"],
        "maxTotalBackupGigabytes": found["backup_gigabytes"],
        "totalVolumesUsed": used["volumes"],
        "totalSnapshotsUsed": used["snapshots"],
        "totalGigabytesUsed": used["gigabytes"],
        "totalBackupsUsed": used["backups"],
        "totalBackupGigabytesUsed": used["backup_gigabytes"],
    }
    return json({"limits": {"rate": [], "absolute": absolute}})


async def _quota_set(core: Any, target: str, usage: bool) -> dict[str, Any]:
    async with core.read() as session:
        names = [*RESOURCES, *[f"{r}_{t}" for t in await type_names(session) for r in PER_TYPE]]
        found = await core.quotas.limits.limits(target, names, session=session)
        used = await core.quotas.usage_of(session, target) if usage else {}
    body: dict[str, Any] = {"id": target}
    for name in names:
        if usage:
            body[name] = {
                "limit": found[name],
                "in_use": used.get(name, 0),
                "reserved": 0,
                "allocated": 0,
            }
        else:
            body[name] = found[name]
    return body


@router.get("/os-quota-sets/{target}/defaults")
async def quota_defaults(request: Request, target: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:quotas:show", {"project_id": target})
    async with core.read() as session:
        names = [*RESOURCES, *[f"{r}_{t}" for t in await type_names(session) for r in PER_TYPE]]
    body: dict[str, Any] = {"id": target}
    body.update({n: core.conf.quotas.get(n, -1) for n in names})
    return json({"quota_set": body})


@router.get("/os-quota-sets/{target}")
async def quota_show(request: Request, target: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:quotas:show", {"project_id": target})
    usage = request.query_params.get("usage", "").lower() in ("1", "true", "yes")
    return json({"quota_set": await _quota_set(core, target, usage)})


@router.put("/os-quota-sets/{target}")
async def quota_update(request: Request, target: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:quotas:update", {"project_id": target})
    body = await body_of(request, "quota_set")
    values = {}
    async with core.read() as session:
        known = set(RESOURCES) | {f"{r}_{t}" for t in await type_names(session) for r in PER_TYPE}
    for key, value in body.items():
        if key in ("id", "tenant_id"):
            continue
        if key not in known:
            raise BadRequest(f"Bad key(s) in quota set: {key}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise BadRequest(f"Quota {key} must be an integer of -1 or more.") from None
        if isinstance(value, bool) or number < -1:
            raise BadRequest(f"Quota {key} must be an integer of -1 or more.")
        values[key] = number
    async with core.write() as session:
        await core.quotas.limits.set_overrides(session, target, values)
    full = await _quota_set(core, target, False)
    full.pop("id")
    return json({"quota_set": full})


@router.delete("/os-quota-sets/{target}")
async def quota_delete(request: Request, target: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:quotas:delete", {"project_id": target})
    async with core.write() as session:
        await core.quotas.limits.delete_overrides(session, target)
    return Response(status_code=200)


@router.get("/os-availability-zone")
async def zones(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:availability_zone_list")
    rows = await services.records(core, "cinder-volume")
    live = {r.availability_zone for r in rows if services.is_up(core, r) and not r.disabled}
    async with core.read() as session:
        known = await volumes.zones(core, session)
    return json(
        {
            "availabilityZoneInfo": [
                {"zoneName": z, "zoneState": {"available": z in live}} for z in sorted(known)
            ]
        }
    )


@router.get("/os-services")
async def service_list(request: Request) -> Response:
    core, ctx, version = await caller(request)
    core.enforce(ctx, "volume_extension:services:index")
    rows = await services.records(
        core, request.query_params.get("binary"), request.query_params.get("host")
    )
    out = []
    for row in rows:
        item = {
            "binary": row.binary,
            "host": row.host,
            "zone": row.availability_zone,
            "status": "disabled" if row.disabled else "enabled",
            "state": "up" if services.is_up(core, row) else "down",
            "updated_at": row.last_seen_up.isoformat(timespec="microseconds"),
            "disabled_reason": row.disabled_reason,
        }
        if version >= "3.7":
            item["cluster"] = None
        if version >= "3.49" and row.binary == "cinder-volume":
            item["backend_state"] = "up" if services.is_up(core, row) else "down"
        out.append(item)
    return json({"services": out})


@router.put("/os-services/{what}")
async def service_update(request: Request, what: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:services:update")
    body = await body_of(request)
    if what not in ("enable", "disable", "disable-log-reason"):
        raise NotFound("Unknown action")
    host, binary = body.get("host"), body.get("binary")
    from onestack.volume.models import ServiceRecord

    async with core.write() as session:
        row = await session.get(ServiceRecord, (host, binary))
        if row is None:
            raise NotFound(f"Service {binary} on host {host} could not be found.")
        row.disabled = what != "enable"
        row.disabled_reason = body.get("disabled_reason") if what == "disable-log-reason" else None
    return json(
        {
            "host": host,
            "binary": binary,
            "status": "disabled" if row.disabled else "enabled",
            "disabled": row.disabled,
            "disabled_reason": row.disabled_reason,
        }
    )


@router.get("/capabilities/{host}")
async def capabilities(request: Request, host: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:capabilities")
    rows = await services.records(core, "cinder-volume", host.split("#")[0])
    if not rows:
        raise NotFound(f"Service {host} could not be found.")
    caps = rows[0].capabilities or {}
    pools = caps.get("pools", [{}])
    props = {
        k: {"title": k, "description": k, "type": type(v).__name__}
        for k, v in pools[0].items()
        if k not in ("pool_name",)
    }
    return json(
        {
            "namespace": f"OS::Storage::Capabilities::{host}",
            "vendor_name": caps.get("vendor_name"),
            "volume_backend_name": caps.get("volume_backend_name"),
            "pool_name": pools[0].get("pool_name"),
            "driver_version": caps.get("driver_version"),
            "storage_protocol": caps.get("storage_protocol"),
            "display_name": None,
            "description": None,
            "visibility": None,
            "replication_targets": [],
            "properties": props,
        }
    )


@router.get("/scheduler-stats/get_pools")
async def get_pools(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "scheduler_extension:scheduler_stats:get_pools")
    detail = request.query_params.get("detail", "").lower() in ("1", "true", "yes")
    pools = await services.pools(core)
    name = request.query_params.get("volume_backend_name")
    if name:
        pools = [p for p in pools if p["capabilities"].get("volume_backend_name") == name]
    return json(
        {
            "pools": [
                {"name": p["name"], **({"capabilities": p["capabilities"]} if detail else {})}
                for p in pools
            ]
        }
    )
