"""The plug-in's RPC endpoint (topic ``q-plugin``) the dataplane agents call: heartbeats,
devices up and down, and the details of the ports they wire."""

from __future__ import annotations

from typing import Any

from onestack.common.context import RequestContext
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer

TOPIC = "q-plugin"


class PluginEndpoint:
    RPC_API_VERSION = "1.0"

    def __init__(self, manager: Any):
        self.manager = manager

    async def report_state(
        self, ctx: RequestContext | None, agent_state: dict[str, Any], start_flag: bool = False
    ) -> str:
        from onestack.network import agents

        return await agents.report_state(self.manager, agent_state, start_flag=start_flag)

    async def update_device_up(self, ctx: RequestContext | None, device: str, host: str) -> bool:
        from onestack.network import ports

        return await ports.set_status(self.manager, device, "ACTIVE", host)

    async def update_device_down(self, ctx: RequestContext | None, device: str, host: str) -> bool:
        from onestack.network import ports

        return await ports.set_status(self.manager, device, "DOWN", host)

    async def get_devices_details(
        self, ctx: RequestContext | None, devices: list[str], host: str
    ) -> list[dict[str, Any]]:
        """The wiring of ``devices``; as in Neutron, a port bound on ``host`` that the agent
        now wires goes BUILD (DOWN when administratively down) until it reports it up."""
        from onestack.network import dataplane, ports
        from onestack.network.ml2.mechanisms.base import VIF_BINDING_FAILED, VIF_UNBOUND

        details = await dataplane.device_details(self.manager, devices, host)
        for item in details:
            if item["bound_here"] and item["vif_type"] not in (VIF_UNBOUND, VIF_BINDING_FAILED):
                status = "BUILD" if item["admin_state_up"] else "DOWN"
                await ports.set_status(self.manager, item["port_id"], status, host)
        return details

    async def get_dhcp_networks(
        self, ctx: RequestContext | None, host: str
    ) -> list[dict[str, Any]]:
        """The networks ``host``'s DHCP agent serves, each with its DHCP port and hosts."""
        from onestack.network import dataplane

        return await dataplane.dhcp_networks(self.manager, host)

    async def get_routers(self, ctx: RequestContext | None, host: str) -> list[dict[str, Any]]:
        """The routers ``host``'s L3 agent hosts: ports, addresses, floating IPs."""
        from onestack.network import dataplane

        return await dataplane.l3_routers(self.manager, host)


def server(platform: Platform, manager: Any) -> RPCServer:
    return RPCServer(platform.transport, TOPIC, platform.host, [PluginEndpoint(manager)])
