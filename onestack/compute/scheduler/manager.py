"""The scheduler agent (topic ``scheduler``): picks a host for one instance and claims it.

Placement answers which providers can hold the request (capacity, traits, aggregates); the
filters then apply what only Compute knows (zones, groups, hints, capabilities, service
health), the weighers order the rest, and the best host is claimed in Placement with the
allocation request Placement offered. A claim that loses a race (another scheduler took the
capacity: Placement's generations refuse the second writer) moves on to the next host, so
several schedulers never double-book a host.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, overload

from sqlalchemy import select, update

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import APIError
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.compute.core import SharedCore
from onestack.compute.heartbeat import keep_beating
from onestack.compute.models import Instance, ServerGroup
from onestack.compute.rpcapi import SCHEDULER_TOPIC
from onestack.compute.scheduler import filters, weighers
from onestack.compute.scheduler.host_state import HostCache, HostState

LOG = logging.getLogger(__name__)


class NoValidHost(APIError):
    code, title, kind = 400, "No Valid Host", "NoValidHost"
    default_message = "No valid host was found. "


def _free(summary: dict[str, Any]) -> tuple[float, float, float]:
    """Free RAM (MB), disk (GB) and VCPUs of a provider summary."""
    res = summary.get("resources") or {}
    ram, disk, cpu = res.get("MEMORY_MB"), res.get("DISK_GB"), res.get("VCPU")
    return (
        float(ram.get("capacity", 0) - ram.get("used", 0)) if ram else 0.0,
        float(disk.get("capacity", 0) - disk.get("used", 0)) if disk else 0.0,
        float(cpu.get("capacity", 0) - cpu.get("used", 0)) if cpu else 0.0,
    )


#: Weighers a decision can score from Placement's free capacity alone (the index in
#: ``_free``'s tuple; None: a score equal on every host here, so it cannot reorder them).
_ROW_WEIGHERS: dict[str, int | None] = {"ram": 0, "disk": 1, "cpu": 2, "io_ops": None}


class _Ranked(Sequence[HostState]):
    """Hosts best first, each host state made when first asked for (the claim usually takes
    the first; a decision among 1,000 hosts then makes one host state, not 1,000)."""

    def __init__(self, items: list[Any], make: Callable[[Any], HostState]):
        self._items = items
        self._make = make
        self._made: dict[int, HostState] = {}

    def __len__(self) -> int:
        return len(self._items)

    def _at(self, index: int) -> HostState:
        host = self._made.get(index)
        if host is None:
            host = self._made[index] = self._make(self._items[index])
        return host

    @overload
    def __getitem__(self, index: int) -> HostState: ...

    @overload
    def __getitem__(self, index: slice) -> list[HostState]: ...

    def __getitem__(self, index: int | slice) -> HostState | list[HostState]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self._items)))]
        if index < 0:
            index += len(self._items)
        if not 0 <= index < len(self._items):
            raise IndexError(index)
        return self._at(index)


def required_traits(flavor: dict[str, Any], image_props: dict[str, Any]) -> list[str]:
    traits = []
    for source in (flavor.get("extra_specs") or {}, image_props):
        for key, value in source.items():
            if key.startswith("trait:") and str(value) == "required":
                traits.append(key.split(":", 1)[1])
            elif key.startswith("trait:") and str(value) == "forbidden":
                traits.append("!" + key.split(":", 1)[1])
    return sorted(set(traits))


class Scheduler:
    RPC_API_VERSION = "1.0"

    def __init__(self, platform: Platform):
        self.platform = platform
        self.core = SharedCore.get(platform)
        self.conf = self.core.conf
        self.filters = filters.enabled(self.conf.enabled_filters)
        self.server = RPCServer(platform.transport, SCHEDULER_TOPIC, platform.host, [self])
        #: seconds spent deciding, beyond Placement's answer (for the benchmark)
        self.decision_times: list[float] = []
        self._group_locks: dict[str, asyncio.Lock] = {}
        self.hosts = HostCache()

    async def start(self) -> None:
        await SharedCore.start(self.platform)
        await self.server.start()
        self._beat = keep_beating(self.core, self.platform.host, "nova-scheduler", SCHEDULER_TOPIC)

    async def stop(self) -> None:
        self._beat.cancel()
        await asyncio.gather(self._beat, return_exceptions=True)
        await self.server.stop()
        await SharedCore.stop(self.platform)

    async def _context(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Hosts of the server group's members and of the hinted instances."""
        found: dict[str, Any] = {"ignore_hosts": set(spec.get("ignore_hosts") or ())}
        hints = spec.get("hints") or {}
        if (
            not spec.get("group_uuid")
            and not hints.get("same_host")
            and not hints.get("different_host")
        ):
            return found
        async with self.core.read() as session:
            if spec.get("group_uuid"):
                group = (
                    await session.execute(
                        select(ServerGroup).where(ServerGroup.uuid == spec["group_uuid"])
                    )
                ).scalar()
                members = list(group.members) if group else []
                counts: dict[str, int] = {}
                if members:
                    rows = await session.execute(
                        select(Instance.host).where(
                            Instance.uuid.in_(members),
                            Instance.deleted.is_(False),
                            Instance.host.is_not(None),
                        )
                    )
                    for (host,) in rows:
                        counts[host] = counts.get(host, 0) + 1
                found["group_hosts"] = counts
            for hint, key in (("same_host", "same_host"), ("different_host", "different_host")):
                wanted = hints.get(hint)
                if wanted:
                    uuids = [wanted] if isinstance(wanted, str) else list(wanted)
                    rows = await session.execute(
                        select(Instance.host).where(
                            Instance.uuid.in_(uuids), Instance.deleted.is_(False)
                        )
                    )
                    found[key] = {h for (h,) in rows if h}
        return found

    async def select_destinations(
        self, ctx: RequestContext | None, spec: dict[str, Any], consumer: str, alternates: int
    ) -> list[dict[str, Any]]:
        """``[chosen, *alternates]`` as ``{host, nodename, uuid, allocation}``; the chosen
        host's allocation is claimed for ``consumer``. :class:`NoValidHost` otherwise.

        Members of one server group are decided one at a time in this scheduler, and the
        chosen host is written on the instance before the next decision, so the group
        filters see it; across schedulers the compute agent checks the policy again."""
        group = spec.get("group_uuid")
        if not group:
            return await self._select(spec, consumer, alternates)
        lock = self._group_locks.setdefault(group, asyncio.Lock())
        async with lock:
            chosen = await self._select(spec, consumer, alternates)
            async with self.core.write() as session:
                await session.execute(
                    update(Instance)
                    .where(Instance.uuid == consumer, Instance.deleted.is_(False))
                    .values(host=chosen[0]["host"], node=chosen[0]["nodename"])
                )
            return chosen

    async def decide(
        self, answer: dict[str, Any], spec: dict[str, Any]
    ) -> tuple[Sequence[HostState], int, int]:
        """Placement's answer filtered and weighed: ``(hosts best first, candidates, passed)``.

        The host cache reads the database only when it must refresh (one read transaction
        then, none otherwise)."""
        requests = answer.get("allocation_requests") or []
        providers = list(dict.fromkeys(rp for r in requests for rp in (r.get("allocations") or {})))
        rows = await self.hosts.rows(
            self.core.read,
            providers,
            self.conf.service_down_time,
            self.conf.default_availability_zone,
            self.core.host_generation,
        )
        summaries = answer.get("provider_summaries") or {}
        now = utcnow()
        # one (provider, row, free capacity, allocations) per allocation request
        found: list[tuple[str, tuple[Any, ...], tuple[float, float, float], dict[str, Any]]] = []
        for request in requests:
            allocations = request.get("allocations") or {}
            for root in allocations:  # the compute node among the request's providers
                if root in rows:
                    break
            else:
                continue
            found.append((root, rows[root], _free(summaries.get(root) or {}), allocations))
        context = await self._context(spec)
        active = filters.for_request(self.filters, spec, context)
        scoring = weighers.applied(spec, self.conf.weight_multipliers)
        state = self.hosts.state
        if all(f is filters.compute_filter for f in active) and all(
            name in _ROW_WEIGHERS for name, _ in scoring
        ):
            # the usual request: filtered and weighed on the rows; host states are made only
            # for the hosts the claim loop reaches
            total = len(found)
            if active:
                found = [c for c in found if c[1][5] and c[1][6] is not None and now <= c[1][6]]
            order = list(range(len(found)))
            if len(found) > 1:
                columns = [
                    (m, [c[2][_ROW_WEIGHERS[name]] for c in found])
                    for name, m in scoring
                    if _ROW_WEIGHERS[name] is not None  # io_ops: no task counts, all equal
                ]
                order = weighers.best_first(columns, len(found))
            subset = min(self.conf.host_subset_size, len(order))
            if subset > 1:
                order.insert(0, order.pop(random.randrange(subset)))
            ranked = _Ranked(
                [found[i] for i in order],
                lambda c: state(c[0], c[1], now, c[2], {"allocations": c[3]}),
            )
            return ranked, total, len(ranked)
        candidates = [state(r, row, now, free, {"allocations": a}) for r, row, free, a in found]
        passed = candidates
        for check in active:  # one filter at a time over the survivors: no generator per host
            passed = [h for h in passed if check(h, spec, context)]
        ordered = weighers.weigh(passed, spec, context, self.conf.weight_multipliers)
        subset = min(self.conf.host_subset_size, len(ordered))
        if subset > 1:
            first = random.choice(ordered[:subset])
            ordered.remove(first)
            ordered.insert(0, first)
        return ordered, len(candidates), len(passed)

    async def _select(
        self, spec: dict[str, Any], consumer: str, alternates: int
    ) -> list[dict[str, Any]]:
        flavor = spec.get("flavor") or {}
        resources = spec["resources"]
        answer = await self.core.placement.candidates(
            resources,
            limit=self.conf.max_placement_results,
            required=required_traits(flavor, spec.get("image_properties") or {}),
        )
        started = time.perf_counter()
        ordered, candidates, passed = await self.decide(answer, spec)
        self.decision_times.append(time.perf_counter() - started)
        if len(self.decision_times) > 10000:
            del self.decision_times[:5000]
        for i, host in enumerate(ordered):
            claimed = await self.core.placement.claim(
                consumer,
                host.allocation["allocations"],
                project_id=spec["project_id"],
                user_id=spec["user_id"],
            )
            if claimed:
                chosen = [host, *ordered[i + 1 : i + 1 + alternates]]
                return [
                    {
                        "zone": h.availability_zone,
                        "host": h.host,
                        "nodename": h.nodename,
                        "uuid": h.uuid,
                        "allocation": h.allocation,
                    }
                    for h in chosen
                ]
            LOG.info("claim on %s lost a race for %s; trying the next host", host.host, consumer)
        why = "There are not enough hosts available."
        if candidates and not passed:
            why = "No host passed the scheduler filters."
        raise NoValidHost(f"No valid host was found. {why}")
