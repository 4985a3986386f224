"""Networks: provider segments through the ML2 type drivers, sharing and external access
through RBAC, MTU from the segment types."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing, qos
from onestack.network.attributes import (
    MISSING,
    Attr,
    any_dict,
    boolean,
    integer,
    list_of,
    resource,
    string,
)
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.ml2.types import SegmentSpec
from onestack.network.models import (
    FloatingIP,
    Network,
    Port,
    RBACPolicy,
    Router,
    Segment,
    Subnet,
    new_id,
)
from onestack.network.policies import ADMIN_GET, ADMIN_SET

PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
#: Ports the network owns itself; they go with the network.
NETWORK_OWNED = ("network:dhcp",)

RES = resource(
    "network",
    "networks",
    Network,
    Attr("admin_state_up", "admin_state_up", put=True, default=True, convert=boolean),
    Attr("status", "status", post=False),
    Attr("shared", "shared", put=True, default=False, convert=boolean),
    Attr("router:external", "router_external", put=True, default=False, convert=boolean),
    Attr("is_default", "is_default", put=True, default=False, convert=boolean),
    Attr("mtu", "mtu", put=True, default=None, convert=integer(68, nullable=True)),
    Attr("port_security_enabled", "port_security_enabled", put=True, default=True, convert=boolean),
    Attr("dns_domain", "dns_domain", put=True, default="", convert=string(255)),
    Attr(
        "availability_zone_hints",
        "availability_zone_hints",
        default=list,
        convert=list_of(string(255)),
        filter=False,
        sort=False,
    ),
    Attr(
        "qos_policy_id", "qos_policy_id", put=True, default=None, convert=string(36, nullable=True)
    ),
    Attr("provider:network_type", None, default=None),
    Attr("provider:physical_network", None, default=None),
    Attr("provider:segmentation_id", None, default=None),
    Attr("segments", None, default=None, convert=list_of(any_dict)),
    Attr("subnets", None, post=False),
    Attr("availability_zones", None, post=False),
)


# -- visibility ---------------------------------------------------------------------------------
def rbac_targets(ctx: RequestContext) -> list[str]:
    return [t for t in ("*", ctx.project_id) if t]


def visible_clause(ctx: RequestContext) -> Any:
    """Networks a non-admin sees: its own, shared, external, or shared with it by RBAC."""
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == "network", RBACPolicy.target_project.in_(rbac_targets(ctx))
    )
    return or_(
        Network.project_id == ctx.project_id,
        Network.shared,
        Network.router_external,
        Network.id.in_(rbac),
    )


async def get_visible(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    network_id: str,
    *,
    for_update: bool = False,
) -> Network:
    stmt = select(Network).where(Network.id == network_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(visible_clause(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("NetworkNotFound", "Network", network_id)
    return row


async def shared_with(
    session: AsyncSession, ctx: RequestContext, ids: list[str]
) -> dict[str, set[str]]:
    """network id -> the RBAC actions that give the caller's project access."""
    found: dict[str, set[str]] = defaultdict(set)
    if not ids or not ctx.project_id:
        return found
    rows = await session.execute(
        select(RBACPolicy.object_id, RBACPolicy.action).where(
            RBACPolicy.object_type == "network",
            RBACPolicy.object_id.in_(ids),
            RBACPolicy.target_project.in_(rbac_targets(ctx)),
        )
    )
    for object_id, action in rows:
        found[object_id].add(action)
    return found


def target(ctx: RequestContext, row: Network, rbac: set[str] | None = None) -> dict[str, Any]:
    rbac = rbac or set()
    return {
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "shared": row.shared or "access_as_shared" in rbac,
        "external": row.router_external or "access_as_external" in rbac,
    }


