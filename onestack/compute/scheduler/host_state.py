"""What the scheduler knows about each compute node when it decides."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.compute.models import Aggregate, ComputeNode, ComputeService


@dataclass(slots=True)
class HostState:
    host: str
    nodename: str
    uuid: str
    enabled: bool
    up: bool
    availability_zone: str
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    hypervisor_type: str = "fake"
    cpu_info: dict[str, Any] = field(default_factory=dict)
    traits: list[str] = field(default_factory=list)
    # free capacity from Placement's provider summaries
    free_ram_mb: float = 0.0
    free_disk_gb: float = 0.0
    free_vcpus: float = 0.0
    #: instances on the host with a task under way (Nova's io_ops)
    num_io_ops: int = 0
    #: the allocation request Placement offered for this host
    allocation: dict[str, Any] = field(default_factory=dict)

    def aggregate_metadata(self) -> dict[str, set[str]]:
        merged: dict[str, set[str]] = {}
        for agg in self.aggregates:
            for key, value in (agg.get("metadata") or {}).items():
                merged.setdefault(key, set()).add(str(value))
        return merged


def is_up(service: ComputeService, down_time: float, now: dt.datetime | None = None) -> bool:
    if service.forced_down or service.last_seen_up is None:
        return False
    now = now or utcnow()
    return (now - service.last_seen_up).total_seconds() <= down_time


async def load_hosts(
    session: AsyncSession, down_time: float, default_zone: str
) -> dict[str, HostState]:
    """Host states keyed by resource provider (compute node) uuid."""
    nodes = (await session.execute(select(ComputeNode))).scalars().all()
    services = {
        s.host: s
        for s in (
            await session.execute(
                select(ComputeService).where(ComputeService.binary == "nova-compute")
            )
        ).scalars()
    }
    aggregates = (await session.execute(select(Aggregate))).scalars().all()
    by_host: dict[str, list[dict[str, Any]]] = {}
    for agg in aggregates:
        entry = {"name": agg.name, "uuid": agg.uuid, "metadata": dict(agg.metadata_ or {})}
        for host in agg.hosts or []:
            by_host.setdefault(host, []).append(entry)
    now = utcnow()
    states: dict[str, HostState] = {}
    for node in nodes:
        service = services.get(node.host)
        aggs = by_host.get(node.host, [])
        zone = next(
            (
                a["metadata"]["availability_zone"]
                for a in aggs
                if a["metadata"].get("availability_zone")
            ),
            default_zone,
        )
        states[node.uuid] = HostState(
            host=node.host,
            nodename=node.hypervisor_hostname,
            uuid=node.uuid,
            enabled=bool(service and not service.disabled),
            up=bool(service and is_up(service, down_time, now)),
            availability_zone=zone,
            aggregates=aggs,
            hypervisor_type=node.hypervisor_type,
            cpu_info=dict(node.cpu_info or {}),
            traits=list(node.traits or []),
        )
    return states
