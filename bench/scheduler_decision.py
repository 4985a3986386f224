"""The scheduler's decision among H hosts beyond the Placement query, in one process:

H compute nodes and their nova-compute service records are written straight into the
database (no agents, no Placement providers), a Placement answer naming all H as candidates
(allocation requests and provider summaries with varied free capacity, as Placement renders
them) is built once, and ``Scheduler.decide`` (host states, filters, weighers: what
``select_destinations`` does between the Placement query and the claim) runs N times with a
default request spec: ``Scheduler._select`` with Placement stubbed (the answer at once, every
claim granted), timed by the scheduler's own ``decision_times``, so the same harness runs
against older trees. Wall p50 / p99 / min of the decision, process CPU per ``_select``.

    .venv/bin/python bench/scheduler_decision.py --hosts 1000 --decisions 300

Writes nothing into the repository; the data dir is a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onestack.common.config import load_settings
from onestack.server import Cloud


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import insert

    from onestack.common.db import utcnow
    from onestack.compute.core import SharedCore
    from onestack.compute.models import ComputeNode, ComputeService

    data_dir = Path(tempfile.mkdtemp(prefix="onestack-bench-sched-"))
    cloud = Cloud(load_settings(data_dir=data_dir, port=8999, log_level="WARNING",
                                compute={"fake_hosts": 1, "virt_driver": "fake"}))
    await cloud.start()
    try:
        core = SharedCore.get(cloud.platform)
        scheduler = next(a for a in cloud.agents if type(a).__name__ == "Scheduler")
        uuids = [str(uuidlib.uuid4()) for _ in range(args.hosts)]
        now = utcnow()
        async with core.write() as session:
            await session.execute(insert(ComputeService), [
                {"uuid": str(uuidlib.uuid4()), "host": f"bench{i}", "binary": "nova-compute",
                 "topic": "compute", "last_seen_up": now} for i in range(args.hosts)])
            await session.execute(insert(ComputeNode), [
                {"uuid": u, "host": f"bench{i}", "hypervisor_hostname": f"bench{i}",
                 "vcpus": 16, "memory_mb": 65536, "local_gb": 1000,
                 "cpu_info": {"arch": "x86_64"}, "traits": []} for i, u in enumerate(uuids)])
        resources = {"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1}
        answer = {
            "allocation_requests": [{"allocations": {u: {"resources": dict(resources)}}}
                                    for u in uuids],
            "provider_summaries": {u: {"resources": {
                "VCPU": {"capacity": 256, "used": i % 50},
                "MEMORY_MB": {"capacity": 97536, "used": (i * 128) % 60000},
                "DISK_GB": {"capacity": 1000, "used": i % 300}}, "traits": []}
                for i, u in enumerate(uuids)},
        }
        spec = {"flavor": {"flavorid": "42", "vcpus": 1, "memory_mb": 128, "root_gb": 1,
                           "extra_specs": {}}, "resources": resources, "image_properties": {},
                "project_id": "p", "user_id": "u", "hints": {}}
        class Stub:  # Placement answers at once; every claim succeeds
            async def candidates(self, *a: Any, **k: Any) -> dict[str, Any]:
                return answer

            async def claim(self, *a: Any, **k: Any) -> bool:
                return True

        real, core.placement = core.placement, Stub()
        try:
            chosen = await scheduler._select(spec, "bench", 0)
            assert chosen, chosen
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                for _ in range(50):
                    await scheduler._select(spec, "bench", 0)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(15)
            del scheduler.decision_times[:]
            walls, cpus = [], []
            for _ in range(args.decisions):
                c0 = time.process_time()
                await scheduler._select(spec, "bench", 0)
                cpus.append(time.process_time() - c0)
            walls = list(scheduler.decision_times)  # the scheduler's own timing
        finally:
            core.placement = real
        return {"hosts": args.hosts, "decisions": args.decisions,
                "wall_ms_p50": round(pct(walls, 0.5) * 1000, 2),
                "wall_ms_p99": round(pct(walls, 0.99) * 1000, 2),
                "wall_ms_min": round(min(walls) * 1000, 2),
                "cpu_ms_mean_select": round(statistics.mean(cpus) * 1000, 2)}
    finally:
        await cloud.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of 50")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
