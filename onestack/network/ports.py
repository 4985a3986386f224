"""Ports: addresses from IPAM, MACs from the configured base, security groups, and the
binding the mechanism drivers decide (``binding:*``), whose status agents then drive."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.network import crud, ipam, listing, networks, qos
from onestack.network.attributes import (
    Attr,
    any_dict,
    any_string,
    boolean,
    dict_of,
    integer,
    ip_address,
    list_of,
    mac,
    one_of,
    resource,
    string,
    uuid,
)
from onestack.network.errors import bad_request, conflict, forbidden, not_found
from onestack.network.ml2.mechanisms.base import AgentInfo, PortContext
from onestack.network.models import (
    Agent,
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
    Segment,
    Subnet,
    SubPort,
    Trunk,
    new_id,
)
from onestack.network.policies import ADMIN_GET

VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "remote-managed",
    "vdpa",
)
ROUTER_OWNERS = (
    "network:router_interface",
    "network:router_gateway",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)
UNDELETABLE = (
    "network:router_interface",
    "network:router_gateway",
    "network:router_interface_distributed",
    "network:floatingip",
)

_fixed_ip = dict_of({"subnet_id": uuid, "ip_address": ip_address})
_pair = dict_of({"ip_address": any_string, "mac_address": mac}, required=("ip_address",))
_dhcp_opt = dict_of(
    {"opt_name": string(64), "opt_value": lambda v: v, "ip_version": one_of(4, 6)},
    required=("opt_name",),
)

RES = resource(
    "port",
    "ports",
    Port,
    Attr("network_id", "network_id", convert=uuid),
    Attr("admin_state_up", "admin_state_up", put=True, default=True, convert=boolean),
    Attr("mac_address", "mac_address", put=True, default=None, convert=mac),
    Attr("fixed_ips", None, put=True, default=None, convert=list_of(_fixed_ip)),
    Attr("device_id", "device_id", put=True, default="", convert=string(255)),
    Attr("device_owner", "device_owner", put=True, default="", convert=string(255)),
    Attr("status", "status", post=False),
    Attr("security_groups", None, put=True, default=None, convert=list_of(uuid, unique=True)),
    Attr("port_security_enabled", "port_security_enabled", put=True, default=None, convert=boolean),
    Attr(
        "allowed_address_pairs",
        "allowed_address_pairs",
        put=True,
        default=list,
        convert=list_of(_pair),
        filter=False,
        sort=False,
    ),
    Attr(
        "extra_dhcp_opts",
        "extra_dhcp_opts",
        put=True,
        default=list,
        convert=list_of(_dhcp_opt),
        filter=False,
        sort=False,
    ),
    Attr("binding:host_id", "binding_host_id", put=True, default="", convert=string(255)),
    Attr(
        "binding:vnic_type",
        "binding_vnic_type",
        put=True,
        default="normal",
        convert=one_of(*VNIC_TYPES),
    ),
    Attr(
        "binding:profile",
        "binding_profile",
        put=True,
        default=dict,
        convert=any_dict,
        filter=False,
        sort=False,
    ),
    Attr("binding:vif_type", "binding_vif_type", post=False),
    Attr("binding:vif_details", "binding_vif_details", post=False, filter=False, sort=False),
    Attr("dns_name", "dns_name", put=True, default="", convert=string(255)),
    Attr("dns_assignment", None, post=False),
    Attr("dns_domain", None, post=False),
    Attr(
        "propagate_uplink_status",
        "propagate_uplink_status",
        put=True,
        default=False,
        convert=boolean,
    ),
    Attr(
        "qos_policy_id", "qos_policy_id", put=True, default=None, convert=string(36, nullable=True)
    ),
    Attr("ip_allocation", None, post=False),
    Attr("resource_request", None, post=False),
    Attr("numa_affinity_policy", None, put=True, default=None),
    Attr("trunk_details", None, post=False),
)
_ = integer


def visible_clause(ctx: RequestContext) -> Any:
    """Ports a non-admin sees: its own and those on its own networks."""
    owned = select(Network.id).where(Network.project_id == ctx.project_id)
    return or_(Port.project_id == ctx.project_id, Port.network_id.in_(owned))


async def get_visible(
    mgr: Any, session: AsyncSession, ctx: RequestContext, port_id: str, *, for_update: bool = False
) -> Port:
    stmt = select(Port).where(Port.id == port_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(visible_clause(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("PortNotFound", "Port", port_id)
    return row


# -- views --------------------------------------------------------------------------------------
async def render_many(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    rows: list[Port],
    fields: list[str] | None = None,
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    ips: dict[str, list[dict[str, str]]] = defaultdict(list)
    groups: dict[str, list[str]] = defaultdict(list)
    want = set(fields or ())
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if not want or want & {"fixed_ips", "dns_assignment"}:
            for port_id, subnet_id, address in await session.execute(
                select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address).where(
                    IPAllocation.port_id.in_(chunk)
                )
            ):
                ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})
        if not want or "security_groups" in want:
            for port_id, group_id in await session.execute(
                select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id).where(
                    PortSecurityGroup.port_id.in_(chunk)
                )
            ):
                groups[port_id].append(group_id)
    tags = await crud.tags_of(session, ids) if not want or "tags" in want else {}
    trunks = await trunk_details(session, ids) if not want or "trunk_details" in want else {}
    see_binding = mgr.check(ctx, "get_port:binding:host_id", {})
    domain = mgr.conf.dns_domain
    out = []
    for row in rows:
        item = view(row, ips[row.id], groups[row.id], tags.get(row.id, []), see_binding, domain)
        if row.id in trunks:
            item["trunk_details"] = trunks[row.id]
        out.append(listing.select_fields(item, fields or ()))
    return out


async def trunk_details(session: AsyncSession, port_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``trunk_details`` of the ports among ``port_ids`` that are trunk parents (the
    ``trunk-details`` extension): the trunk's id and its sub-ports with their MACs."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(port_ids), 500):
        chunk = port_ids[start : start + 500]
        for trunk_id, parent in await session.execute(
            select(Trunk.id, Trunk.port_id).where(Trunk.port_id.in_(chunk))
        ):
            out[parent] = {"trunk_id": trunk_id, "sub_ports": []}
    if not out:
        return out
    parents = {d["trunk_id"]: d for d in out.values()}
    rows = await session.execute(
        select(SubPort.trunk_id, SubPort.port_id, SubPort.segmentation_type)
        .add_columns(SubPort.segmentation_id, Port.mac_address)
        .join(Port, Port.id == SubPort.port_id)
        .where(SubPort.trunk_id.in_(list(parents)))
        .order_by(SubPort.segmentation_id)
    )
    for trunk_id, port_id, seg_type, seg_id, mac_address in rows:
        parents[trunk_id]["sub_ports"].append(
            {
                "segmentation_id": seg_id,
                "segmentation_type": seg_type,
                "port_id": port_id,
                "mac_address": mac_address,
            }
        )
    return out


def _dns(row: Port, address: str, domain: str) -> dict[str, str]:
    host = row.dns_name or "host-" + address.replace(".", "-").replace(":", "-")
    return {"hostname": host, "ip_address": address, "fqdn": f"{host}.{domain}"}


def view(
    row: Port,
    ips: list[dict[str, str]],
    groups: list[str],
    tags: list[str],
    see_binding: bool,
    domain: str,
) -> dict[str, Any]:
    out = crud.standard(row, tags)
    fixed = sorted(ips, key=lambda i: (i["subnet_id"], i["ip_address"]))
    out.update(
        network_id=row.network_id,
        mac_address=row.mac_address,
        admin_state_up=row.admin_state_up,
        status=row.status,
        device_id=row.device_id,
        device_owner=row.device_owner,
        fixed_ips=fixed,
        security_groups=sorted(groups),
        port_security_enabled=row.port_security_enabled,
        allowed_address_pairs=[
            {"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or row.mac_address}
            for p in row.allowed_address_pairs or []
        ],
        extra_dhcp_opts=list(row.extra_dhcp_opts or []),
        dns_name=row.dns_name,
        dns_domain="",
        dns_assignment=[_dns(row, i["ip_address"], domain) for i in fixed],
        propagate_uplink_status=row.propagate_uplink_status,
        qos_policy_id=row.qos_policy_id,
        qos_network_policy_id=None,
        resource_request=None,
        ip_allocation="immediate",
        **{"binding:vnic_type": row.binding_vnic_type},
    )
    if see_binding:
        out["binding:host_id"] = row.binding_host_id
        out["binding:profile"] = row.binding_profile or {}
        out["binding:vif_type"] = row.binding_vif_type
        out["binding:vif_details"] = row.binding_vif_details or {}
    return out


async def render_one(
    mgr: Any, session: AsyncSession, ctx: RequestContext, row: Port
) -> dict[str, Any]:
    return (await render_many(mgr, session, ctx, [row]))[0]


# -- building blocks ----------------------------------------------------------------------------
def _target(project: str, network: Network) -> dict[str, Any]:
    return {
        "project_id": project,
        "tenant_id": project,
        "network:project_id": network.project_id,
        "network:tenant_id": network.project_id,
        "shared": network.shared,
        "external": network.router_external,
    }


def random_mac(base: str) -> str:
    octets = base.split(":")
    fixed = octets[:3]
    rest = [f"{random.randrange(256):02x}" if o == "00" else o for o in octets[3:]]
    return ":".join([*fixed, *rest]).lower()


async def subnets_of(session: AsyncSession, network_id: str) -> list[Subnet]:
    return list(
        (
            await session.execute(
                select(Subnet)
                .where(Subnet.network_id == network_id)
                .order_by(Subnet.created_at, Subnet.id)
            )
        ).scalars()
    )


def _serves(subnet: Subnet, device_owner: str) -> bool:
    types = subnet.service_types or []
    return (
        not types
        or device_owner in types
        or (device_owner.startswith("compute:") and "compute:nova" in types)
    )


async def allocate_ips(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    port: Port,
    wanted: list[dict[str, Any]] | None,
    network: Network,
    *,
    allow_gateway: bool = False,
) -> None:
    """Addresses for ``port``: the requested ones, or one per IP version (all SLAAC ones)."""
    subnets = await subnets_of(session, port.network_id)
    by_id = {s.id: s for s in subnets}
    if wanted is None:
        done_v4 = done_v6 = False
        for subnet in subnets:
            if not _serves(subnet, port.device_owner):
                continue
            slaac = subnet.ip_version == 6 and subnet.ipv6_address_mode in ipam.SLAAC_MODES
            if (subnet.ip_version == 4 and done_v4) or (
                subnet.ip_version == 6 and done_v6 and not slaac
            ):
                continue
            try:
                await ipam.allocate_any(session, subnet, port.id, port.mac_address)
            except ipam.IpAddressGenerationFailure:
                continue
            if subnet.ip_version == 4:
                done_v4 = True
            elif not slaac:
                done_v6 = True
        if (
            subnets
            and not (done_v4 or done_v6)
            and not any(
                s.ip_version == 6 and s.ipv6_address_mode in ipam.SLAAC_MODES for s in subnets
            )
        ):
            raise ipam.IpAddressGenerationFailure(
                f"No more IP addresses available on network {port.network_id}."
            )
        return
    if len(wanted) > mgr.conf.max_fixed_ips_per_port:
        raise bad_request("Exceeded maximum amount of fixed ips per port.")
    for item in wanted:
        subnet_id, address = item.get("subnet_id"), item.get("ip_address")
        if address is not None:
            tgt = _target(port.project_id, network)
            if not mgr.check(ctx, "create_port:fixed_ips:ip_address", tgt):
                raise forbidden("(rule:create_port:fixed_ips:ip_address) is disallowed by policy")
        if subnet_id is not None:
            subnet = by_id.get(subnet_id)
            if subnet is None:
                raise bad_request(
                    f"Invalid input for operation: Failed to create port on "
                    f"network {port.network_id}, because fixed_ips included "
                    f"invalid subnet {subnet_id}."
                )
        elif address is not None:
            subnet = next((s for s in subnets if _contains(s, address)), None)
            if subnet is None:
                raise bad_request(
                    f"Invalid input for operation: IP address {address} is not "
                    f"a valid IP for any subnet on network {port.network_id}.",
                    "InvalidIpForNetwork",
                )
        else:
            raise bad_request(
                "Invalid input for operation: a fixed IP needs a subnet_id or an ip_address."
            )
        if address is not None:
            await ipam.allocate_specific(
                session, subnet, address, port.id, allow_gateway=allow_gateway
            )
        else:
            await ipam.allocate_any(session, subnet, port.id, port.mac_address)


def _contains(subnet: Subnet, address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(subnet.cidr)
    except ValueError:
        return False


async def _security_groups(
    mgr: Any, session: AsyncSession, ctx: RequestContext, port: Port, groups: list[str] | None
) -> list[str]:
    from onestack.network import secgroups

    if groups is None:
        if not port.port_security_enabled or port.device_owner.startswith("network:"):
            return []
        return [await secgroups.ensure_default(mgr, session, port.project_id)]
    for group_id in groups:
        await secgroups.get_visible(mgr, session, ctx, group_id, project=port.project_id)
    return groups


async def _set_groups(session: AsyncSession, port_id: str, groups: list[str]) -> None:
    await session.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port_id))
    for group_id in groups:
        session.add(PortSecurityGroup(port_id=port_id, security_group_id=group_id))


async def bind(mgr: Any, session: AsyncSession, port: Port) -> None:
    """Ask the mechanism drivers to bind ``port`` on its host; status follows the binding."""
    segments = [
        {
            "id": s.id,
            "network_type": s.network_type,
            "physical_network": s.physical_network,
            "segmentation_id": s.segmentation_id,
        }
        for s in (
            await session.execute(
                select(Segment)
                .where(Segment.network_id == port.network_id)
                .order_by(Segment.segment_index)
            )
        ).scalars()
    ]
    agents: list[AgentInfo] = []
    if port.binding_host_id:
        from onestack.network import agents as agents_mod

        agents = [
            agents_mod.info(mgr, a)
            for a in (
                await session.execute(select(Agent).where(Agent.host == port.binding_host_id))
            ).scalars()
        ]
    binding = mgr.mechanisms.bind(
        PortContext(
            port_id=port.id,
            network_id=port.network_id,
            host=port.binding_host_id,
            vnic_type=port.binding_vnic_type,
            device_owner=port.device_owner,
            profile=port.binding_profile or {},
            segments=segments,
            agents=agents,
        )
    )
    port.binding_vif_type = binding.vif_type
    port.binding_vif_details = binding.vif_details
    if port.device_owner == "network:floatingip":
        port.status = "N/A"
    elif port.device_owner in ROUTER_OWNERS:
        port.status = "ACTIVE" if port.admin_state_up else "DOWN"
    elif port.binding_host_id:
        port.status = binding.status if port.admin_state_up else "DOWN"
    else:
        port.status = "DOWN"


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(Port).where(Port.project_id == project)
        )
    ).scalar_one()
    return {"port": n}


# -- operations ---------------------------------------------------------------------------------
async def create_in(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    values: dict[str, Any],
    *,
    network: Network | None = None,
    internal: bool = False,
) -> Port:
    """Create a port in the caller's transaction (routers and floating IPs use it too)."""
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values) if not internal else values.pop("project_id")
    if network is None:
        network = await networks.get_visible(mgr, session, ctx, values["network_id"])
    tgt = _target(project, network)
    if not internal:
        mgr.enforce(ctx, "create_port", tgt)
        guarded = [k for k in ("binding:host_id", "binding:profile") if values.get(k)]
        if values.get("mac_address"):
            guarded.append("mac_address")
        if values.get("device_owner", "").startswith("network:"):
            guarded.append("device_owner")
        if values.get("port_security_enabled") is not None:
            guarded.append("port_security_enabled")
        crud.enforce_attrs(mgr, ctx, "create", "port", dict.fromkeys(guarded), guarded, tgt)
    await mgr.quotas.enforce(session, project, {"port": 1}, usage=count_usage)
    await qos.check_usable(mgr, session, ctx, values.get("qos_policy_id"))
    if values.get("port_security_enabled") is None:
        values["port_security_enabled"] = network.port_security_enabled
    if values.get("allowed_address_pairs") and not values["port_security_enabled"]:
        raise conflict(
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port.",
        )
    if values.get("security_groups") and not values["port_security_enabled"]:
        raise bad_request(
            "Port has security group associated. Cannot disable port security "
            "or IP address until security group is removed",
            "PortSecurityAndIPRequiredForSecurityGroups",
        )
    row = Port(id=new_id(), project_id=project, network_id=network.id)
    crud.assign(
        row, RES, {k: v for k, v in values.items() if k not in ("mac_address", "network_id")}
    )
    given_mac = values.get("mac_address")
    for attempt in range(10):
        row.mac_address = given_mac or random_mac(mgr.conf.base_mac)
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
            break
        except IntegrityError:
            if given_mac or attempt == 9:
                raise conflict(
                    "MacAddressInUse",
                    f"Unable to complete operation for network {network.id}. The mac "
                    f"address {row.mac_address} is in use.",
                ) from None
    await allocate_ips(
        mgr,
        session,
        ctx,
        row,
        values.get("fixed_ips"),
        network,
        allow_gateway=row.device_owner in ROUTER_OWNERS,
    )
    groups = await _security_groups(mgr, session, ctx, row, values.get("security_groups"))
    await _set_groups(session, row.id, groups)
    await bind(mgr, session, row)
    await session.flush()
    return row


