"""Routers: an external gateway (SNAT on or off, fixed addresses on the external network),
interfaces by subnet or port, static routes."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing, networks, ports, scheduling, subnets
from onestack.network.attributes import (
    Attr,
    any_dict,
    boolean,
    cidr,
    dict_of,
    ip_address,
    list_of,
    parse_create,
    resource,
    string,
    uuid,
)
from onestack.network.errors import bad_request, conflict, forbidden, not_found
from onestack.network.models import FloatingIP, IPAllocation, Network, Port, Router, Subnet, new_id

INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"
_route = dict_of({"destination": cidr, "nexthop": ip_address}, required=("destination", "nexthop"))

RES = resource(
    "router",
    "routers",
    Router,
    Attr("admin_state_up", "admin_state_up", put=True, default=True, convert=boolean),
    Attr("status", "status", post=False),
    Attr(
        "external_gateway_info",
        None,
        put=True,
        default=None,
        convert=lambda v: None if v is None else any_dict(v),
    ),
    Attr(
        "routes",
        "routes",
        put=True,
        default=list,
        convert=list_of(_route),
        filter=False,
        sort=False,
    ),
    Attr("distributed", "distributed", put=True, default=False, convert=boolean),
    Attr("ha", "ha", put=True, default=False, convert=boolean),
    Attr(
        "availability_zone_hints",
        "availability_zone_hints",
        default=list,
        convert=list_of(string(255)),
        filter=False,
        sort=False,
    ),
    Attr("availability_zones", None, post=False),
    Attr("flavor_id", None, default=None),
    Attr("enable_ndp_proxy", None, default=None),
)


async def get_visible(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    router_id: str,
    *,
    for_update: bool = False,
) -> Router:
    stmt = select(Router).where(Router.id == router_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(Router.project_id == ctx.project_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("RouterNotFound", "Router", router_id)
    return row


async def render_many(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    rows: list[Router],
    fields: list[str] | None = None,
) -> list[dict[str, Any]]:
    gw_ports = [r.gw_port_id for r in rows if r.gw_port_id]
    gw_ips: dict[str, list[dict[str, str]]] = defaultdict(list)
    if gw_ports:
        for port_id, subnet_id, address in await session.execute(
            select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address).where(
                IPAllocation.port_id.in_(gw_ports)
            )
        ):
            gw_ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})
    tags = await crud.tags_of(session, [r.id for r in rows])
    see_admin = mgr.check(ctx, "get_router:distributed", {})
    out = []
    for row in rows:
        item = crud.standard(row, tags[row.id])
        gateway = None
        if row.external_network_id:
            gateway = {
                "network_id": row.external_network_id,
                "enable_snat": row.enable_snat,
                "external_fixed_ips": sorted(
                    gw_ips.get(row.gw_port_id or "", []), key=lambda i: i["ip_address"]
                ),
            }
        item.update(
            admin_state_up=row.admin_state_up,
            status=row.status,
            external_gateway_info=gateway,
            routes=list(row.routes or []),
            availability_zone_hints=list(row.availability_zone_hints or []),
            availability_zones=list(row.availability_zone_hints or [])
            or list(mgr.conf.default_availability_zones),
            flavor_id=None,
            enable_ndp_proxy=False,
        )
        if see_admin:
            item.update(distributed=row.distributed, ha=row.ha)
        out.append(listing.select_fields(item, fields or ()))
    return out


async def _render(
    mgr: Any, session: AsyncSession, ctx: RequestContext, row: Router
) -> dict[str, Any]:
    return (await render_many(mgr, session, ctx, [row]))[0]


# -- gateway ------------------------------------------------------------------------------------
_gateway = dict_of(
    {
        "network_id": uuid,
        "enable_snat": boolean,
        "external_fixed_ips": list_of(dict_of({"subnet_id": uuid, "ip_address": ip_address})),
    },
    required=("network_id",),
)


async def _set_gateway(
    mgr: Any, session: AsyncSession, ctx: RequestContext, row: Router, info: dict[str, Any] | None
) -> None:
    tgt = {"project_id": row.project_id}
    if info:
        info = _gateway(info)
        if "external_fixed_ips" in info and not mgr.check(
            ctx, "create_router:external_gateway_info:external_fixed_ips", tgt
        ):
            raise forbidden(
                "(rule:create_router:external_gateway_info:external_fixed_ips) is "
                "disallowed by policy"
            )
    current = row.external_network_id
    wanted = info["network_id"] if info else None
    if current and (wanted != current or (info and "external_fixed_ips" in info)):
        await _clear_gateway(mgr, session, row)
    if info is None:
        return
    if "enable_snat" in info:
        row.enable_snat = info["enable_snat"]
    if row.external_network_id == wanted:
        return
    network = await networks.get_visible(mgr, session, ctx, wanted)
    rbac = (await networks.shared_with(session, ctx, [network.id])).get(network.id, set())
    if not (network.router_external or "access_as_external" in rbac):
        raise bad_request(
            f"Bad router request: Network {network.id} is not a valid external network.",
            "BadRequest",
        )
    values = parse_create(
        ports.RES,
        {
            "network_id": network.id,
            "device_owner": GATEWAY,
            "device_id": row.id,
            "admin_state_up": True,
            "name": "",
            **({"fixed_ips": info["external_fixed_ips"]} if info.get("external_fixed_ips") else {}),
        },
    )
    values["project_id"] = ""
    port = await ports.create_in(mgr, session, ctx, values, network=network, internal=True)
    row.gw_port_id = port.id
    row.external_network_id = network.id


async def _clear_gateway(mgr: Any, session: AsyncSession, row: Router) -> None:
    if row.external_network_id:
        used = (
            await session.execute(
                select(FloatingIP.id).where(FloatingIP.router_id == row.id).limit(1)
            )
        ).first()
        if used is not None:
            raise conflict(
                "RouterExternalGatewayInUseByFloatingIp",
                f"Gateway cannot be updated for router {row.id}, since a gateway to "
                "external network is required by one or more floating IPs.",
            )
    if row.gw_port_id:
        gw = (await session.execute(select(Port).where(Port.id == row.gw_port_id))).scalar()
        row.gw_port_id = None
        await session.flush()
        if gw is not None:
            await ports.delete_in(session, gw)
    row.external_network_id = None


# -- interfaces ---------------------------------------------------------------------------------
async def interface_subnets(session: AsyncSession, router_id: str) -> list[Subnet]:
    return list(
        (
            await session.execute(
                select(Subnet)
                .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
                .join(Port, Port.id == IPAllocation.port_id)
                .where(Port.device_id == router_id, Port.device_owner == INTERFACE)
            )
        ).scalars()
    )


async def _check_routes(session: AsyncSession, row: Router, routes: list[dict[str, Any]]) -> None:
    nets = [ipaddress.ip_network(s.cidr) for s in await interface_subnets(session, row.id)]
    if row.gw_port_id:
        for c in (
            await session.execute(
                select(Subnet.cidr)
                .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
                .where(IPAllocation.port_id == row.gw_port_id)
            )
        ).scalars():
            nets.append(ipaddress.ip_network(c))
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        if not any(hop in n for n in nets):
            raise bad_request(
                f"Invalid format for routes: {routes}, the nexthop {hop} is not "
                "connected with router",
                "InvalidRoutes",
            )


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(Router).where(Router.project_id == project)
        )
    ).scalar_one()
    return {"router": n}


async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    tgt = {"project_id": project, "tenant_id": project}
    mgr.enforce(ctx, "create_router", tgt)
    crud.enforce_attrs(
        mgr,
        ctx,
        "create",
        "router",
        {k: v for k, v in values.items() if v},
        ("distributed", "ha"),
        tgt,
    )
    gateway = values.pop("external_gateway_info", None)
    if values.get("routes"):
        raise bad_request("Invalid input for operation: routes cannot be set on router creation.")

    async def work(session: AsyncSession) -> dict[str, Any]:
        await mgr.quotas.enforce(session, project, {"router": 1}, usage=count_usage)
        row = Router(id=new_id(), project_id=project)
        crud.assign(row, RES, values)
        session.add(row)
        await session.flush()
        await scheduling.schedule(mgr, session, scheduling.L3, row.id)
        if gateway:
            await _set_gateway(mgr, session, ctx, row, gateway)
        await session.flush()
        return await _render(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "create", {"router": out})
    return out


async def list_routers(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(Router)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(Router.project_id == ctx.project_id)
        stmt = listing.apply_filters(RES, stmt, query.filters)
        rows = await listing.paginate(session, RES, stmt, query)
        items = await render_many(mgr, session, ctx, rows, query.fields)
    return {"routers": items, **listing.links(request, RES, rows, query)}


async def show(mgr: Any, ctx: RequestContext, router_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, router_id)
        return (await render_many(mgr, session, ctx, [row], fields))[0]


async def update(
    mgr: Any, ctx: RequestContext, router_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, router_id, for_update=True)
        tgt = {"project_id": row.project_id}
        mgr.enforce(ctx, "update_router", tgt)
        crud.enforce_attrs(mgr, ctx, "update", "router", values, ("distributed", "ha"), tgt)
        crud.check_revision(if_match, row)
        if "external_gateway_info" in values:
            info = values.pop("external_gateway_info")
            await _set_gateway(mgr, session, ctx, row, info or None)
        if "routes" in values:
            if len(values["routes"]) > mgr.conf.max_routes:
                raise bad_request(
                    f"Number of routes exceeds the limit {mgr.conf.max_routes}.", "RoutesExhausted"
                )
            await _check_routes(session, row, values["routes"])
        crud.assign(row, RES, values)
        crud.bump(row)
        await session.flush()
        return await _render(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "update", {"router": out})
    return out


async def delete_router(
    mgr: Any, ctx: RequestContext, router_id: str, if_match: str | None
) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_visible(mgr, session, ctx, router_id, for_update=True)
        mgr.enforce(ctx, "delete_router", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        busy = (
            await session.execute(
                select(Port.id)
                .where(Port.device_id == row.id, Port.device_owner == INTERFACE)
                .limit(1)
            )
        ).first()
        if busy is not None:
            raise conflict("RouterInUse", f"Router {row.id} still has ports")
        await _clear_gateway(mgr, session, row)
        await crud.drop_tags(session, row.id)
        await session.execute(delete(Router).where(Router.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "delete", {"router_id": router_id})


async def add_interface(mgr: Any, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not (body.get("subnet_id") or body.get("port_id")):
        raise bad_request("Bad router request: Either subnet_id or port_id must be specified.")
    if body.get("subnet_id") and body.get("port_id"):
        raise bad_request("Bad router request: Cannot specify both subnet-id and port-id.")

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, router_id, for_update=True)
        mgr.enforce(ctx, "add_router_interface", {"project_id": row.project_id})
        existing = await interface_subnets(session, row.id)
        if body.get("port_id"):
            port = await ports.get_visible(
                mgr, session, ctx, uuid(body["port_id"]), for_update=True
            )
            if port.device_id or port.device_owner:
                raise conflict(
                    "PortInUse",
                    f"Unable to complete operation on port {port.id} "
                    f"for network {port.network_id}. Port already has an attached "
                    f"device {port.device_id}.",
                )
            ips = list(
                (
                    await session.execute(
                        select(IPAllocation).where(IPAllocation.port_id == port.id)
                    )
                ).scalars()
            )
            if not ips:
                raise bad_request(
                    "Bad router request: Router port must have at least one fixed IP."
                )
            new_subnets = [await subnets.get_visible(mgr, session, ctx, a.subnet_id) for a in ips]
            _check_overlap(existing, new_subnets, row.id)
            port.device_id, port.device_owner = row.id, INTERFACE
            await ports.bind(mgr, session, port)
            subnet = new_subnets[0]
        else:
            subnet = await subnets.get_visible(mgr, session, ctx, uuid(body["subnet_id"]))
            if not subnet.gateway_ip:
                raise bad_request(
                    "Bad router request: Subnet for router interface must have a gateway IP."
                )
            if any(s.id == subnet.id for s in existing):
                raise bad_request(
                    f"Bad router request: Router already has a port on subnet {subnet.id}."
                )
            _check_overlap(existing, [subnet], row.id)
            network = (
                await session.execute(select(Network).where(Network.id == subnet.network_id))
            ).scalar_one()
            if (
                network.project_id != row.project_id
                and not mgr.is_admin(ctx)
                and not (network.shared)
            ):
                raise not_found("SubnetNotFound", "Subnet", subnet.id)
            values = parse_create(
                ports.RES,
                {
                    "network_id": subnet.network_id,
                    "device_owner": INTERFACE,
                    "device_id": row.id,
                    "name": "",
                    "fixed_ips": [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
                },
            )
            values["project_id"] = row.project_id
            port = await ports.create_in(mgr, session, ctx, values, network=network, internal=True)
        crud.bump(row)
        return {
            "id": row.id,
            "tenant_id": row.project_id,
            "project_id": row.project_id,
            "port_id": port.id,
            "network_id": port.network_id,
            "subnet_id": subnet.id,
            "subnet_ids": [subnet.id],
            "tags": [],
        }

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "interface.create", {"router_interface": out})
    return out


def _check_overlap(existing: list[Subnet], new: list[Subnet], router_id: str) -> None:
    for subnet in new:
        net = ipaddress.ip_network(subnet.cidr)
        for other in existing:
            if other.id != subnet.id and ipaddress.ip_network(other.cidr).overlaps(net):
                raise bad_request(
                    f"Bad router request: Cidr {subnet.cidr} of subnet "
                    f"{subnet.id} overlaps with cidr {other.cidr} of subnet "
                    f"{other.id}."
                )


async def remove_interface(
    mgr: Any, ctx: RequestContext, router_id: str, body: Any
) -> dict[str, Any]:
    if not isinstance(body, dict) or not (body.get("subnet_id") or body.get("port_id")):
        raise bad_request("Bad router request: Either subnet_id or port_id must be specified.")

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, router_id, for_update=True)
        mgr.enforce(ctx, "remove_router_interface", {"project_id": row.project_id})
        stmt = select(Port).where(Port.device_id == row.id, Port.device_owner == INTERFACE)
        if body.get("port_id"):
            stmt = stmt.where(Port.id == body["port_id"])
        else:
            stmt = stmt.where(
                Port.id.in_(
                    select(IPAllocation.port_id).where(IPAllocation.subnet_id == body["subnet_id"])
                )
            )
        port = (await session.execute(stmt)).scalars().first()
        if port is None:
            if body.get("port_id"):
                raise not_found(
                    "RouterInterfaceNotFound",
                    f"Router {row.id} does not have an interface with id",
                    body["port_id"],
                )
            raise not_found(
                "RouterInterfaceNotFoundForSubnet",
                f"Router {row.id} has no interface on subnet",
                body["subnet_id"],
            )
        subnet_ids = list(
            (
                await session.execute(
                    select(IPAllocation.subnet_id).where(IPAllocation.port_id == port.id)
                )
            ).scalars()
        )
        in_use = (
            await session.execute(
                select(FloatingIP.id)
                .join(IPAllocation, IPAllocation.port_id == FloatingIP.port_id)
                .where(FloatingIP.router_id == row.id, IPAllocation.subnet_id.in_(subnet_ids))
                .limit(1)
            )
        ).first()
        if in_use is not None:
            raise conflict(
                "RouterInterfaceInUseByFloatingIP",
                f"Router interface for subnet {subnet_ids[0]} on router {row.id} "
                "cannot be deleted, as it is required by one or more floating IPs.",
            )
        await ports.delete_in(session, port)
        crud.bump(row)
        return {
            "id": row.id,
            "tenant_id": row.project_id,
            "project_id": row.project_id,
            "port_id": port.id,
            "network_id": port.network_id,
            "subnet_id": subnet_ids[0] if subnet_ids else None,
            "subnet_ids": subnet_ids,
            "tags": [],
        }

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "interface.delete", {"router_interface": out})
    return out


async def change_routes(
    mgr: Any, ctx: RequestContext, router_id: str, body: Any, add: bool
) -> dict[str, Any]:
    """The extraroute-atomic ``add_extraroutes`` / ``remove_extraroutes``."""
    if not isinstance(body, dict) or not isinstance(body.get("router"), dict):
        raise bad_request("Resource body required: {'router': {'routes': [...]}}.")
    routes = list_of(_route)(body["router"].get("routes"))

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, router_id, for_update=True)
        mgr.enforce(ctx, "update_router", {"project_id": row.project_id})
        current = list(row.routes or [])
        if add:
            await _check_routes(session, row, routes)
            merged = current + [r for r in routes if r not in current]
        else:
            merged = [r for r in current if r not in routes]
        row.routes = merged
        crud.bump(row)
        await session.flush()
        return await _render(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "router", "update", {"router": out})
    return out
