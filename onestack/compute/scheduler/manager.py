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
from typing import Any

from sqlalchemy import select, update

from onestack.common.context import RequestContext
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
    """Free RAM (MB), VCPUs and disk (GB) of a provider summary."""
    res = summary.get("resources") or {}
    out = []
    for rc in ("MEMORY_MB", "VCPU", "DISK_GB"):
        r = res.get(rc)
        out.append(float(r.get("capacity", 0)) - float(r.get("used", 0)) if r else 0.0)
    return out[0], out[1], out[2]


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
        requests = answer.get("allocation_requests") or []
        providers = list(dict.fromkeys(rp for r in requests for rp in (r.get("allocations") or {})))
        async with self.core.read() as session:
            states = await self.hosts.load(
                session,
                providers,
                self.conf.service_down_time,
                self.conf.default_availability_zone,
                self.core.host_generation,
            )
        summaries = answer.get("provider_summaries") or {}
        candidates: list[HostState] = []
        for request in requests:
            allocations = request.get("allocations") or {}
            root = next((rp for rp in allocations if rp in states), None)
            if root is None:
                continue
            host = states[root]
            host.free_ram_mb, host.free_vcpus, host.free_disk_gb = _free(summaries.get(root) or {})
            host.allocation = {"allocations": allocations}
            candidates.append(host)
        context = await self._context(spec)
        active = filters.for_request(self.filters, spec, context)
        passed = [h for h in candidates if all(f(h, spec, context) for f in active)]
        ordered = weighers.weigh(passed, spec, context, self.conf.weight_multipliers)
        subset = min(self.conf.host_subset_size, len(ordered))
        if subset > 1:
            first = random.choice(ordered[:subset])
            ordered.remove(first)
            ordered.insert(0, first)
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
