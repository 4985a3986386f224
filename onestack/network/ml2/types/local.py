"""Local networks: one host only, no segmentation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onestack.network.errors import bad_request
from onestack.network.ml2.types.base import SegmentSpec, TypeDriver

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class LocalDriver(TypeDriver):
    network_type = "local"

    def validate(self, spec: SegmentSpec) -> None:
        if spec.physical_network or spec.segmentation_id is not None:
            raise bad_request(
                "Invalid input for operation: local networks take neither "
                "physical_network nor segmentation_id."
            )

    async def reserve(
        self, session: AsyncSession, spec: SegmentSpec, segment_id: str
    ) -> SegmentSpec:
        return spec

    async def allocate_tenant(self, session: AsyncSession, segment_id: str) -> SegmentSpec:
        return SegmentSpec("local")
