"""The Linux bridge mechanism: a tap device on a bridge ``osbr<network id[:10]>`` per network,
wired by the host's L2 agent (``Linux bridge agent``), which reports the port up.

Until a dataplane agent reports on a host, ``[network] bind_without_agent`` (the default)
binds there anyway and the port goes ACTIVE at once; the dataplane turns it off."""

from __future__ import annotations

from onestack.network.ml2.mechanisms.base import Binding, MechanismDriver, PortContext

AGENT_TYPE = "Linux bridge agent"


def bridge_name(network_id: str) -> str:
    return "osbr" + network_id[:10]  # onestack.common.netlink.bridge_name


class LinuxBridgeDriver(MechanismDriver):
    name = "linuxbridge"
    supported_vnic_types = ("normal",)

    def bind_port(self, port: PortContext) -> Binding | None:
        segment = self.segment_for(port)
        if segment is None:
            return None
        agents = [a for a in port.agents if a.agent_type == AGENT_TYPE and a.host == port.host]
        live = [a for a in agents if a.alive and a.admin_state_up]
        if live:
            mappings = live[0].configurations.get("interface_mappings") or {}
            physnet = segment.get("physical_network")
            if physnet and mappings and physnet not in mappings:
                return None
            status = "DOWN"
        elif agents or not self.conf.bind_without_agent:
            return None
        else:
            status = "ACTIVE"
        details = {
            "port_filter": True,
            "connectivity": "l2",
            "bridge_name": bridge_name(port.network_id),
        }
        return Binding("bridge", details, status=status, segment_id=segment.get("id"))
