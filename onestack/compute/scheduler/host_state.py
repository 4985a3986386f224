"""What the scheduler knows about each compute node when it decides."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
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


class HostCache:
    """Compute nodes change only when an agent registers: kept for ``ttl`` seconds (or until
    Placement names a provider not known yet). Service health and aggregates are kept for
    ``state_ttl`` seconds at most, two narrow queries."""

    def __init__(self, ttl: float = 30.0, state_ttl: float = 1.0):
        self.ttl = ttl
        self.state_ttl = state_ttl
        self._nodes: dict[str, tuple[str, str, str, dict[str, Any], list[str]]] = {}
        self._loaded = -1e9
        self._services: dict[str, tuple[bool, bool, Any]] = {}
        self._by_host: dict[str, list[dict[str, Any]]] = {}
        self._state_at = -1e9
        self._generation = -1
        self._rows: dict[str, tuple[Any, ...]] | None = None
        self._rows_key: tuple[float, str] = (0.0, "")

    async def _refresh_states(self, session: AsyncSession) -> None:
        self._services = {
            host: (disabled, forced, seen)
            for host, disabled, forced, seen in await session.execute(
                select(
                    ComputeService.host,
                    ComputeService.disabled,
                    ComputeService.forced_down,
                    ComputeService.last_seen_up,
                ).where(ComputeService.binary == "nova-compute")
            )
        }
        by_host: dict[str, list[dict[str, Any]]] = {}
        for agg in (await session.execute(select(Aggregate))).scalars():
            entry = {"name": agg.name, "uuid": agg.uuid, "metadata": dict(agg.metadata_ or {})}
            for host in agg.hosts or []:
                by_host.setdefault(host, []).append(entry)
        self._by_host = by_host
        self._state_at = time.monotonic()

    async def _refresh(self, session: AsyncSession) -> None:
        rows = await session.execute(
            select(
                ComputeNode.uuid,
                ComputeNode.host,
                ComputeNode.hypervisor_hostname,
                ComputeNode.hypervisor_type,
                ComputeNode.cpu_info,
                ComputeNode.traits,
            )
        )
        self._nodes = {r[0]: (r[1], r[2], r[3], dict(r[4] or {}), list(r[5] or [])) for r in rows}
        self._loaded = time.monotonic()

    async def rows(
        self,
        read: Callable[[], Any],
        providers: list[str],
        down_time: float,
        default_zone: str,
        generation: int = 0,
    ) -> dict[str, tuple[Any, ...]]:
        """What a host state needs of each compute node, by resource provider uuid:
        ``(host, nodename, hypervisor_type, cpu_info, traits, enabled, up_until, zone,
        aggregates)``; :meth:`state` makes one. Nodes are re-read when ``providers`` names
        one not known yet or after ``ttl``; service health and aggregates when ``generation``
        moved (this process changed them) or after ``state_ttl`` seconds (another process may
        have). ``read`` opens a read session; it is called only when something must be read."""
        clock = time.monotonic()
        nodes = clock - self._loaded > self.ttl or not self._nodes.keys() >= set(providers)
        stale = nodes or generation != self._generation or clock - self._state_at > self.state_ttl
        if not stale:
            known = self._nodes
            stale = not {known[p][0] for p in providers if p in known} <= self._services.keys()
        if stale:
            async with read() as session:
                if nodes:
                    await self._refresh(session)
                await self._refresh_states(session)
            self._generation = generation
            self._rows = None
        return self._host_rows(down_time, default_zone)

    @staticmethod
    def state(
        uuid: str,
        row: tuple[Any, ...],
        now: dt.datetime,
        free: tuple[float, float, float] = (0.0, 0.0, 0.0),
        allocation: dict[str, Any] | None = None,
    ) -> HostState:
        """The host state of one row of :meth:`rows`, up if its service beat since ``now``
        minus the down time; ``free`` is (RAM MB, disk GB, VCPUs) from Placement."""
        host, nodename, hv_type, cpu_info, traits, enabled, up_until, zone, aggs = row
        return HostState(
            host,
            nodename,
            uuid,
            enabled,
            up_until is not None and now <= up_until,
            zone,
            aggs,
            hv_type,
            cpu_info,
            traits,
            free[0],
            free[1],
            free[2],
            0,
            allocation if allocation is not None else {},
        )

    async def load(
        self,
        read: Callable[[], Any],
        providers: list[str],
        down_time: float,
        default_zone: str,
        generation: int = 0,
    ) -> dict[str, HostState]:
        """Host states of ``providers`` (resource provider uuids) that are compute nodes."""
        rows = await self.rows(read, providers, down_time, default_zone, generation)
        now = utcnow()
        return {p: self.state(p, rows[p], now) for p in providers if p in rows}

    def _host_rows(self, down_time: float, default_zone: str) -> dict[str, tuple[Any, ...]]:
        """What a host state needs of each node, worked out once per refresh: a decision
        among 1,000 hosts then only compares the time with each service's deadline."""
        key = (down_time, default_zone)
        if self._rows is not None and self._rows_key == key:
            return self._rows
        services, by_host = self._services, self._by_host
        limit = dt.timedelta(seconds=down_time)
        rows: dict[str, tuple[Any, ...]] = {}
        for uuid, (host, nodename, hv_type, cpu_info, traits) in self._nodes.items():
            service = services.get(host)
            aggs = by_host.get(host, [])
            zone = next(
                (
                    a["metadata"]["availability_zone"]
                    for a in aggs
                    if a["metadata"].get("availability_zone")
                ),
                default_zone,
            )
            up_until = (
                service[2] + limit
                if service and not service[1] and service[2] is not None
                else None
            )
            enabled = bool(service and not service[0])
            rows[uuid] = (host, nodename, hv_type, cpu_info, traits, enabled, up_until, zone, aggs)
        self._rows, self._rows_key = rows, key
        return rows
