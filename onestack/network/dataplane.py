"""What the dataplane agents read: the wiring of the ports bound to their host."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack.network.models import IPAllocation, Port, PortSecurityGroup, Segment


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
            out.append(
                {
                    "device": port.id,
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
