"""Flat networks: a whole physical network, one network per physical network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from onestack.network.errors import bad_request, conflict
from onestack.network.ml2.types.base import SegmentSpec, TypeDriver
from onestack.network.models import FlatAllocation

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class FlatDriver(TypeDriver):
    network_type = "flat"

    def validate(self, spec: SegmentSpec) -> None:
        if not spec.physical_network:
            raise bad_request(
                "Invalid input for operation: physical_network required for flat provider network."
            )
        allowed = self.conf.flat_networks
        if "*" not in allowed and spec.physical_network not in allowed:
            raise bad_request(
                f"Invalid input for operation: physical_network "
                f"'{spec.physical_network}' unknown for flat provider network."
            )
        if spec.segmentation_id is not None:
            raise bad_request(
                "Invalid input for operation: segmentation_id specified for flat provider network."
            )

    async def reserve(
        self, session: AsyncSession, spec: SegmentSpec, segment_id: str
    ) -> SegmentSpec:
        try:
            async with session.begin_nested():
                session.add(
                    FlatAllocation(physical_network=spec.physical_network, segment_id=segment_id)
                )
                await session.flush()
        except IntegrityError:
            raise conflict(
                "FlatNetworkInUse",
                f"Unable to create the flat network. Physical network "
                f"{spec.physical_network} is in use.",
            ) from None
        return spec