# -- views --------------------------------------------------------------------------------------
async def render_many(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    rows: list[Network],
    fields: list[str] | None = None,
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    want = set(fields or ())
    subnets: dict[str, list[str]] = defaultdict(list)
    segments: dict[str, list[Segment]] = defaultdict(list)
    if not want or "subnets" in want:
        for start in range(0, len(ids), 500):
            for sid, nid in await session.execute(
                select(Subnet.id, Subnet.network_id).where(
                    Subnet.network_id.in_(ids[start : start + 500])
                )
            ):
                subnets[nid].append(sid)
    see_provider = mgr.check(ctx, "get_network:provider:network_type", {})
    if see_provider and (not want or want & {*PROVIDER, "segments"}):
        for start in range(0, len(ids), 500):
            for seg in (
                await session.execute(
                    select(Segment)
                    .where(Segment.network_id.in_(ids[start : start + 500]))
                    .order_by(Segment.segment_index)
                )
            ).scalars():
                segments[seg.network_id].append(seg)
    tags = await crud.tags_of(session, ids) if not want or "tags" in want else {}
    rbac = await shared_with(session, ctx, ids) if not mgr.is_admin(ctx) else {}
    out = []
    for row in rows:
        item = view(
            mgr,
            ctx,
            row,
            subnets[row.id],
            segments.get(row.id, []) if see_provider else None,
            tags.get(row.id, []),
            rbac.get(row.id, set()),
        )
        out.append(listing.select_fields(item, fields or ()))
    return out


def view(
    mgr: Any,
    ctx: RequestContext,
    row: Network,
    subnet_ids: list[str],
    segments: list[Segment] | None,
    tags: list[str],
    rbac: set[str],
) -> dict[str, Any]:
    out = crud.standard(row, tags)
    out.update(
        admin_state_up=row.admin_state_up,
        status=row.status,
        subnets=sorted(subnet_ids),
        shared=row.shared or "access_as_shared" in rbac,
        **{"router:external": row.router_external or "access_as_external" in rbac},
        is_default=row.is_default,
        mtu=row.mtu,
        port_security_enabled=row.port_security_enabled,
        dns_domain=row.dns_domain,
        availability_zone_hints=list(row.availability_zone_hints or []),
        availability_zones=list(row.availability_zone_hints or [])
        or list(mgr.conf.default_availability_zones),
        ipv4_address_scope=None,
        ipv6_address_scope=None,
        l2_adjacency=True,
        qos_policy_id=row.qos_policy_id,
    )
    if segments is not None:
        if len(segments) == 1:
            seg = segments[0]
            out["provider:network_type"] = seg.network_type
            out["provider:physical_network"] = seg.physical_network
            out["provider:segmentation_id"] = seg.segmentation_id
        elif segments:
            out["segments"] = [
                {
                    "provider:network_type": s.network_type,
                    "provider:physical_network": s.physical_network,
                    "provider:segmentation_id": s.segmentation_id,
                }
                for s in segments
            ]
    return out


async def render_one(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    row: Network,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    return (await render_many(mgr, session, ctx, [row], fields))[0]


# -- segments -----------------------------------------------------------------------------------
def _segment_specs(values: dict[str, Any]) -> list[SegmentSpec] | None:
    provider = {k: values.get(k) for k in PROVIDER}
    segments = values.get("segments")
    if segments and any(v is not None for v in provider.values()):
        raise bad_request(
            "Invalid input for operation: Segments and provider values cannot both be set.",
            "SegmentsSetInConjunctionWithProviders",
        )
    if segments:
        return [_spec(s) for s in segments]
    if any(v is not None for v in provider.values()):
        return [_spec(provider)]
    return None


def _spec(raw: dict[str, Any]) -> SegmentSpec:
    network_type = raw.get("provider:network_type")
    if not network_type:
        raise bad_request("Invalid input for operation: provider:network_type required.")
    seg_id = raw.get("provider:segmentation_id")
    if seg_id is not None:
        seg_id = integer(0)(seg_id)
    physnet = raw.get("provider:physical_network") or None
    return SegmentSpec(str(network_type), physnet, seg_id)


async def add_segment(
    mgr: Any,
    session: AsyncSession,
    network_id: str,
    spec: SegmentSpec | None,
    index: int,
    name: str | None = None,
    description: str = "",
) -> Segment:
    seg = Segment(
        id=new_id(),
        network_id=network_id,
        network_type="pending",
        segment_index=index,
        name=name,
        description=description,
    )
    session.add(seg)
    await session.flush()
    if spec is None:
        spec = await mgr.types.allocate_tenant(session, seg.id)
    else:
        spec = await mgr.types.reserve_provider(session, spec, seg.id)
    seg.network_type = spec.network_type
    seg.physical_network = spec.physical_network
    seg.segmentation_id = spec.segmentation_id
    return seg


# -- operations ---------------------------------------------------------------------------------
async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    tgt = {"project_id": project, "tenant_id": project}
    mgr.enforce(ctx, "create_network", tgt)
    given = {k: v for k, v in values.items() if v not in (None, False, [], MISSING)}
    crud.enforce_attrs(mgr, ctx, "create", "network", given, ADMIN_SET["network"], tgt)
    specs = _segment_specs(values)

    async def work(session: AsyncSession) -> dict[str, Any]:
        await mgr.quotas.enforce(session, project, {"network": 1}, usage=count_usage)
        await qos.check_usable(mgr, session, ctx, values.get("qos_policy_id"))
        row = Network(id=new_id(), project_id=project)
        crud.assign(row, RES, {k: v for k, v in values.items() if k != "mtu"})
        session.add(row)
        await session.flush()
        segs = [
            await add_segment(mgr, session, row.id, s, i) for i, s in enumerate(specs or [None])
        ]
        max_mtu = min(mgr.types.mtu(s.network_type) for s in segs)
        if values.get("mtu") is not None and values["mtu"] > max_mtu:
            raise bad_request(
                f"Invalid input for operation: Requested MTU is too big, maximum is {max_mtu}."
            )
        row.mtu = values.get("mtu") or max_mtu
        if row.shared:
            session.add(_wildcard(row, "access_as_shared"))
        if row.router_external:
            session.add(_wildcard(row, "access_as_external"))
        if row.is_default and not row.router_external:
            raise bad_request("Invalid input for operation: is_default requires router:external.")
        if row.is_default:
            await _one_default(session, row)
        await session.flush()
        return await render_one(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "network", "create", {"network": out})
    return out


def _wildcard(row: Network, action: str) -> RBACPolicy:
    return RBACPolicy(
        id=new_id(),
        project_id=row.project_id,
        object_type="network",
        object_id=row.id,
        action=action,
        target_project="*",
    )


async def _one_default(session: AsyncSession, row: Network) -> None:
    other = (
        await session.execute(select(Network.id).where(Network.is_default, Network.id != row.id))
    ).first()
    if other is not None:
        raise conflict(
            "DefaultExternalNetworkExists",
            f"Unable to set network {row.id} as default: network {other[0]} is "
            "already the default external network.",
        )


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(Network).where(Network.project_id == project)
        )
    ).scalar_one()
    return {"network": n}


