"""The mechanism driver interface the dataplane plugs into."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onestack.common.config import NetworkSettings

VIF_UNBOUND = "unbound"
VIF_BINDING_FAILED = "binding_failed"


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """A live agent on the port's host, as the agents reported themselves."""

    agent_type: str
    host: str
    alive: bool
    admin_state_up: bool
    configurations: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PortContext:
    """What a driver sees of a port to bind: the port, its network's segments, the host and
    the agents on it."""

    port_id: str
    network_id: str
    host: str
    vnic_type: str
    device_owner: str
    profile: dict[str, Any]
    segments: Sequence[dict[str, Any]]  # network_type, physical_network, segmentation_id, id
    agents: Sequence[AgentInfo] = ()


@dataclass(frozen=True, slots=True)
class Binding:
    vif_type: str
    vif_details: dict[str, Any]
    #: the port's status once bound: ACTIVE when nothing else must happen, DOWN while an
    #: agent still has to wire it (the agent then reports it up)
    status: str = "DOWN"
    segment_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MechanismDriver(ABC):
    name: str
    supported_types: tuple[str, ...] = ("flat", "vlan", "vxlan", "geneve", "local")
    supported_vnic_types: tuple[str, ...] = ("normal",)

    def __init__(self, conf: NetworkSettings):
        self.conf = conf

    @abstractmethod
    def bind_port(self, port: PortContext) -> Binding | None:
        """The binding on ``port.host``, or None when this driver cannot bind it there."""

    def segment_for(self, port: PortContext) -> dict[str, Any] | None:
        """The first of the network's segments this driver handles."""
        if port.vnic_type not in self.supported_vnic_types:
            return None
        for segment in port.segments:
            if segment["network_type"] in self.supported_types:
                return segment
        return None
