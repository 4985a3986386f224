"""Subnets: IPv4 and IPv6 ranges of a network, with pools, gateway, routes and DNS servers;
from a given CIDR or carved out of a subnet pool."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, ipam, listing, networks, scheduling
from onestack.network.attributes import (
    ABSENT,
    MISSING,
    Attr,
    boolean,
    cidr_or_none,
    dict_of,
    integer,
    ip_address,
    ip_or_none,
    list_of,
    one_of,
    resource,
    string,
    uuid,
    uuid_or_none,
)
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import IPAllocation, Network, Port, Subnet, SubnetPool, new_id

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
_route = dict_of(
    {"destination": lambda v: cidr_or_none(v), "nexthop": ip_address},
    required=("destination", "nexthop"),
)
_pool = dict_of({"start": ip_address, "end": ip_address}, required=("start", "end"))

RES = resource(
    "subnet",
    "subnets",
    Subnet,
    Attr("network_id", "network_id", convert=uuid),
    Attr("ip_version", "ip_version", default=ABSENT, convert=one_of(4, 6)),
    Attr("cidr", "cidr", default=None, convert=lambda v: v),
    Attr("gateway_ip", "gateway_ip", put=True, default=ABSENT, convert=ip_or_none),
    Attr("enable_dhcp", "enable_dhcp", put=True, default=True, convert=boolean),
    Attr("ipv6_ra_mode", "ipv6_ra_mode", default=None, convert=one_of(*IPV6_MODES, nullable=True)),
    Attr(
        "ipv6_address_mode",
        "ipv6_address_mode",
        default=None,
        convert=one_of(*IPV6_MODES, nullable=True),
    ),
    Attr(
        "allocation_pools",
        "allocation_pools",
        put=True,
        default=None,
        convert=list_of(_pool),
        filter=False,
        sort=False,
    ),
    Attr(
        "dns_nameservers",
        "dns_nameservers",
        put=True,
        default=list,
        convert=list_of(ip_address, unique=True),
        filter=False,
        sort=False,
    ),
    Attr(
        "host_routes",
        "host_routes",
        put=True,
        default=list,
        convert=list_of(_route),
        filter=False,
        sort=False,
    ),
    Attr(
        "service_types",
        "service_types",
        put=True,
        default=list,
        convert=list_of(string(255)),
        filter=False,
        sort=False,
    ),
    Attr("subnetpool_id", "subnetpool_id", default=None, convert=uuid_or_none),
    Attr("use_default_subnetpool", None, default=False, convert=boolean),
    Attr("prefixlen", None, default=None, convert=integer(0, 128, nullable=True)),
    Attr("segment_id", "segment_id", put=True, default=None, convert=uuid_or_none),
    Attr("dns_publish_fixed_ip", "dns_publish_fixed_ip", put=True, default=False, convert=boolean),
)


def visible_clause(ctx: RequestContext) -> Any:
    """Subnets a non-admin sees: its own, and those of the networks it sees."""
    return or_(
        Subnet.project_id == ctx.project_id,
        Subnet.network_id.in_(select(Network.id).where(networks.visible_clause(ctx))),
    )


async def get_visible(
    mgr: Any, session: AsyncSession, ctx: RequestContext, subnet_id: str
) -> Subnet:
    stmt = select(Subnet).where(Subnet.id == subnet_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(visible_clause(ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("SubnetNotFound", "Subnet", subnet_id)
    return row


def view(row: Subnet, tags: list[str]) -> dict[str, Any]:
    out = crud.standard(row, tags)
    out.update(
        network_id=row.network_id,
        ip_version=row.ip_version,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        enable_dhcp=row.enable_dhcp,
        ipv6_ra_mode=row.ipv6_ra_mode,
        ipv6_address_mode=row.ipv6_address_mode,
        allocation_pools=list(row.allocation_pools or []),
        dns_nameservers=list(row.dns_nameservers or []),
        host_routes=list(row.host_routes or []),
        service_types=list(row.service_types or []),
        subnetpool_id=row.subnetpool_id,
        segment_id=row.segment_id,
        dns_publish_fixed_ip=row.dns_publish_fixed_ip,
    )
    return out


async def render_many(
    session: AsyncSession, rows: list[Subnet], fields: list[str] | None = None
) -> list[dict[str, Any]]:
    tags = await crud.tags_of(session, [r.id for r in rows])
    return [listing.select_fields(view(r, tags[r.id]), fields or ()) for r in rows]


def _target(row_project: str, network: Network) -> dict[str, Any]:
    return {
        "project_id": row_project,
        "tenant_id": row_project,
        "network:project_id": network.project_id,
        "network:tenant_id": network.project_id,
        "shared": network.shared,
        "external": network.router_external,
    }


# -- validation ---------------------------------------------------------------------------------
def _check_cidr(text: str, version: int) -> ipam.IPNet:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise bad_request(
            f"Invalid input for operation: '{text}' is not a valid IP subnet."
        ) from None
    if net.version != version:
        raise bad_request(
            f"Invalid input for operation: Cidr {text} does not match ip_version {version}."
        )
    if net.prefixlen == 0:
        raise bad_request("Invalid input for operation: 0 is not allowed as CIDR prefix length.")
    if str(net) != text.strip() and str(net.network_address) != text.split("/")[0]:
        # Neutron accepts a host address in the CIDR and stores the network address
        pass
    return net


def _check_ipv6(values: dict[str, Any], version: int) -> None:
    ra, addr = values.get("ipv6_ra_mode"), values.get("ipv6_address_mode")
    if version == 4 and (ra or addr):
        raise bad_request(
            "Invalid input for operation: ipv6_ra_mode or ipv6_address_mode "
            "cannot be set when ip_version is 4."
        )
    if ra and addr and ra != addr:
        raise bad_request(
            f"Invalid input for operation: ipv6_ra_mode set to '{ra}' with "
            f"ipv6_address_mode set to '{addr}' is not valid. If both attributes "
            "are set, they must be the same value."
        )


def _check_gateway(net: ipam.IPNet, gateway: str | None) -> None:
    if gateway is None:
        return
    addr = ipaddress.ip_address(gateway)
    if (
        addr.version != net.version
        or addr not in net
        or (
            net.version == 4
            and net.prefixlen < 31
            and addr in (net.network_address, net.broadcast_address)
        )
    ):
        raise bad_request(
            f"Invalid input for operation: Gateway {gateway} is not valid on subnet {net}.",
            "InvalidInput",
        )


def _check_extras(mgr: Any, values: dict[str, Any], version: int) -> None:
    if len(values.get("dns_nameservers") or []) > 5:
        raise bad_request(
            "Number of DNS nameservers exceeds the limit 5.", "DNSNameServersExhausted"
        )
    for route in values.get("host_routes") or []:
        dest = ipaddress.ip_network(route["destination"])
        if dest.version != version or ipaddress.ip_address(route["nexthop"]).version != version:
            raise bad_request(
                f"Invalid input for operation: host route {route} does not match "
                f"ip_version {version}."
            )
    for server in values.get("dns_nameservers") or []:
        if ipaddress.ip_address(server).version != version:
            raise bad_request(
                f"Invalid input for operation: DNS server {server} does not match "
                f"ip_version {version}."
            )


async def _check_overlap(
    session: AsyncSession, network_id: str, net: ipam.IPNet, exclude: str | None = None
) -> None:
    rows = await session.execute(
        select(Subnet.id, Subnet.cidr).where(Subnet.network_id == network_id)
    )
    for sid, other in rows:
        if sid != exclude and ipaddress.ip_network(other).overlaps(net):
            raise bad_request(
                f"Invalid input for operation: Requested subnet with cidr: {net} "
                f"for network: {network_id} overlaps with another subnet."
            )


async def _from_pool(
    mgr: Any, session: AsyncSession, ctx: RequestContext, values: dict[str, Any], project: str
) -> ipam.IPNet:
    from onestack.network import subnetpools

    pool_id = values.get("subnetpool_id")
    version = values.get("ip_version")
    if pool_id is None:
        stmt = select(SubnetPool).where(SubnetPool.is_default)
        if version in (4, 6):
            stmt = stmt.where(SubnetPool.ip_version == version)
        pool = (await session.execute(stmt)).scalars().first()
        if pool is None:
            raise bad_request(f"No default subnetpool found for IPv{version}.")
    else:
        pool = await subnetpools.get_visible(mgr, session, ctx, pool_id, for_update=True)
    values["subnetpool_id"] = pool.id
    values["ip_version"] = pool.ip_version
    return await subnetpools.carve(
        session, pool, values.get("cidr"), values.get("prefixlen"), project
    )


# -- operations ---------------------------------------------------------------------------------
async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)

    async def work(session: AsyncSession) -> dict[str, Any]:
        network = await networks.get_visible(mgr, session, ctx, values["network_id"])
        mgr.enforce(ctx, "create_subnet", _target(project, network))
        await mgr.quotas.enforce(session, project, {"subnet": 1}, usage=count_usage)
        if values.get("subnetpool_id") or values.get("use_default_subnetpool"):
            net = await _from_pool(mgr, session, ctx, values, project)
        else:
            if not values.get("cidr"):
                raise bad_request(
                    "Bad subnets request: a cidr must be specified in the absence of a subnet pool."
                )
            if values.get("ip_version") not in (4, 6):
                raise bad_request(
                    "Failed to parse request. Required attribute 'ip_version' not specified"
                )
            if not isinstance(values["cidr"], str):
                raise bad_request(
                    f"Invalid input for operation: '{values['cidr']}' is not a valid IP subnet."
                )
            net = _check_cidr(values["cidr"], values["ip_version"])
        version = net.version
        _check_ipv6(values, version)
        _check_extras(mgr, values, version)
        gateway = values.get("gateway_ip", MISSING)
        gateway = ipam.default_gateway(net) if gateway is MISSING else gateway
        _check_gateway(net, gateway)
        await _check_overlap(session, network.id, net)
        pools = values.get("allocation_pools")
        pools = ipam.check_pools(net, pools, gateway) if pools else ipam.default_pools(net, gateway)
        row = Subnet(id=new_id(), project_id=project)
        crud.assign(row, RES, values)
        row.cidr, row.ip_version, row.gateway_ip, row.allocation_pools = (
            str(net),
            version,
            gateway,
            pools,
        )
        session.add(row)
        await session.flush()
        if row.enable_dhcp:
            await scheduling.schedule(mgr, session, scheduling.DHCP, network.id)
        crud.bump(network)
        return view(row, [])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnet", "create", {"subnet": out})
    return out


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(Subnet).where(Subnet.project_id == project)
        )
    ).scalar_one()
    return {"subnet": n}


async def list_subnets(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(Subnet)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(visible_clause(ctx))
        stmt = listing.apply_filters(RES, stmt, query.filters)
        rows = await listing.paginate(session, RES, stmt, query)
        items = await render_many(session, rows, query.fields)
    return {"subnets": items, **listing.links(request, RES, rows, query)}


async def show(mgr: Any, ctx: RequestContext, subnet_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, subnet_id)
        return (await render_many(session, [row], fields))[0]


async def update(
    mgr: Any, ctx: RequestContext, subnet_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, subnet_id)
        network = await networks.get_visible(mgr, session, ctx, row.network_id)
        mgr.enforce(ctx, "update_subnet", _target(row.project_id, network))
        crud.check_revision(if_match, row)
        net = ipaddress.ip_network(row.cidr)
        _check_extras(mgr, values, row.ip_version)
        gateway = values.get("gateway_ip", row.gateway_ip)
        _check_gateway(net, gateway)
        pools = values.get("allocation_pools")
        if pools is not None or "gateway_ip" in values:
            values["allocation_pools"] = ipam.check_pools(
                net, pools if pools is not None else row.allocation_pools, gateway
            )
        if "gateway_ip" in values and gateway:
            taken = (
                await session.execute(
                    select(IPAllocation.port_id).where(
                        IPAllocation.subnet_id == row.id, IPAllocation.ip_address == gateway
                    )
                )
            ).first()
            owner = None
            if taken is not None:
                owner = (
                    await session.execute(select(Port.device_owner).where(Port.id == taken[0]))
                ).scalar()
            if taken is not None and owner not in (
                "network:router_interface",
                "network:router_interface_distributed",
            ):
                raise conflict(
                    "IpAddressInUse",
                    f"Unable to complete operation for network "
                    f"{row.network_id}. The IP address {gateway} is in use.",
                )
        crud.assign(row, RES, values)
        crud.bump(row)
        await session.flush()
        tags = await crud.tags_of(session, [row.id])
        return view(row, tags[row.id])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnet", "update", {"subnet": out})
    return out


async def delete_subnet(
    mgr: Any, ctx: RequestContext, subnet_id: str, if_match: str | None
) -> None:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, subnet_id)
        network = await networks.get_visible(mgr, session, ctx, row.network_id)
        mgr.enforce(ctx, "delete_subnet", _target(row.project_id, network))
        crud.check_revision(if_match, row)
        busy = (
            await session.execute(
                select(IPAllocation.port_id)
                .join(Port, Port.id == IPAllocation.port_id)
                .where(
                    IPAllocation.subnet_id == row.id,
                    Port.device_owner.not_in(networks.NETWORK_OWNED),
                )
                .limit(1)
            )
        ).first()
        if busy is not None:
            raise conflict(
                "SubnetInUse",
                f"Unable to complete operation on subnet {row.id}: One or more ports "
                "have an IP allocation from this subnet.",
            )
        await crud.drop_tags(session, row.id)
        await session.execute(delete(Subnet).where(Subnet.id == row.id))
        crud.bump(network)
        return {"subnet_id": row.id, "subnet": {"id": row.id, "network_id": row.network_id}}

    payload = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnet", "delete", payload)
