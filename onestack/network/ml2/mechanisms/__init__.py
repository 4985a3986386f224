"""Mechanism drivers decide how a port is bound on a host (``binding:vif_type`` /
``binding:vif_details``) and what its status becomes; :class:`MechanismManager` asks the
configured drivers in order and the first that binds wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.network.ml2.mechanisms.base import (
    VIF_BINDING_FAILED,
    VIF_UNBOUND,
    Binding,
    MechanismDriver,
    PortContext,
)

if TYPE_CHECKING:
    from onestack.common.config import NetworkSettings

__all__ = ["Binding", "MechanismDriver", "MechanismManager", "PortContext"]

#: Driver names -> "module:Class"; the dataplane issue adds its real driver here.
DRIVERS = {
    "linuxbridge": "onestack.network.ml2.mechanisms.linuxbridge:LinuxBridgeDriver",
    "fake": "onestack.network.ml2.mechanisms.fake:FakeDriver",
}


class MechanismManager:
    def __init__(self, conf: NetworkSettings):
        import importlib

        self.drivers: list[MechanismDriver] = []
        for name in conf.mechanism_drivers:
            if name not in DRIVERS:
                raise ValueError(f"unknown mechanism driver {name!r}; known: {sorted(DRIVERS)}")
            module, _, cls = DRIVERS[name].partition(":")
            self.drivers.append(getattr(importlib.import_module(module), cls)(conf))

    def bind(self, port: PortContext) -> Binding:
        """The binding of ``port`` on ``port.host``: unbound without a host, failed when no
        driver can bind it."""
        if not port.host:
            return Binding(VIF_UNBOUND, {}, status="DOWN")
        for driver in self.drivers:
            binding = driver.bind_port(port)
            if binding is not None:
                return binding
        return Binding(VIF_BINDING_FAILED, {}, status="DOWN")
