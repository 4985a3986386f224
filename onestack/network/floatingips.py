"""Floating IPs from an external network (or a given subnet / address), associated with a
port's fixed address through a router, and their port forwardings."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing, networks, ports
from onestack.network.attributes import (
    Attr,
    integer,
    ip_address,
    ip_or_none,
    one_of,
    parse_create,
    resource,
    string,
    uuid,
    uuid_or_none,
)
from onestack.network.errors import bad_request, conflict, forbidden, not_found
from onestack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortForwarding,
    Router,
    new_id,
)
from onestack.network.routers import INTERFACE

OWNER = "network:floatingip"

RES = resource(
    "floatingip",
    "floatingips",
    FloatingIP,
    Attr("floating_network_id", "floating_network_id", convert=uuid),
    Attr("floating_ip_address", "floating_ip_address", default=None, convert=ip_or_none),
    Attr("subnet_id", None, default=None, convert=uuid_or_none),
    Attr("port_id", "port_id", put=True, default=None, convert=uuid_or_none),
    Attr("fixed_ip_address", "fixed_ip_address", put=True, default=None, convert=ip_or_none),
    Attr("router_id", "router_id", post=False),
    Attr("status", "status", post=False),
    Attr("dns_name", "dns_name", default="", convert=string(255)),
    Attr("dns_domain", "dns_domain", default="", convert=string(255)),
    Attr(
        "qos_policy_id", "qos_policy_id", put=True, default=None, convert=string(36, nullable=True)
    ),
    Attr("port_details", None, post=False),
    Attr("port_forwardings", None, post=False),
    name_default="",
)
RES.attrs.pop("name")

FORWARDINGS = resource(
    "port_forwarding",
    "port_forwardings",
    PortForwarding,
    Attr("internal_port_id", "internal_port_id", put=True, convert=uuid),
    Attr("internal_ip_address", "internal_ip_address", put=True, convert=ip_address),
    Attr(
        "internal_port",
        "internal_port",
        put=True,
        default=None,
        convert=integer(1, 65535, nullable=True),
    ),
    Attr(
        "external_port",
        "external_port",
        put=True,
        default=None,
        convert=integer(1, 65535, nullable=True),
    ),
    Attr("protocol", "protocol", put=True, convert=one_of("tcp", "udp", "sctp")),
    Attr("description", "description", put=True, default="", convert=string(255)),
    Attr("internal_port_range", None, default=None),
    Attr("external_port_range", None, default=None),
    standard=False,
    tags=False,
)


async def get_visible(
    mgr: Any, session: AsyncSession, ctx: RequestContext, fip_id: str, *, for_update: bool = False
) -> FloatingIP:
    stmt = select(FloatingIP).where(FloatingIP.id == fip_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(FloatingIP.project_id == ctx.project_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("FloatingIPNotFound", "Floating IP", fip_id)
    return row


async def render_many(
    session: AsyncSession, rows: list[FloatingIP], fields: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    tags = await crud.tags_of(session, ids)
    forwards: dict[str, list[dict[str, Any]]] = defaultdict(list)
    details: dict[str, dict[str, Any]] = {}
    if ids:
        for pf in (
            await session.execute(
                select(PortForwarding).where(PortForwarding.floatingip_id.in_(ids))
            )
        ).scalars():
            forwards[pf.floatingip_id].append(pf_view(pf))
        port_ids = [r.port_id for r in rows if r.port_id]
        if port_ids:
            for p in (await session.execute(select(Port).where(Port.id.in_(port_ids)))).scalars():
                details[p.id] = {
                    "name": p.name,
                    "network_id": p.network_id,
                    "mac_address": p.mac_address,
                    "admin_state_up": p.admin_state_up,
                    "status": p.status,
                    "device_id": p.device_id,
                    "device_owner": p.device_owner,
                }
    out = []
    for row in rows:
        item = crud.standard(row, tags[row.id])
        item.pop("name", None)
        item.update(
            floating_network_id=row.floating_network_id,
            floating_ip_address=row.floating_ip_address,
            fixed_ip_address=row.fixed_ip_address,
            port_id=row.port_id,
            router_id=row.router_id,
            status=row.status,
            dns_name=row.dns_name,
            dns_domain=row.dns_domain,
            qos_policy_id=row.qos_policy_id,
            qos_network_policy_id=None,
            port_details=details.get(row.port_id) if row.port_id else None,
            port_forwardings=forwards[row.id],
        )
        out.append(listing.select_fields(item, fields or ()))
    return out


async def _render(session: AsyncSession, row: FloatingIP) -> dict[str, Any]:
    return (await render_many(session, [row]))[0]


async def _associate(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    row: FloatingIP,
    port_id: str | None,
    fixed: str | None,
) -> None:
    if port_id is None:
        row.port_id = row.fixed_ip_address = row.router_id = None
        row.status = "DOWN"
        return
    port = await ports.get_visible(mgr, session, ctx, port_id)
    if port.project_id != row.project_id and not mgr.is_admin(ctx):
        raise not_found("PortNotFound", "Port", port_id)
    if port.device_owner.startswith("network:"):
        raise bad_request(
            f"Bad floatingip request: Port {port.id} has owner "
            f"{port.device_owner} and therefore cannot be associated."
        )
    if (
        await session.execute(
            select(PortForwarding.id).where(PortForwarding.floatingip_id == row.id).limit(1)
        )
    ).first() is not None:
        raise conflict(
            "FloatingIPPortAlreadyAssociated",
            f"Floating IP {row.id} has port forwardings; it cannot be associated with a port.",
        )
    ips = list(
        (
            await session.execute(select(IPAllocation).where(IPAllocation.port_id == port.id))
        ).scalars()
    )
    v4 = [a for a in ips if ipaddress.ip_address(a.ip_address).version == 4]
    if fixed is not None:
        chosen = next((a for a in ips if a.ip_address == fixed), None)
        if chosen is None:
            raise bad_request(
                f"Bad floatingip request: Port {port.id} does not have fixed ip {fixed}."
            )
    elif not v4:
        raise bad_request(f"Bad floatingip request: Port {port.id} does not have any IPv4 address.")
    else:
        chosen = v4[0]
    taken = (
        await session.execute(
            select(FloatingIP.id).where(
                FloatingIP.port_id == port.id,
                FloatingIP.fixed_ip_address == chosen.ip_address,
                FloatingIP.id != row.id,
            )
        )
    ).first()
    if taken is not None:
        raise conflict(
            "FloatingIPPortAlreadyAssociated",
            f"Cannot associate floating IP {row.floating_ip_address} ({row.id}) with "
            f"port {port.id} using fixed IP {chosen.ip_address}, as that fixed IP "
            f"already has a floating IP on external network "
            f"{row.floating_network_id}.",
        )
    router_id = (
        (
            await session.execute(
                select(Router.id)
                .join(Port, Port.device_id == Router.id)
                .join(IPAllocation, IPAllocation.port_id == Port.id)
                .where(
                    Port.device_owner == INTERFACE,
                    IPAllocation.subnet_id == chosen.subnet_id,
                    Router.external_network_id == row.floating_network_id,
                )
            )
        )
        .scalars()
        .first()
    )
    if router_id is None:
        raise not_found(
            "ExternalGatewayForFloatingIPNotFound",
            f"External network {row.floating_network_id} is not reachable from "
            f"subnet {chosen.subnet_id}. Therefore, cannot associate Port",
            port.id,
        )
    row.port_id, row.fixed_ip_address, row.router_id = port.id, chosen.ip_address, router_id
    row.status = "ACTIVE"


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(FloatingIP).where(FloatingIP.project_id == project)
        )
    ).scalar_one()
    return {"floatingip": n}


async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    tgt = {"project_id": project, "tenant_id": project}
    mgr.enforce(ctx, "create_floatingip", tgt)
    if values.get("floating_ip_address") and not mgr.check(
        ctx, "create_floatingip:floating_ip_address", tgt
    ):
        raise forbidden("(rule:create_floatingip:floating_ip_address) is disallowed by policy")

    async def work(session: AsyncSession) -> dict[str, Any]:
        network = await networks.get_visible(mgr, session, ctx, values["floating_network_id"])
        rbac = (await networks.shared_with(session, ctx, [network.id])).get(network.id, set())
        if not (network.router_external or "access_as_external" in rbac):
            raise bad_request(
                f"Bad floatingip request: Network {network.id} is not a valid external network."
            )
        await mgr.quotas.enforce(session, project, {"floatingip": 1}, usage=count_usage)
        fip_id = new_id()
        fixed_ips: list[dict[str, Any]] | None = None
        if values.get("subnet_id") or values.get("floating_ip_address"):
            item: dict[str, Any] = {}
            if values.get("subnet_id"):
                item["subnet_id"] = values["subnet_id"]
            if values.get("floating_ip_address"):
                item["ip_address"] = values["floating_ip_address"]
            fixed_ips = [item]
        else:
            v4 = [s for s in await ports.subnets_of(session, network.id) if s.ip_version == 4]
            if v4:
                fixed_ips = None
        port_values = parse_create(
            ports.RES,
            {
                "network_id": network.id,
                "device_owner": OWNER,
                "device_id": fip_id,
                "name": "",
                **({"fixed_ips": fixed_ips} if fixed_ips else {}),
            },
        )
        port_values["project_id"] = ""
        port = await _v4_port(mgr, session, ctx, port_values, network)
        address = (
            (
                await session.execute(
                    select(IPAllocation.ip_address).where(IPAllocation.port_id == port.id)
                )
            )
            .scalars()
            .first()
        )
        if address is None:
            raise bad_request(
                f"Bad floatingip request: network {network.id} has no subnet to "
                "allocate a floating IP from.",
                "ExternalIpAddressExhausted",
            )
        row = FloatingIP(
            id=fip_id,
            project_id=project,
            floating_network_id=network.id,
            floating_ip_address=address,
            floating_port_id=port.id,
            description=values.get("description") or "",
            dns_name=values.get("dns_name") or "",
            dns_domain=values.get("dns_domain") or "",
            qos_policy_id=values.get("qos_policy_id"),
        )
        session.add(row)
        await session.flush()
        if values.get("port_id"):
            await _associate(
                mgr, session, ctx, row, values["port_id"], values.get("fixed_ip_address")
            )
        await session.flush()
        return await _render(session, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "floatingip", "create", {"floatingip": out})
    await _tell_compute(mgr, [out["port_id"]] if out.get("port_id") else [])
    return out


async def _v4_port(
    mgr: Any, session: AsyncSession, ctx: RequestContext, values: dict[str, Any], network: Network
) -> Port:
    """The floating port; without a given address it takes one IPv4 address only."""
    if values.get("fixed_ips") is None:
        v4 = [s for s in await ports.subnets_of(session, network.id) if s.ip_version == 4]
        for subnet in v4:
            try:
                async with session.begin_nested():
                    attempt = dict(values, fixed_ips=[{"subnet_id": subnet.id}])
                    return await ports.create_in(
                        mgr, session, ctx, attempt, network=network, internal=True
                    )
            except ports.ipam.IpAddressGenerationFailure:
                continue
        if v4:
            raise conflict(
                "ExternalIpAddressExhausted",
                f"Unable to find any IP address on external network {network.id}.",
            )
    try:
        return await ports.create_in(mgr, session, ctx, values, network=network, internal=True)
    except IntegrityError:
        raise conflict("IpAddressInUse", "The floating IP address is in use.") from None


async def list_fips(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(FloatingIP)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(FloatingIP.project_id == ctx.project_id)
        stmt = listing.apply_filters(RES, stmt, query.filters)
        rows = await listing.paginate(session, RES, stmt, query)
        items = await render_many(session, rows, query.fields)
    return {"floatingips": items, **listing.links(request, RES, rows, query)}


async def show(mgr: Any, ctx: RequestContext, fip_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, fip_id)
        return (await render_many(session, [row], fields))[0]


async def update(
    mgr: Any, ctx: RequestContext, fip_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    touched: list[str | None] = []

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, fip_id, for_update=True)
        mgr.enforce(ctx, "update_floatingip", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        if "port_id" in values or "fixed_ip_address" in values:
            touched[:] = [row.port_id, values.get("port_id", row.port_id)]
            port_id = values.get("port_id", row.port_id)
            await _associate(mgr, session, ctx, row, port_id, values.get("fixed_ip_address"))
        for key in ("description", "qos_policy_id"):
            if key in values:
                setattr(row, key, values[key])
        crud.bump(row)
        await session.flush()
        return await _render(session, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "floatingip", "update", {"floatingip": out})
    await _tell_compute(mgr, [p for p in touched if p])
    return out


async def _tell_compute(mgr: Any, port_ids: list[str]) -> None:
    """``network-changed`` for the servers whose floating address just changed."""
    if not port_ids:
        return
    from onestack.network import nova

    async with mgr.read() as session:
        rows = await session.execute(
            select(Port.id, Port.device_id).where(
                Port.id.in_(port_ids), Port.device_owner.like("compute:%")
            )
        )
        for port_id, device_id in rows:
            if device_id:
                nova.network_changed(mgr, device_id, port_id)


async def delete_fip(mgr: Any, ctx: RequestContext, fip_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> str | None:
        row = await get_visible(mgr, session, ctx, fip_id, for_update=True)
        mgr.enforce(ctx, "delete_floatingip", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        await crud.drop_tags(session, row.id)
        port_id = row.floating_port_id
        await session.execute(delete(FloatingIP).where(FloatingIP.id == row.id))
        await session.execute(delete(Port).where(Port.id == port_id))
        return row.port_id

    associated = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "floatingip", "delete", {"floatingip_id": fip_id})
    await _tell_compute(mgr, [associated] if associated else [])


# -- port forwardings ---------------------------------------------------------------------------
def pf_view(row: PortForwarding) -> dict[str, Any]:
    return {
        "id": row.id,
        "internal_port_id": row.internal_port_id,
        "internal_ip_address": row.internal_ip_address,
        "internal_port": row.internal_port,
        "external_port": row.external_port,
        "protocol": row.protocol,
        "description": row.description,
        "internal_port_range": f"{row.internal_port}:{row.internal_port}",
        "external_port_range": f"{row.external_port}:{row.external_port}",
    }


def _ranges(values: dict[str, Any]) -> None:
    for side in ("internal", "external"):
        text = values.pop(f"{side}_port_range", None)
        if text is not None and values.get(f"{side}_port") is None:
            first, _, last = str(text).partition(":")
            if first != (last or first) or not first.isdigit():
                raise bad_request(
                    "Invalid input for operation: only single-port ranges are supported."
                )
            values[f"{side}_port"] = integer(1, 65535)(int(first))


async def create_pf(
    mgr: Any, ctx: RequestContext, fip_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    _ranges(values)
    if values.get("internal_port") is None or values.get("external_port") is None:
        raise bad_request(
            "Failed to parse request. Required attribute 'internal_port' and "
            "'external_port' not specified"
        )

    async def work(session: AsyncSession) -> dict[str, Any]:
        fip = await get_visible(mgr, session, ctx, fip_id, for_update=True)
        mgr.enforce(ctx, "create_floatingip_port_forwarding", {"project_id": fip.project_id})
        if fip.port_id:
            raise conflict(
                "FloatingIPPortAlreadyAssociated",
                f"Floating IP {fip.id} is associated with port {fip.port_id}; it "
                "cannot have port forwardings.",
            )
        port = await ports.get_visible(mgr, session, ctx, values["internal_port_id"])
        has = (
            await session.execute(
                select(IPAllocation.ip_address).where(
                    IPAllocation.port_id == port.id,
                    IPAllocation.ip_address == values["internal_ip_address"],
                )
            )
        ).first()
        if has is None:
            raise bad_request(
                f"Bad port_forwarding request: internal IP "
                f"{values['internal_ip_address']} is not on port {port.id}."
            )
        row = PortForwarding(
            id=new_id(),
            floatingip_id=fip.id,
            internal_port_id=port.id,
            internal_ip_address=values["internal_ip_address"],
            internal_port=values["internal_port"],
            external_port=values["external_port"],
            protocol=values["protocol"],
            description=values.get("description") or "",
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise conflict(
                "PortForwardingConflict",
                f"A duplicate port forwarding entry with same attributes already "
                f"exists, conflicting values are external port "
                f"{row.external_port}/{row.protocol}.",
            ) from None
        if not fip.router_id:
            router_id = (
                (
                    await session.execute(
                        select(Router.id)
                        .join(Port, Port.device_id == Router.id)
                        .join(IPAllocation, IPAllocation.port_id == Port.id)
                        .where(
                            Port.device_owner == INTERFACE,
                            Router.external_network_id == fip.floating_network_id,
                            IPAllocation.subnet_id.in_(
                                select(IPAllocation.subnet_id).where(
                                    IPAllocation.port_id == port.id
                                )
                            ),
                        )
                    )
                )
                .scalars()
                .first()
            )
            fip.router_id = router_id
        return pf_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "port_forwarding", "create", {"port_forwarding": out})
    return out


async def _get_pf(session: AsyncSession, fip: FloatingIP, pf_id: str) -> PortForwarding:
    row = (
        await session.execute(
            select(PortForwarding).where(
                PortForwarding.id == pf_id, PortForwarding.floatingip_id == fip.id
            )
        )
    ).scalar()
    if row is None:
        raise not_found("PortForwardingNotFound", "Port Forwarding", pf_id)
    return row


async def list_pf(mgr: Any, ctx: RequestContext, fip_id: str, request: Request) -> dict[str, Any]:
    query = listing.parse(FORWARDINGS, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        fip = await get_visible(mgr, session, ctx, fip_id)
        stmt = listing.apply_filters(
            FORWARDINGS,
            select(PortForwarding).where(PortForwarding.floatingip_id == fip.id),
            query.filters,
        )
        rows = await listing.paginate(session, FORWARDINGS, stmt, query)
    return {
        "port_forwardings": [listing.select_fields(pf_view(r), query.fields) for r in rows],
        **listing.links(request, FORWARDINGS, rows, query),
    }


async def show_pf(
    mgr: Any, ctx: RequestContext, fip_id: str, pf_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        fip = await get_visible(mgr, session, ctx, fip_id)
        return listing.select_fields(pf_view(await _get_pf(session, fip, pf_id)), fields)


async def update_pf(
    mgr: Any, ctx: RequestContext, fip_id: str, pf_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    _ranges(values)

    async def work(session: AsyncSession) -> dict[str, Any]:
        fip = await get_visible(mgr, session, ctx, fip_id, for_update=True)
        mgr.enforce(ctx, "update_floatingip_port_forwarding", {"project_id": fip.project_id})
        row = await _get_pf(session, fip, pf_id)
        for key, value in values.items():
            if value is not None and hasattr(row, key):
                setattr(row, key, value)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise conflict(
                "PortForwardingConflict",
                "A duplicate port forwarding entry with same attributes already exists.",
            ) from None
        return pf_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "port_forwarding", "update", {"port_forwarding": out})
    return out


async def delete_pf(mgr: Any, ctx: RequestContext, fip_id: str, pf_id: str) -> None:
    async def work(session: AsyncSession) -> None:
        fip = await get_visible(mgr, session, ctx, fip_id, for_update=True)
        mgr.enforce(ctx, "delete_floatingip_port_forwarding", {"project_id": fip.project_id})
        row = await _get_pf(session, fip, pf_id)
        await session.execute(delete(PortForwarding).where(PortForwarding.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "port_forwarding", "delete", {"port_forwarding_id": pf_id})
