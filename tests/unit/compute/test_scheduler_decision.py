"""The scheduler's fast decision (filtered and weighed on the cached rows) picks exactly what
the general path (host states through every filter and weigher) picks."""

from __future__ import annotations

import datetime as dt
import random
import time
from types import SimpleNamespace
from typing import Any

from onestack.common.config import ComputeSettings
from onestack.common.db import utcnow
from onestack.compute.scheduler import filters
from onestack.compute.scheduler.host_state import HostCache
from onestack.compute.scheduler.manager import Scheduler


def _scheduler(hosts: int) -> tuple[Scheduler, dict[str, Any]]:
    conf = ComputeSettings(
        weight_multipliers={"ram": 1.0, "cpu": 3.0, "disk": 0.5, "io_ops": -1.0}
    )
    cache = HostCache()
    now = utcnow()
    rng = random.Random(7)
    answer: dict[str, Any] = {"allocation_requests": [], "provider_summaries": {}}
    for i in range(hosts):
        uuid = f"rp-{i:04d}"
        cache._nodes[uuid] = (f"h{i}", f"h{i}", "fake", {}, [])
        seen = now - dt.timedelta(seconds=600 if i % 7 == 3 else 0)  # some are down
        cache._services[f"h{i}"] = (i % 11 == 5, False, seen)  # some disabled
        answer["allocation_requests"].append({"allocations": {uuid: {"resources": {"VCPU": 1}}}})
        answer["provider_summaries"][uuid] = {"resources": {
            "VCPU": {"capacity": 64, "used": rng.choice([0, 8, 8, 16])},
            "MEMORY_MB": {"capacity": 8192, "used": rng.choice([0, 512, 512, 4096])},
            "DISK_GB": {"capacity": 100, "used": rng.choice([0, 10, 50])}}}
    cache._loaded = cache._state_at = time.monotonic()
    cache._generation = 0

    def read() -> Any:
        raise AssertionError("a warm cache reads nothing")

    sched = Scheduler.__new__(Scheduler)
    sched.conf = conf
    sched.core = SimpleNamespace(read=read, host_generation=0)  # type: ignore[assignment]
    sched.hosts = cache
    sched.filters = filters.enabled(conf.enabled_filters)
    return sched, answer


async def test_fast_path_matches_the_general_path() -> None:
    sched, answer = _scheduler(300)
    base = {"flavor": {"extra_specs": {}}, "hints": {}}
    fast, found, passed = await sched.decide(answer, base)
    # an image property no host lacks makes the general path run, with the same outcome
    slow, found2, passed2 = await sched.decide(answer, {**base, "image_properties": {"x": "y"}})
    assert (found, passed) == (found2, passed2) == (300, len(slow))
    assert [h.host for h in fast] == [h.host for h in slow]
    assert all(h.enabled and h.up for h in fast)
    assert passed < found  # the down and disabled hosts were dropped
    top = fast[0]
    assert top.allocation == {"allocations": {top.uuid: {"resources": {"VCPU": 1}}}}
    assert (top.free_ram_mb, top.free_disk_gb, top.free_vcpus) == (
        slow[0].free_ram_mb, slow[0].free_disk_gb, slow[0].free_vcpus)
    assert [h.host for h in fast[1:4]] == [h.host for h in slow[1:4]]
    assert fast[-1].host == slow[-1].host
