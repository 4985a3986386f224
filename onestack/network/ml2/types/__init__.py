"""Type drivers: flat, vlan, vxlan, geneve, local; :class:`TypeManager` picks by type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.network.errors import bad_request
from onestack.network.ml2.types.base import SegmentSpec, TypeDriver
from onestack.network.ml2.types.flat import FlatDriver
from onestack.network.ml2.types.local import LocalDriver
from onestack.network.ml2.types.tunnel import TunnelDriver
from onestack.network.ml2.types.vlan import VlanDriver

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from onestack.common.config import NetworkSettings

__all__ = ["SegmentSpec", "TypeDriver", "TypeManager"]


class TypeManager:
    """The enabled type drivers; tenant networks get the first tenant type with a free id."""

    def __init__(self, conf: NetworkSettings):
        self.conf = conf
        known: dict[str, TypeDriver] = {
            "flat": FlatDriver(conf),
            "vlan": VlanDriver(conf),
            "vxlan": TunnelDriver(conf, "vxlan", conf.vni_ranges),
            "geneve": TunnelDriver(conf, "geneve", conf.geneve_vni_ranges),
            "local": LocalDriver(conf),
        }
        self.drivers = {name: known[name] for name in conf.type_drivers if name in known}

    def driver(self, network_type: str) -> TypeDriver:
        found = self.drivers.get(network_type)
        if found is None:
            raise bad_request(
                f"Invalid input for operation: network_type value '{network_type}' not supported."
            )
        return found

    async def reserve_provider(
        self, session: AsyncSession, spec: SegmentSpec, segment_id: str
    ) -> SegmentSpec:
        driver = self.driver(spec.network_type)
        driver.validate(spec)
        return await driver.reserve(session, spec, segment_id)

    async def allocate_tenant(self, session: AsyncSession, segment_id: str) -> SegmentSpec:
        for name in self.conf.tenant_network_types:
            driver = self.drivers.get(name)
            if driver is None:
                continue
            spec = await driver.allocate_tenant(session, segment_id)
            if spec is not None:
                return spec
        from onestack.network.errors import conflict

        raise conflict(
            "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.",
        )

    def mtu(self, network_type: str) -> int:
        return self.driver(network_type).mtu()