async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await create_in(mgr, session, ctx, values)
        return await render_one(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "port", "create", {"port": out})
    await _after_status(mgr, out, None)
    return out


async def list_ports(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(Port)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(visible_clause(ctx))
        stmt = listing.apply_filters(
            RES,
            stmt,
            query.filters,
            {
                "fixed_ips": _fixed_ip_filter,
                "security_groups": lambda s, v: s.where(
                    Port.id.in_(
                        select(PortSecurityGroup.port_id).where(
                            PortSecurityGroup.security_group_id.in_(v)
                        )
                    )
                ),
            },
        )
        rows = await listing.paginate(session, RES, stmt, query)
        items = await render_many(mgr, session, ctx, rows, query.fields)
    return {"ports": items, **listing.links(request, RES, rows, query)}


def _fixed_ip_filter(stmt: Any, raw: list[str]) -> Any:
    """``fixed_ips=ip_address=10.0.0.3&fixed_ips=subnet_id=X`` (also ``ip_address_substr``)."""
    for item in raw:
        key, _, value = item.partition("=")
        column = {"ip_address": IPAllocation.ip_address, "subnet_id": IPAllocation.subnet_id}.get(
            key
        )
        if key == "ip_address_substr":
            clause = IPAllocation.ip_address.contains(value)
        elif column is None:
            raise bad_request(f"Invalid fixed_ips filter {item!r}.")
        else:
            clause = column == value
        stmt = stmt.where(Port.id.in_(select(IPAllocation.port_id).where(clause)))
    return stmt


async def show(mgr: Any, ctx: RequestContext, port_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, port_id)
        return (await render_many(mgr, session, ctx, [row], fields))[0]


async def update(
    mgr: Any, ctx: RequestContext, port_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    before: dict[str, Any] = {}

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, port_id, for_update=True)
        network = (
            await session.execute(select(Network).where(Network.id == row.network_id))
        ).scalar_one()
        tgt = _target(row.project_id, network)
        mgr.enforce(ctx, "update_port", tgt)
        guarded = [
            k
            for k in ("binding:host_id", "binding:profile", "mac_address", "port_security_enabled")
            if k in values
        ]
        if str(values.get("device_owner", "")).startswith("network:"):
            guarded.append("device_owner")
        crud.enforce_attrs(mgr, ctx, "update", "port", values, guarded, tgt)
        crud.check_revision(if_match, row)
        await qos.check_usable(mgr, session, ctx, values.get("qos_policy_id"))
        before["status"] = row.status
        if (
            "mac_address" in values
            and values["mac_address"] != row.mac_address
            and row.binding_vif_type not in ("unbound", "binding_failed")
        ):
            raise conflict(
                "PortBound",
                f"Unable to complete operation on port {row.id}, port is already bound.",
            )
        security = values.get("port_security_enabled", row.port_security_enabled)
        pairs = values.get("allowed_address_pairs", row.allowed_address_pairs)
        if pairs and not security:
            raise conflict(
                "AddressPairAndPortSecurityRequired",
                "Port Security must be enabled in order to have allowed address pairs on a port.",
            )
        current_groups = list(
            (
                await session.execute(
                    select(PortSecurityGroup.security_group_id).where(
                        PortSecurityGroup.port_id == row.id
                    )
                )
            ).scalars()
        )
        groups = values.get("security_groups")
        if not security and (groups if groups is not None else current_groups):
            raise conflict(
                "PortSecurityPortHasSecurityGroup",
                "Port has security group associated. Cannot disable port security or "
                "IP address until security group is removed",
            )
        crud.assign(row, RES, values)
        if "fixed_ips" in values:
            await _replace_ips(mgr, session, ctx, row, values["fixed_ips"], network)
        if groups is not None:
            row.port_security_enabled = security
            checked = await _security_groups(mgr, session, ctx, row, groups)
            await _set_groups(session, row.id, checked)
        if {
            "binding:host_id",
            "binding:vnic_type",
            "binding:profile",
            "admin_state_up",
            "device_owner",
        } & set(values):
            await bind(mgr, session, row)
        crud.bump(row)
        await session.flush()
        return await render_one(mgr, session, ctx, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "port", "update", {"port": out})
    await _after_status(mgr, out, before.get("status"))
    if "fixed_ips" in values and out["device_owner"].startswith("compute:") and out["device_id"]:
        from onestack.network import nova

        nova.network_changed(mgr, out["device_id"], out["id"])
    return out


async def _replace_ips(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    row: Port,
    wanted: list[dict[str, Any]],
    network: Network,
) -> None:
    current = {
        (a.subnet_id, a.ip_address)
        for a in (
            await session.execute(select(IPAllocation).where(IPAllocation.port_id == row.id))
        ).scalars()
    }
    keep = {(w.get("subnet_id"), w.get("ip_address")) for w in wanted if w.get("ip_address")}
    keep_ips = {ip for _, ip in keep}
    for subnet_id, address in current:
        if address not in keep_ips:
            await session.execute(
                delete(IPAllocation).where(
                    IPAllocation.subnet_id == subnet_id, IPAllocation.ip_address == address
                )
            )
    held = {ip for _, ip in current}
    new = [w for w in wanted if not w.get("ip_address") or w["ip_address"] not in held]
    # a subnet-only entry already satisfied by a kept address of that subnet stays as it is
    kept_subnets = {s for s, ip in current if ip in keep_ips}
    new = [
        w
        for w in new
        if w.get("ip_address")
        or w.get("subnet_id") not in kept_subnets
        or sum(1 for x in wanted if x.get("subnet_id") == w.get("subnet_id")) > 1
    ]
    if new:
        await allocate_ips(
            mgr, session, ctx, row, new, network, allow_gateway=row.device_owner in ROUTER_OWNERS
        )


async def delete_port(
    mgr: Any, ctx: RequestContext, port_id: str, if_match: str | None, *, internal: bool = False
) -> None:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, port_id, for_update=True)
        if not internal:
            network = (
                await session.execute(select(Network).where(Network.id == row.network_id))
            ).scalar_one()
            mgr.enforce(ctx, "delete_port", _target(row.project_id, network))
            crud.check_revision(if_match, row)
            from onestack.network.models import Trunk

            trunk = (await session.execute(select(Trunk.id).where(Trunk.port_id == row.id))).first()
            if trunk is not None:
                raise conflict(
                    "PortInUseAsTrunkParent",
                    f"Port {row.id} is currently a parent port for trunk {trunk[0]}.",
                )
            if row.device_owner in UNDELETABLE:
                raise conflict(
                    "ServicePortInUse",
                    f"Port {row.id} cannot be deleted directly via the port API: has "
                    f"device owner {row.device_owner}.",
                )
        await delete_in(session, row)
        return {
            "port_id": row.id,
            "port": {"id": row.id, "network_id": row.network_id, "device_id": row.device_id},
            "owner": row.device_owner,
        }

    payload = await mgr.transaction(work)
    owner = payload.pop("owner")
    await crud.notify(mgr, ctx, "port", "delete", payload)
    if str(owner).startswith("compute:") and payload["port"]["device_id"]:
        from onestack.network import nova

        nova.vif_deleted(mgr, payload["port"]["device_id"], port_id)


