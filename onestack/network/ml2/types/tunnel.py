"""Overlay networks: VXLAN and Geneve, 24-bit ids from ``vni_ranges``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.network.errors import bad_request
from onestack.network.ml2.types.base import SegmentedDriver, SegmentSpec, parse_ranges

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from onestack.common.config import NetworkSettings

#: IPv4 + UDP + VXLAN (or Geneve's minimal) headers on the physical MTU.
OVERHEAD = 50


class TunnelDriver(SegmentedDriver):
    max_id = 2**24 - 1

    def __init__(self, conf: NetworkSettings, network_type: str, ranges: list[str]):
        super().__init__(conf)
        self.network_type = network_type
        self._ranges = parse_ranges(ranges, 1, self.max_id)

    def ranges(self, physical_network: str | None) -> list[tuple[int, int]]:
        return self._ranges

    def validate(self, spec: SegmentSpec) -> None:
        if spec.physical_network:
            raise bad_request(
                f"Invalid input for operation: provider:physical_network "
                f"specified for {self.network_type} network."
            )
        self.check_id(spec.segmentation_id)

    async def allocate_tenant(self, session: AsyncSession, segment_id: str) -> SegmentSpec | None:
        return await self.allocate(session, None, segment_id)

    def mtu(self) -> int:
        return self.conf.global_physnet_mtu - OVERHEAD
