"""Neutron's quota API: per-project limits over configured defaults, with usage details."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network.errors import bad_request
from onestack.network.models import (
    QUOTAS,
    FloatingIP,
    Network,
    Port,
    RBACPolicy,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)

MODELS = {
    "network": Network,
    "subnet": Subnet,
    "port": Port,
    "router": Router,
    "floatingip": FloatingIP,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
    "rbac_policy": RBACPolicy,
    "subnetpool": SubnetPool,
}


def _target(project_id: str) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id}


async def _limits(mgr: Any, session: AsyncSession, project_id: str) -> dict[str, int]:
    return await mgr.limits.limits(project_id, list(mgr.conf.quotas), session=session)


async def show(mgr: Any, ctx: RequestContext, project_id: str) -> dict[str, Any]:
    mgr.enforce(ctx, "get_quota", _target(project_id))
    async with mgr.read() as session:
        return await _limits(mgr, session, project_id)


def defaults(mgr: Any, ctx: RequestContext, project_id: str) -> dict[str, Any]:
    mgr.enforce(ctx, "get_quota", _target(project_id))
    return dict(mgr.conf.quotas)


async def details(mgr: Any, ctx: RequestContext, project_id: str) -> dict[str, Any]:
    mgr.enforce(ctx, "get_quota", _target(project_id))
    async with mgr.read() as session:
        limits = await _limits(mgr, session, project_id)
        out = {}
        for name, limit in limits.items():
            model = MODELS[name]
            used = (
                await session.execute(
                    select(func.count()).select_from(model).where(model.project_id == project_id)
                )
            ).scalar_one()
            out[name] = {"limit": limit, "used": used, "reserved": 0}
    return out


async def update(mgr: Any, ctx: RequestContext, project_id: str, body: Any) -> dict[str, Any]:
    mgr.enforce(ctx, "update_quota", _target(project_id))
    if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
        raise bad_request("Resource body required: {'quota': {...}}.")
    values: dict[str, int] = {}
    for name, raw in body["quota"].items():
        if name in ("force", "check_limit"):
            continue
        if name not in mgr.conf.quotas:
            raise bad_request(f"Unrecognized attribute(s) '{name}'")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise bad_request(
                f"Invalid input for {name}. Reason: '{raw}' is not a valid integer."
            ) from None
        if isinstance(raw, bool) or value < -1:
            raise bad_request(
                f"Invalid input for {name}. Reason: '{raw}' should be an integer of -1 or more."
            )
        values[name] = value

    async def work(session: AsyncSession) -> dict[str, Any]:
        await mgr.limits.set_overrides(session, project_id, values)
        return await _limits(mgr, session, project_id)

    out = await mgr.transaction(work)
    await mgr.notify(ctx, "quota.update.end", {"project_id": project_id, "quota": out})
    return out


async def reset(mgr: Any, ctx: RequestContext, project_id: str) -> None:
    mgr.enforce(ctx, "delete_quota", _target(project_id))

    async def work(session: AsyncSession) -> None:
        await mgr.limits.delete_overrides(session, project_id)

    await mgr.transaction(work)


async def list_all(mgr: Any, ctx: RequestContext) -> list[dict[str, Any]]:
    mgr.enforce(ctx, "update_quota", {})
    async with mgr.read() as session:
        projects = list(
            (await session.execute(select(QUOTAS.overrides.c.project_id).distinct())).scalars()
        )
        out = []
        for project in projects:
            limits = await _limits(mgr, session, project)
            out.append({**limits, "project_id": project, "tenant_id": project})
    return out
