"""VLAN networks: 802.1Q ids 1..4094 on a physical network (``network_vlan_ranges``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.network.errors import bad_request
from onestack.network.ml2.types.base import SegmentedDriver, SegmentSpec, parse_ranges

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from onestack.common.config import NetworkSettings


class VlanDriver(SegmentedDriver):
    network_type = "vlan"
    max_id = 4094

    def __init__(self, conf: NetworkSettings):
        super().__init__(conf)
        self.physnets: dict[str, list[tuple[int, int]]] = {}
        for entry in conf.network_vlan_ranges:
            name, _, rest = entry.partition(":")
            self.physnets.setdefault(name, [])
            if rest:
                self.physnets[name] += parse_ranges([rest], 1, self.max_id)

    def ranges(self, physical_network: str | None) -> list[tuple[int, int]]:
        if physical_network is None:
            return [r for ranges in self.physnets.values() for r in ranges]
        return self.physnets.get(physical_network, [])

    def validate(self, spec: SegmentSpec) -> None:
        if not spec.physical_network:
            raise bad_request(
                "Invalid input for operation: physical_network required for VLAN provider network."
            )
        if spec.physical_network not in self.physnets:
            raise bad_request(
                f"Invalid input for operation: physical_network "
                f"'{spec.physical_network}' unknown for VLAN provider network."
            )
        self.check_id(spec.segmentation_id)
        if spec.segmentation_id is None and not self.physnets[spec.physical_network]:
            raise bad_request(
                "Invalid input for operation: segmentation_id required for VLAN "
                f"provider network on {spec.physical_network} (it has no range)."
            )

    async def allocate_tenant(self, session: AsyncSession, segment_id: str) -> SegmentSpec | None:
        for physnet, ranges in self.physnets.items():
            if ranges:
                found = await self.allocate(session, physnet, segment_id)
                if found is not None:
                    return found
        return None