async def list_networks(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    mgr.enforce(ctx, "get_network", {"project_id": ctx.project_id, "tenant_id": ctx.project_id})
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(Network)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(visible_clause(ctx))
        special = {
            "shared": lambda s, v: _bool_or_rbac(ctx, s, v, "shared", "access_as_shared"),
            "router:external": lambda s, v: _bool_or_rbac(
                ctx, s, v, "router_external", "access_as_external"
            ),
            **{k: _provider_filter(k) for k in PROVIDER},
        }
        stmt = listing.apply_filters(RES, stmt, query.filters, special)
        rows = await listing.paginate(session, RES, stmt, query)
        items = await render_many(mgr, session, ctx, rows, query.fields)
    return {"networks": items, **listing.links(request, RES, rows, query)}


def _bool_or_rbac(ctx: RequestContext, stmt: Any, raw: list[str], column: str, action: str) -> Any:
    wanted = boolean(raw[0])
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == "network",
        RBACPolicy.action == action,
        RBACPolicy.target_project.in_(rbac_targets(ctx)),
    )
    clause = or_(getattr(Network, column), Network.id.in_(rbac))
    return stmt.where(clause if wanted else ~clause)


def _provider_filter(key: str) -> Any:
    column = {
        "provider:network_type": Segment.network_type,
        "provider:physical_network": Segment.physical_network,
        "provider:segmentation_id": Segment.segmentation_id,
    }[key]

    def apply(stmt: Any, raw: list[str]) -> Any:
        values: list[Any] = [int(v) for v in raw if v.isdigit()] if key.endswith("_id") else raw
        return stmt.where(Network.id.in_(select(Segment.network_id).where(column.in_(values))))

    return apply


async def show(mgr: Any, ctx: RequestContext, network_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, network_id)
        rbac = (await shared_with(session, ctx, [row.id])).get(row.id, set())
        mgr.enforce(ctx, "get_network", target(ctx, row, rbac))
        return await render_one(mgr, session, ctx, row, fields)


