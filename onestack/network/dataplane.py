"""What the dataplane agents read: the wiring of the ports bound to their host, and the
networks (with their DHCP port, made here on first ask) that a host's DHCP agent serves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack.network.models import (
    Agent,
    IPAllocation,
    Network,
    NetworkDhcpAgent,
    Port,
    PortSecurityGroup,
    Segment,
    Subnet,
)

DHCP_OWNER = "network:dhcp"


async def device_details(mgr: Any, devices: list[str], host: str) -> list[dict[str, Any]]:
    """Per port: network, segment, MAC, addresses, security groups, admin state."""
    out: list[dict[str, Any]] = []
    async with mgr.read() as session:
        rows = (await session.execute(select(Port).where(Port.id.in_(devices)))).scalars()
        for port in rows:
            seg = (
                (
                    await session.execute(
                        select(Segment)
                        .where(Segment.network_id == port.network_id)
                        .order_by(Segment.segment_index)
                    )
                )
                .scalars()
                .first()
            )
            ips = [
                {"subnet_id": s, "ip_address": a}
                for s, a in await session.execute(
                    select(IPAllocation.subnet_id, IPAllocation.ip_address).where(
                        IPAllocation.port_id == port.id
                    )
                )
            ]
            groups = list(
                (
                    await session.execute(
                        select(PortSecurityGroup.security_group_id).where(
                            PortSecurityGroup.port_id == port.id
                        )
                    )
                ).scalars()
            )
            network = await session.get(Network, port.network_id)
            out.append(
                {
                    "device": port.id,
                    "mtu": network.mtu if network else 1500,
                    "port_id": port.id,
                    "network_id": port.network_id,
                    "mac_address": port.mac_address,
                    "admin_state_up": port.admin_state_up,
                    "network_type": seg.network_type if seg else None,
                    "physical_network": seg.physical_network if seg else None,
                    "segmentation_id": seg.segmentation_id if seg else None,
                    "fixed_ips": ips,
                    "device_owner": port.device_owner,
                    "security_groups": groups,
                    "port_security_enabled": port.port_security_enabled,
                    "allowed_address_pairs": list(port.allowed_address_pairs or []),
                    "bound_here": port.binding_host_id == host,
                    "vif_type": port.binding_vif_type,
                }
            )
    return out


def dhcp_device_id(host: str, network_id: str) -> str:
    """The DHCP port's ``device_id``, Neutron's ``dhcp<host uuid>-<network>``."""
    import uuid

    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


async def dhcp_networks(mgr: Any, host: str) -> list[dict[str, Any]]:
    """The networks the DHCP agent of ``host`` serves: subnets, the DHCP port (created
    here, in one transaction with the read, when the network has none for this host) and
    every port's MAC, addresses and host name for dnsmasq's hosts file."""
    from onestack.network.scheduling import DHCP_AGENT

    async def work(session: Any) -> list[dict[str, Any]]:
        agent = (
            await session.execute(
                select(Agent).where(Agent.agent_type == DHCP_AGENT, Agent.host == host)
            )
        ).scalar()
        if agent is None:
            return []
        ids = (
            await session.execute(
                select(NetworkDhcpAgent.network_id).where(NetworkDhcpAgent.agent_id == agent.id)
            )
        ).scalars()
        out = []
        for network_id in sorted(ids):
            network = await session.get(Network, network_id)
            if network is None:
                continue
            subnets = [
                s
                for s in (
                    await session.execute(select(Subnet).where(Subnet.network_id == network_id))
                ).scalars()
                if s.enable_dhcp and s.ip_version == 4
            ]
            if not subnets:
                continue
            port = await _dhcp_port(mgr, session, network, host)
            out.append(await _network_info(session, network, subnets, port))
        return out

    result: list[dict[str, Any]] = await mgr.transaction(work)
    return result


async def _dhcp_port(mgr: Any, session: Any, network: Network, host: str) -> Port:
    device_id = dhcp_device_id(host, network.id)
    port = (
        await session.execute(
            select(Port).where(Port.network_id == network.id, Port.device_id == device_id)
        )
    ).scalar()
    if port is not None:
        return port  # type: ignore[no-any-return]
    from onestack.common.context import RequestContext
    from onestack.network import ports
    from onestack.network.attributes import parse_create

    ctx = RequestContext(
        request_id="req-network-dhcp",
        user_id="network-dhcp-agent",
        project_id=network.project_id,
        roles=("admin", "member", "reader"),
    )
    values = parse_create(
        ports.RES,
        {
            "network_id": network.id,
            "device_owner": DHCP_OWNER,
            "device_id": device_id,
            "name": "",
            "binding:host_id": host,
        },
    )
    values["project_id"] = network.project_id
    created: Port = await ports.create_in(mgr, session, ctx, values, network=network, internal=True)
    return created


async def _network_info(
    session: Any, network: Network, subnets: list[Subnet], dhcp_port: Port
) -> dict[str, Any]:
    rows = (
        await session.execute(
            select(Port.id, Port.mac_address, Port.dns_name, Port.device_owner, IPAllocation)
            .join(IPAllocation, IPAllocation.port_id == Port.id)
            .where(Port.network_id == network.id)
        )
    ).all()
    hosts = []
    dhcp_ips = []
    for port_id, mac, dns_name, owner, alloc in rows:
        if port_id == dhcp_port.id:
            dhcp_ips.append({"subnet_id": alloc.subnet_id, "ip_address": alloc.ip_address})
        hostname = dns_name or "host-" + alloc.ip_address.replace(".", "-").replace(":", "-")
        hosts.append(
            {"port_id": port_id, "mac_address": mac, "ip_address": alloc.ip_address,
             "hostname": hostname, "device_owner": owner}
        )  # fmt: skip
    return {
        "id": network.id,
        "mtu": network.mtu,
        "subnets": [
            {
                "id": s.id,
                "cidr": s.cidr,
                "gateway_ip": s.gateway_ip,
                "dns_nameservers": list(s.dns_nameservers or []),
                "host_routes": list(s.host_routes or []),
            }
            for s in subnets
        ],
        "dhcp_port": {
            "id": dhcp_port.id,
            "mac_address": dhcp_port.mac_address,
            "fixed_ips": dhcp_ips,
        },
        "hosts": sorted(hosts, key=lambda h: (h["ip_address"], h["port_id"])),
    }


async def l3_routers(mgr: Any, host: str) -> list[dict[str, Any]]:
    """The routers the L3 agent of ``host`` hosts: their gateway and interface ports (MAC,
    network, MTU, addresses with prefix, the subnets' gateways) and floating IPs."""
    from onestack.network.models import FloatingIP, Router, RouterL3Agent
    from onestack.network.routers import GATEWAY, INTERFACE
    from onestack.network.scheduling import L3_AGENT

    async with mgr.read() as session:
        agent = (
            await session.execute(
                select(Agent).where(Agent.agent_type == L3_AGENT, Agent.host == host)
            )
        ).scalar()
        if agent is None:
            return []
        ids = list(
            (
                await session.execute(
                    select(RouterL3Agent.router_id).where(RouterL3Agent.agent_id == agent.id)
                )
            ).scalars()
        )
        out = []
        for router in (
            await session.execute(select(Router).where(Router.id.in_(ids)).order_by(Router.id))
        ).scalars():
            ports = (
                await session.execute(
                    select(Port)
                    .where(Port.device_id == router.id, Port.device_owner.in_((GATEWAY, INTERFACE)))
                    .order_by(Port.id)
                )
            ).scalars()
            rendered = [await _router_port(session, p) for p in ports]
            fips = (
                await session.execute(
                    select(FloatingIP.floating_ip_address, FloatingIP.fixed_ip_address)
                    .where(FloatingIP.router_id == router.id, FloatingIP.port_id.is_not(None))
                    .order_by(FloatingIP.floating_ip_address)
                )
            ).all()
            out.append(
                {
                    "id": router.id,
                    "admin_state_up": router.admin_state_up,
                    "enable_snat": router.enable_snat,
                    "gateway": next((p for p in rendered if p["owner"] == GATEWAY), None),
                    "interfaces": [p for p in rendered if p["owner"] == INTERFACE],
                    "floating_ips": [{"floating": f, "fixed": x} for f, x in fips if x],
                }
            )
    return out


async def _router_port(session: Any, port: Port) -> dict[str, Any]:
    import ipaddress

    network = await session.get(Network, port.network_id)
    ips = []
    for alloc in (
        await session.execute(select(IPAllocation).where(IPAllocation.port_id == port.id))
    ).scalars():
        subnet = await session.get(Subnet, alloc.subnet_id)
        if subnet is None or subnet.ip_version != 4:
            continue
        prefix = ipaddress.ip_network(subnet.cidr).prefixlen
        ips.append(
            {"cidr": f"{alloc.ip_address}/{prefix}", "ip_address": alloc.ip_address,
             "subnet_cidr": subnet.cidr, "gateway_ip": subnet.gateway_ip}
        )  # fmt: skip
    return {
        "id": port.id,
        "owner": port.device_owner,
        "mac_address": port.mac_address,
        "network_id": port.network_id,
        "mtu": network.mtu if network else 1500,
        "ips": ips,
    }
