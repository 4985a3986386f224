"""The fake mechanism for tests: binds every port on every host; ports go ACTIVE at once."""

from __future__ import annotations

from onestack.network.ml2.mechanisms.base import Binding, MechanismDriver, PortContext


class FakeDriver(MechanismDriver):
    name = "fake"
    supported_vnic_types = ("normal", "direct", "macvtap", "baremetal", "virtio-forwarder")

    def bind_port(self, port: PortContext) -> Binding | None:
        segment = self.segment_for(port)
        if segment is None:
            return None
        return Binding("fake", {"port_filter": True}, status="ACTIVE", segment_id=segment["id"])
