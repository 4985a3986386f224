"""The smaller areas: address groups, segments, availability zones and IP availability."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, ipam, listing, networks
from onestack.network.attributes import Attr, cidr, integer, list_of, resource, string, uuid
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.ml2.types import SegmentSpec
from onestack.network.models import (
    AddressGroup,
    IPAllocation,
    Network,
    RBACPolicy,
    SecurityGroupRule,
    Segment,
    Subnet,
)
from onestack.network.models import new_id as _new_id

# -- address groups -----------------------------------------------------------------------------
GROUPS = resource(
    "address_group",
    "address_groups",
    AddressGroup,
    Attr("addresses", "addresses", default=list, convert=list_of(cidr), filter=False, sort=False),
)


def _ag_visible(ctx: RequestContext) -> Any:
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == "address_group",
        RBACPolicy.target_project.in_([t for t in ("*", ctx.project_id) if t]),
    )
    return or_(AddressGroup.project_id == ctx.project_id, AddressGroup.id.in_(rbac))


async def _ag_get(
    mgr: Any, session: AsyncSession, ctx: RequestContext, group_id: str
) -> AddressGroup:
    stmt = select(AddressGroup).where(AddressGroup.id == group_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_ag_visible(ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("AddressGroupNotFound", "Address group", group_id)
    return row


def ag_view(row: AddressGroup) -> dict[str, Any]:
    out = crud.standard(row)
    out["addresses"] = sorted(row.addresses or [])
    return out


async def create_ag(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    mgr.enforce(ctx, "create_address_group", {"project_id": project})

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = AddressGroup(id=_new_id(), project_id=project)
        crud.assign(row, GROUPS, values)
        row.addresses = sorted(set(row.addresses or []))
        session.add(row)
        await session.flush()
        return ag_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_group", "create", {"address_group": out})
    return out


async def list_ag(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(GROUPS, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(AddressGroup)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_ag_visible(ctx))
        stmt = listing.apply_filters(GROUPS, stmt, query.filters)
        rows = await listing.paginate(session, GROUPS, stmt, query)
    return {
        "address_groups": [listing.select_fields(ag_view(r), query.fields) for r in rows],
        **listing.links(request, GROUPS, rows, query),
    }


async def show_ag(
    mgr: Any, ctx: RequestContext, group_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        return listing.select_fields(ag_view(await _ag_get(mgr, session, ctx, group_id)), fields)


async def update_ag(
    mgr: Any, ctx: RequestContext, group_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await _ag_get(mgr, session, ctx, group_id)
        mgr.enforce(ctx, "update_address_group", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        crud.assign(row, GROUPS, values)
        crud.bump(row)
        return ag_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_group", "update", {"address_group": out})
    return out


async def change_addresses(
    mgr: Any, ctx: RequestContext, group_id: str, body: Any, add: bool
) -> dict[str, Any]:
    if not isinstance(body, dict) or "addresses" not in body:
        raise bad_request("Resource body required: {'addresses': [...]}.")
    addresses = list_of(cidr)(body["addresses"])

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await _ag_get(mgr, session, ctx, group_id)
        mgr.enforce(ctx, "update_address_group", {"project_id": row.project_id})
        current = set(row.addresses or [])
        if not add and not set(addresses) <= current:
            raise not_found(
                "AddressesNotFound",
                f"Addresses {sorted(set(addresses) - current)} not found in the address group",
                group_id,
            )
        row.addresses = sorted(current | set(addresses) if add else current - set(addresses))
        crud.bump(row)
        return ag_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_group", "update", {"address_group": out})
    return out


async def delete_ag(mgr: Any, ctx: RequestContext, group_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await _ag_get(mgr, session, ctx, group_id)
        mgr.enforce(ctx, "delete_address_group", {"project_id": row.project_id})
        used = (
            await session.execute(
                select(SecurityGroupRule.id)
                .where(SecurityGroupRule.remote_address_group_id == row.id)
                .limit(1)
            )
        ).first()
        if used is not None:
            raise conflict(
                "AddressGroupInUse", f"Address group {row.id} is in use by a security group rule."
            )
        await session.execute(delete(RBACPolicy).where(RBACPolicy.object_id == row.id))
        await session.execute(delete(AddressGroup).where(AddressGroup.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_group", "delete", {"address_group_id": group_id})


# -- segments -----------------------------------------------------------------------------------
SEGMENTS = resource(
    "segment",
    "segments",
    Segment,
    Attr("network_id", "network_id", convert=uuid),
    Attr("network_type", "network_type", convert=string(32)),
    Attr("physical_network", "physical_network", default=None, convert=string(64, nullable=True)),
    Attr("segmentation_id", "segmentation_id", default=None, convert=integer(0, nullable=True)),
    tags=False,
    name_default=None,
)
SEGMENTS.attrs.pop("project_id")
SEGMENTS.attrs.pop("tenant_id")
SEGMENTS.attrs["name"] = Attr(
    "name", "name", put=True, default=None, convert=string(255, nullable=True)
)


def segment_view(row: Segment) -> dict[str, Any]:
    return {
        "id": row.id,
        "network_id": row.network_id,
        "name": row.name,
        "description": row.description,
        "network_type": row.network_type,
        "physical_network": row.physical_network,
        "segmentation_id": row.segmentation_id,
        **crud.timestamps(row),
    }


async def _segment(session: AsyncSession, segment_id: str) -> Segment:
    row = (await session.execute(select(Segment).where(Segment.id == segment_id))).scalar()
    if row is None:
        raise not_found("SegmentNotFound", "Segment", segment_id)
    return row


async def create_segment(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    mgr.enforce(ctx, "create_segment", {})

    async def work(session: AsyncSession) -> dict[str, Any]:
        network = await networks.get_visible(mgr, session, ctx, values["network_id"])
        index = (
            await session.execute(
                select(func.count()).select_from(Segment).where(Segment.network_id == network.id)
            )
        ).scalar_one()
        spec = SegmentSpec(
            values["network_type"], values.get("physical_network"), values.get("segmentation_id")
        )
        row = await networks.add_segment(
            mgr,
            session,
            network.id,
            spec,
            index,
            name=values.get("name"),
            description=values.get("description") or "",
        )
        crud.bump(network)
        return segment_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "segment", "create", {"segment": out})
    return out


async def list_segments(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    mgr.enforce(ctx, "get_segment", {})
    query = listing.parse(SEGMENTS, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = listing.apply_filters(SEGMENTS, select(Segment), query.filters)
        rows = await listing.paginate(session, SEGMENTS, stmt, query)
    return {
        "segments": [listing.select_fields(segment_view(r), query.fields) for r in rows],
        **listing.links(request, SEGMENTS, rows, query),
    }


async def show_segment(
    mgr: Any, ctx: RequestContext, segment_id: str, fields: list[str]
) -> dict[str, Any]:
    mgr.enforce(ctx, "get_segment", {})
    async with mgr.read() as session:
        return listing.select_fields(segment_view(await _segment(session, segment_id)), fields)


async def update_segment(
    mgr: Any, ctx: RequestContext, segment_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    mgr.enforce(ctx, "update_segment", {})

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await _segment(session, segment_id)
        crud.check_revision(if_match, row)
        crud.assign(row, SEGMENTS, values)
        crud.bump(row)
        return segment_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "segment", "update", {"segment": out})
    return out


async def delete_segment(
    mgr: Any, ctx: RequestContext, segment_id: str, if_match: str | None
) -> None:
    mgr.enforce(ctx, "delete_segment", {})

    async def work(session: AsyncSession) -> None:
        row = await _segment(session, segment_id)
        used = (
            await session.execute(select(Subnet.id).where(Subnet.segment_id == row.id).limit(1))
        ).first()
        if used is not None:
            raise conflict(
                "SegmentInUse",
                f"Segment '{row.id}' cannot be deleted while it is used by a subnet.",
            )
        count = (
            await session.execute(
                select(func.count())
                .select_from(Segment)
                .where(Segment.network_id == row.network_id)
            )
        ).scalar_one()
        if count <= 1:
            raise conflict(
                "SegmentInUse",
                f"Segment '{row.id}' is the network's last one; delete the network instead.",
            )
        await session.execute(delete(Segment).where(Segment.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "segment", "delete", {"segment_id": segment_id})


# -- availability zones, IP availability --------------------------------------------------------
def availability_zones(mgr: Any, ctx: RequestContext) -> list[dict[str, Any]]:
    mgr.enforce(ctx, "get_availability_zone", {})
    return [
        {"name": zone, "resource": resource, "state": "available"}
        for zone in mgr.conf.default_availability_zones
        for resource in ("network", "router")
    ]


async def ip_availability(
    mgr: Any, ctx: RequestContext, network_id: str | None, params: Any
) -> list[dict[str, Any]]:
    mgr.enforce(ctx, "get_network_ip_availability", {})
    async with mgr.read() as session:
        stmt = select(Network)
        if network_id:
            stmt = stmt.where(Network.id == network_id)
        for key, column in (
            ("network_name", Network.name),
            ("project_id", Network.project_id),
            ("tenant_id", Network.project_id),
        ):
            if params.get(key):
                stmt = stmt.where(column == params[key])
        rows = list((await session.execute(stmt.order_by(Network.id))).scalars())
        if network_id and not rows:
            raise not_found("NetworkNotFound", "Network", network_id)
        used: dict[str, int] = defaultdict(int)
        for subnet_id, n in await session.execute(
            select(IPAllocation.subnet_id, func.count()).group_by(IPAllocation.subnet_id)
        ):
            used[subnet_id] = n
        subnets: dict[str, list[Subnet]] = defaultdict(list)
        for subnet in (await session.execute(select(Subnet))).scalars():
            subnets[subnet.network_id].append(subnet)
    out = []
    for row in rows:
        if params.get("ip_version"):
            mine = [s for s in subnets[row.id] if str(s.ip_version) == params["ip_version"]]
        else:
            mine = subnets[row.id]
        per = [
            {
                "subnet_id": s.id,
                "subnet_name": s.name,
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "total_ips": ipam.pool_size(s),
                "used_ips": used[s.id],
            }
            for s in mine
        ]
        out.append(
            {
                "network_id": row.id,
                "network_name": row.name,
                "project_id": row.project_id,
                "tenant_id": row.project_id,
                "total_ips": sum(p["total_ips"] for p in per),
                "used_ips": sum(p["used_ips"] for p in per),
                "subnet_ip_availability": per,
            }
        )
    return out


_ = ipaddress