async def update(
    mgr: Any, ctx: RequestContext, network_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, network_id, for_update=True)
        tgt = target(ctx, row)
        _enforce_owner(mgr, ctx, "update_network", row, tgt)
        crud.enforce_attrs(mgr, ctx, "update", "network", values, ADMIN_SET["network"], tgt)
        crud.check_revision(if_match, row)
        await qos.check_usable(mgr, session, ctx, values.get("qos_policy_id"))
        if "mtu" in values and values["mtu"] is not None:
            segs = (
                await session.execute(
                    select(Segment.network_type).where(Segment.network_id == row.id)
                )
            ).scalars()
            max_mtu = min([mgr.types.mtu(t) for t in segs] or [mgr.conf.global_physnet_mtu])
            if values["mtu"] > max_mtu:
                raise bad_request(
                    f"Invalid input for operation: Requested MTU is too big, maximum is {max_mtu}."
                )
        elif "mtu" in values:
            values.pop("mtu")
        if "shared" in values and values["shared"] != row.shared:
            await _set_wildcard(session, row, "access_as_shared", values["shared"])
        if "router:external" in values and values["router:external"] != row.router_external:
            await _set_wildcard(session, row, "access_as_external", values["router:external"])
            if not values["router:external"]:
                row.is_default = False
        crud.assign(row, RES, values)
        if row.is_default and "is_default" in values:
            if not row.router_external:
                raise bad_request(
                    "Invalid input for operation: is_default requires router:external."
                )
            await _one_default(session, row)
        crud.bump(row)
        await session.flush()
        return await render_one(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "network", "update", {"network": out})
    return out


def _enforce_owner(mgr: Any, ctx: RequestContext, rule: str, row: Any, tgt: dict[str, Any]) -> None:
    mgr.enforce(ctx, rule, tgt)


async def _set_wildcard(session: AsyncSession, row: Network, action: str, on: bool) -> None:
    if on:
        session.add(_wildcard(row, action))
        return
    await check_unshare(session, row, action, "*")
    await session.execute(
        delete(RBACPolicy).where(
            RBACPolicy.object_type == "network",
            RBACPolicy.object_id == row.id,
            RBACPolicy.action == action,
            RBACPolicy.target_project == "*",
        )
    )


async def check_unshare(
    session: AsyncSession, row: Network, action: str, target_project: str
) -> None:
    """409 when taking access away would strand another project's ports or floating IPs."""
    if action == "access_as_shared":
        stmt = select(Port.id).where(Port.network_id == row.id, Port.project_id != row.project_id)
        if target_project != "*":
            stmt = stmt.where(Port.project_id == target_project)
        if (await session.execute(stmt.limit(1))).first() is not None:
            raise conflict(
                "InvalidSharedSetting",
                f"Unable to reconfigure sharing settings for network {row.id}. "
                "Multiple tenants are using it.",
            )
    else:
        fip = select(FloatingIP.id).where(FloatingIP.floating_network_id == row.id)
        gw = select(Router.id).where(Router.external_network_id == row.id)
        if target_project != "*":
            fip = fip.where(FloatingIP.project_id == target_project)
            gw = gw.where(Router.project_id == target_project)
        if (await session.execute(fip.limit(1))).first() is not None or (
            await session.execute(gw.limit(1))
        ).first() is not None:
            raise conflict(
                "RbacPolicyInUse",
                f"RBAC policy on object {row.id} cannot be removed because other "
                "objects depend on it.",
            )


async def delete_network(
    mgr: Any, ctx: RequestContext, network_id: str, if_match: str | None
) -> None:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, network_id, for_update=True)
        mgr.enforce(ctx, "delete_network", target(ctx, row))
        crud.check_revision(if_match, row)
        busy = (
            await session.execute(
                select(Port.id)
                .where(Port.network_id == row.id, Port.device_owner.not_in(NETWORK_OWNED))
                .limit(1)
            )
        ).first()
        if busy is not None:
            raise conflict(
                "NetworkInUse",
                f"Unable to complete operation on network {row.id}. There are one or "
                "more ports still in use on the network.",
            )
        snapshot = {
            "network_id": row.id,
            "network": {"id": row.id, "name": row.name, "project_id": row.project_id},
        }
        from onestack.network.models import AutoAllocation, Tag

        subnet_ids = list(
            (await session.execute(select(Subnet.id).where(Subnet.network_id == row.id))).scalars()
        )
        await session.execute(delete(Tag).where(Tag.resource_id.in_([row.id, *subnet_ids])))
        await session.execute(delete(Port).where(Port.network_id == row.id))
        await session.execute(delete(Subnet).where(Subnet.network_id == row.id))
        await session.execute(delete(Segment).where(Segment.network_id == row.id))
        await session.execute(
            delete(RBACPolicy).where(
                RBACPolicy.object_type == "network", RBACPolicy.object_id == row.id
            )
        )
        await session.execute(delete(AutoAllocation).where(AutoAllocation.network_id == row.id))
        await session.execute(delete(Network).where(Network.id == row.id))
        return snapshot

    payload = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "network", "delete", payload)


__all__ = ["ADMIN_GET", "RES", "create", "delete_network", "list_networks", "show", "update"]