async def delete_in(session: AsyncSession, row: Port) -> None:
    """Remove a port and everything that hangs off it (addresses, groups, associations)."""
    await session.execute(
        sql_update(FloatingIP)
        .where(FloatingIP.port_id == row.id)
        .values(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
    )
    await crud.drop_tags(session, row.id)
    await session.execute(delete(Port).where(Port.id == row.id))


# -- status from agents and the Nova notifier ---------------------------------------------------
async def set_status(mgr: Any, port_id: str, status: str, host: str | None = None) -> bool:
    """An agent reports a device up or down; False when the port is gone or elsewhere."""
    before: dict[str, Any] = {}

    async def work(session: AsyncSession) -> dict[str, Any] | None:
        row = (
            await session.execute(select(Port).where(Port.id == port_id).with_for_update())
        ).scalar()
        if row is None or (host and row.binding_host_id and row.binding_host_id != host):
            return None
        before["status"] = row.status
        if row.status == status:
            return None
        row.status = status
        row.updated_at = utcnow()
        row.revision_number += 1
        return {
            "id": row.id,
            "status": status,
            "device_id": row.device_id,
            "device_owner": row.device_owner,
            "binding:host_id": row.binding_host_id,
        }

    out = await mgr.transaction(work)
    if out is None:
        return False
    await mgr.notify(None, "port.update.end", {"port": out})
    await _after_status(mgr, out, before.get("status"))
    return True


async def _after_status(mgr: Any, port: dict[str, Any], before: str | None) -> None:
    """A compute port that just went ACTIVE: tell Compute (``network-vif-plugged``)."""
    if (
        port.get("status") == "ACTIVE"
        and before != "ACTIVE"
        and str(port.get("device_owner", "")).startswith("compute:")
        and port.get("device_id")
    ):
        from onestack.network import nova

        nova.vif_plugged(mgr, port["device_id"], port["id"])


__all__ = [
    "ADMIN_GET",
    "RES",
    "create",
    "delete_port",
    "list_ports",
    "set_status",
    "show",
    "update",
]
_ = SecurityGroup
