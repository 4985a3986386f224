"""Auto-allocated topology ("get me a network"): a project's network, subnet (from the
default subnet pool) and router (on the default external network), made once.

Concurrent calls are safe: the first claims the project's row (its primary key admits one),
builds the topology through the ordinary operations and records it; the others wait for the
record. A claim whose builder died is taken over after ``STALE`` seconds, and a builder that
fails removes what it made and its claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common import errors
from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.network import networks, routers, subnets
from onestack.network.attributes import parse_create
from onestack.network.errors import conflict
from onestack.network.models import AutoAllocation, Network, SubnetPool

LOG = logging.getLogger(__name__)
STALE = 120.0
NAMES = {
    "network": "auto_allocated_network",
    "subnet": "auto_allocated_subnet_v{}",
    "router": "auto_allocated_router",
}


def _target(project_id: str) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id}


def _topology(row: AutoAllocation) -> dict[str, Any]:
    return {"id": row.network_id, "project_id": row.project_id, "tenant_id": row.project_id}


async def _requirements(mgr: Any) -> tuple[str, list[SubnetPool]]:
    async with mgr.read() as session:
        external = (
            await session.execute(
                select(Network.id).where(Network.is_default, Network.router_external)
            )
        ).scalar()
        pools = list(
            (
                await session.execute(
                    select(SubnetPool).where(SubnetPool.is_default).order_by(SubnetPool.ip_version)
                )
            ).scalars()
        )
    if external is None:
        raise conflict(
            "AutoAllocationFailure", "Deployment error: No default router:external network."
        )
    if not pools:
        raise conflict("AutoAllocationFailure", "Deployment error: No default subnetpools defined.")
    return external, pools


async def get(
    mgr: Any, ctx: RequestContext, project_id: str, dry_run: bool = False
) -> dict[str, Any]:
    mgr.enforce(ctx, "get_auto_allocated_topology", _target(project_id))
    if dry_run:
        await _requirements(mgr)
        return {"id": "dry-run=pass", "project_id": project_id, "tenant_id": project_id}
    deadline = asyncio.get_running_loop().time() + STALE + 30
    while True:
        async with mgr.read() as session:
            row = (
                await session.execute(
                    select(AutoAllocation).where(AutoAllocation.project_id == project_id)
                )
            ).scalar()
        if row is not None and row.network_id:
            return _topology(row)
        if row is not None and (utcnow() - row.claimed_at).total_seconds() > STALE:
            await _drop_claim(mgr, project_id, row.claimed_at)
            continue
        if row is None:
            mgr.enforce(ctx, "create_auto_allocated_topology", _target(project_id))
            external, pools = await _requirements(mgr)
            if await _claim(mgr, project_id):
                return await _build(mgr, ctx, project_id, external, pools)
        if asyncio.get_running_loop().time() > deadline:
            raise errors.ServiceUnavailable(
                "The auto-allocated topology is still being made; try again shortly."
            )
        await asyncio.sleep(0.05)


async def _claim(mgr: Any, project_id: str) -> bool:
    async def work(session: AsyncSession) -> bool:
        try:
            async with session.begin_nested():
                session.add(AutoAllocation(project_id=project_id, claimed_at=utcnow()))
                await session.flush()
        except IntegrityError:
            return False
        return True

    try:
        return await mgr.transaction(work)
    except errors.Conflict:
        return False


async def _drop_claim(mgr: Any, project_id: str, claimed_at: Any = None) -> None:
    async def work(session: AsyncSession) -> None:
        stmt = delete(AutoAllocation).where(
            AutoAllocation.project_id == project_id, AutoAllocation.network_id.is_(None)
        )
        if claimed_at is not None:
            stmt = stmt.where(AutoAllocation.claimed_at == claimed_at)
        await session.execute(stmt)

    await mgr.transaction(work)


async def _build(
    mgr: Any, ctx: RequestContext, project_id: str, external: str, pools: list[SubnetPool]
) -> dict[str, Any]:
    made: dict[str, Any] = {}
    try:
        network = await networks.create(
            mgr,
            ctx,
            parse_create(networks.RES, {"name": NAMES["network"], "project_id": project_id}),
        )
        made["network"] = network["id"]
        subnet_ids = []
        for pool in pools:
            subnet = await subnets.create(
                mgr,
                ctx,
                parse_create(
                    subnets.RES,
                    {
                        "name": NAMES["subnet"].format(pool.ip_version),
                        "network_id": network["id"],
                        "subnetpool_id": pool.id,
                        "ip_version": pool.ip_version,
                        "project_id": project_id,
                        **(
                            {"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}
                            if pool.ip_version == 6
                            else {}
                        ),
                    },
                ),
            )
            subnet_ids.append(subnet["id"])
        router = await routers.create(
            mgr,
            ctx,
            parse_create(
                routers.RES,
                {
                    "name": NAMES["router"],
                    "project_id": project_id,
                    "external_gateway_info": {"network_id": external},
                },
            ),
        )
        made["router"] = router["id"]
        for subnet_id in subnet_ids:
            await routers.add_interface(mgr, ctx, router["id"], {"subnet_id": subnet_id})
            made.setdefault("interfaces", []).append(subnet_id)

        async def record(session: AsyncSession) -> AutoAllocation:
            await session.execute(
                update(AutoAllocation)
                .where(AutoAllocation.project_id == project_id)
                .values(network_id=network["id"], router_id=router["id"])
            )
            return (
                await session.execute(
                    select(AutoAllocation).where(AutoAllocation.project_id == project_id)
                )
            ).scalar_one()

        row = await mgr.transaction(record)
    except BaseException:
        await _undo(mgr, ctx, made)
        await _drop_claim(mgr, project_id)
        raise
    await mgr.notify(ctx, "auto_allocated_topology.create.end", {"topology": _topology(row)})
    return _topology(row)


async def _undo(mgr: Any, ctx: RequestContext, made: dict[str, Any]) -> None:
    try:
        for subnet_id in made.get("interfaces", []):
            await routers.remove_interface(mgr, ctx, made["router"], {"subnet_id": subnet_id})
        if "router" in made:
            await routers.delete_router(mgr, ctx, made["router"], None)
        if "network" in made:
            await networks.delete_network(mgr, ctx, made["network"], None)
    except Exception:
        LOG.warning("could not remove a half-made auto-allocated topology %s", made, exc_info=True)


async def delete_topology(mgr: Any, ctx: RequestContext, project_id: str) -> None:
    mgr.enforce(ctx, "delete_auto_allocated_topology", _target(project_id))
    async with mgr.read() as session:
        row = (
            await session.execute(
                select(AutoAllocation).where(AutoAllocation.project_id == project_id)
            )
        ).scalar()
    if row is None or not row.network_id:
        from onestack.network.errors import not_found

        raise not_found("TopologyNotFound", "Auto-allocated topology for project", project_id)
    from onestack.network.models import Port, Subnet

    async with mgr.read() as session:
        subnet_ids = list(
            (
                await session.execute(select(Subnet.id).where(Subnet.network_id == row.network_id))
            ).scalars()
        )
        ports = list(
            (
                await session.execute(
                    select(Port.id)
                    .where(
                        Port.network_id == row.network_id,
                        Port.device_owner.not_in(["network:router_interface", "network:dhcp"]),
                    )
                    .limit(1)
                )
            ).scalars()
        )
    if ports:
        raise conflict(
            "NetworkInUse",
            f"Unable to complete operation on network "
            f"{row.network_id}. There are one or more ports still in use on the "
            "network.",
        )
    if row.router_id:
        for subnet_id in subnet_ids:
            with contextlib.suppress(errors.NotFound):
                await routers.remove_interface(mgr, ctx, row.router_id, {"subnet_id": subnet_id})
        with contextlib.suppress(errors.NotFound):
            await routers.delete_router(mgr, ctx, row.router_id, None)
    with contextlib.suppress(errors.NotFound):
        await networks.delete_network(mgr, ctx, row.network_id, None)

    async def work(session: AsyncSession) -> None:
        await session.execute(delete(AutoAllocation).where(AutoAllocation.project_id == project_id))

    await mgr.transaction(work)
