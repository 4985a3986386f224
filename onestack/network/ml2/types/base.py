"""The type driver interface and the allocation machinery the typed drivers share."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from onestack.network.errors import bad_request, conflict
from onestack.network.models import SegmentAllocation

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from onestack.common.config import NetworkSettings


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None


def parse_ranges(entries: list[str], low: int, high: int) -> list[tuple[int, int]]:
    """``["1:1000", "2000:2100"]`` -> [(1, 1000), (2000, 2100)], clamped to the valid ids."""
    out = []
    for entry in entries:
        a, _, b = entry.partition(":")
        first, last = int(a), int(b or a)
        if first > last or first < low or last > high:
            raise ValueError(f"invalid segmentation id range {entry!r} ({low}..{high})")
        out.append((first, last))
    return out


class TypeDriver(ABC):
    network_type: str

    def __init__(self, conf: NetworkSettings):
        self.conf = conf

    @abstractmethod
    def validate(self, spec: SegmentSpec) -> None:
        """400 unless ``spec`` is a valid provider segment of this type."""

    @abstractmethod
    async def reserve(
        self, session: AsyncSession, spec: SegmentSpec, segment_id: str
    ) -> SegmentSpec:
        """Take the provider segment's id (409 if taken); may fill in a missing id."""

    async def allocate_tenant(self, session: AsyncSession, segment_id: str) -> SegmentSpec | None:
        """A segment for a tenant network, or None when this type has none free."""
        return None

    async def release(self, session: AsyncSession, spec: SegmentSpec) -> None:
        """Give the segment's id back (allocation rows go with their segment)."""
        return None

    def mtu(self) -> int:
        return self.conf.global_physnet_mtu


class SegmentedDriver(TypeDriver):
    """Drivers whose segments carry ids from configured ranges (vlan, vxlan, geneve).

    A taken id is a row of ``network_segment_allocations``, whose primary key makes two
    segments on one id impossible on every backend; an allocation tries free candidates in a
    savepoint and moves on when a concurrent request took the same one first."""

    max_id = 0

    def ranges(self, physical_network: str | None) -> list[tuple[int, int]]:
        return []

    def check_id(self, value: int | None) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= self.max_id:
            raise bad_request(
                f"Invalid input for operation: segmentation_id {value} out of "
                f"range for {self.network_type} (1 through {self.max_id})."
            )

    async def take(self, session: AsyncSession, spec: SegmentSpec, segment_id: str) -> bool:
        row = SegmentAllocation(
            network_type=self.network_type,
            physical_network=spec.physical_network or "",
            segmentation_id=spec.segmentation_id,
            segment_id=segment_id,
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            return False
        return True

    async def reserve(
        self, session: AsyncSession, spec: SegmentSpec, segment_id: str
    ) -> SegmentSpec:
        if spec.segmentation_id is None:
            found = await self.allocate(session, spec.physical_network, segment_id)
            if found is None:
                raise conflict(
                    "NoNetworkAvailable",
                    "Unable to create the network. No "
                    f"{self.network_type} id is available for allocation.",
                )
            return found
        if not await self.take(session, spec, segment_id):
            where = f" on physical network {spec.physical_network}" if spec.physical_network else ""
            raise conflict(
                "SegmentationIdInUse" if spec.physical_network else "TunnelIdInUse",
                f"Unable to create the network. The {self.network_type} "
                f"{spec.segmentation_id}{where} is in use.",
            )
        return spec

    async def allocate(
        self, session: AsyncSession, physical_network: str | None, segment_id: str
    ) -> SegmentSpec | None:
        ranges = self.ranges(physical_network)
        if not ranges:
            return None
        taken_rows = await session.execute(
            select(SegmentAllocation.segmentation_id).where(
                SegmentAllocation.network_type == self.network_type,
                SegmentAllocation.physical_network == (physical_network or ""),
            )
        )
        taken = {r[0] for r in taken_rows}
        for first, last in ranges:
            free = [i for i in range(first, last + 1) if i not in taken]
            # the lowest few in random order: concurrent allocators rarely pick the same one
            candidates = free[:8]
            random.shuffle(candidates)
            for candidate in candidates + free[8:]:
                spec = SegmentSpec(self.network_type, physical_network, candidate)
                if await self.take(session, spec, segment_id):
                    return spec
        return None

    async def release(self, session: AsyncSession, spec: SegmentSpec) -> None:
        await session.execute(
            delete(SegmentAllocation).where(
                SegmentAllocation.network_type == self.network_type,
                SegmentAllocation.physical_network == (spec.physical_network or ""),
                SegmentAllocation.segmentation_id == spec.segmentation_id,
            )
        )
