"""Compute on the fake virt driver, in one process (the all-in-one server's code path):

- boot N servers at concurrency C: request-to-ACTIVE p50 / p99 and servers per second
  (ACTIVE is observed from the ``instance.create.end`` notification on the bus);
- a scheduling decision among H simulated hosts: the scheduler's own time (filters, weighers)
  beyond the Placement query, and the Placement query itself;
- ``GET /servers/detail`` of the N servers;
- RSS of H simulated hosts (the process's RSS before and after the agent starts them).

    .venv/bin/python bench/compute.py --servers 1000 --concurrency 20 --hosts 1000

Writes nothing into the repository; the data dir is a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inprocess import admin_token  # bench/, the script's own directory

from onestack.common.config import load_settings
from onestack.common.notifications import NotificationListener
from onestack.server import Cloud


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="onestack-bench-compute-"))
    unlimited = {k: -1 for k in ("instances", "cores", "ram")}
    settings = load_settings(
        data_dir=data_dir, port=8999, log_level="WARNING",
        compute={"fake_hosts": 1, "virt_driver": "fake",  # simulated hosts, no real guests
                 "max_placement_results": args.placement_limit,
                 "default_quotas": {
            **load_settings(data_dir=data_dir).compute.default_quotas, **unlimited}})
    cloud = Cloud(settings)
    await cloud.start()
    results: dict[str, Any] = {}
    try:
        from onestack.compute.manager import ComputeAgent, host_names

        before = rss_mb()
        started = time.perf_counter()
        agent = ComputeAgent(cloud.platform, hosts=host_names(cloud.platform, args.hosts))
        await agent.start()
        results["hosts"] = args.hosts
        results["hosts_start_s"] = round(time.perf_counter() - started, 2)
        results["hosts_rss_mb"] = round(rss_mb() - before, 1)
        transport = httpx.ASGITransport(app=cloud.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     timeout=120) as client:
            headers = {"X-Auth-Token": await admin_token(client, data_dir),
                       "OpenStack-API-Version": "compute 2.96"}
            r = await client.post("/image/v2/images", headers=headers, json={
                "name": "bench", "disk_format": "raw", "container_format": "bare",
                "visibility": "public"})
            image = r.json()["id"]
            await client.put(f"/image/v2/images/{image}/file", content=b"\0" * 1024,
                             headers={**headers, "Content-Type": "application/octet-stream"})
            await boot_run(cloud, client, headers, image, args, results)
            t0 = time.perf_counter()
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = await client.get("/compute/v2.1/servers/detail", headers=headers)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200
            results["servers_detail_count"] = len(r.json()["servers"])
            results["servers_detail_s_p50"] = round(statistics.median(times), 4)
            await scheduling_run(cloud, results)
        await agent.stop()
    finally:
        await cloud.stop()
    return results


async def boot_run(cloud: Cloud, client: httpx.AsyncClient, headers: dict[str, str],
                   image: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    done: dict[str, asyncio.Event] = {}
    failed: dict[str, str] = {}
    finished_at: dict[str, float] = {}

    async def on_event(note: Any) -> None:
        if note.event_type in ("instance.create.end", "instance.create.error"):
            uuid = note.payload["nova_object.data"]["uuid"]
            finished_at[uuid] = time.perf_counter()
            if note.event_type.endswith("error"):
                failed[uuid] = str(note.payload["nova_object.data"].get("fault"))
            done.setdefault(uuid, asyncio.Event()).set()

    listener = NotificationListener(cloud.platform.transport, on_event,
                                    topics=("versioned_notifications",), pool="bench")
    await listener.start()
    latencies: list[float] = []
    queue = list(range(args.servers))
    cpu0 = time.process_time()
    wall0 = time.perf_counter()

    async def worker() -> None:
        while queue:
            i = queue.pop()
            t0 = time.perf_counter()
            r = await client.post("/compute/v2.1/servers", headers=headers, json={"server": {
                "name": f"b{i}", "imageRef": image, "flavorRef": "42", "networks": "none"}})
            assert r.status_code == 202, r.text
            uuid = r.json()["server"]["id"]
            event = done.setdefault(uuid, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), 120)
            except TimeoutError:
                failed[uuid] = "no instance.create.end in 120 s"
                continue
            if uuid not in failed:
                latencies.append(finished_at[uuid] - t0)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    await listener.stop()
    if failed:
        results["failed"] = len(failed)
        results["failures"] = sorted(set(failed.values()))[:5]
    results.update(
        servers=args.servers, concurrency=args.concurrency,
        boot_p50_ms=round(pct(latencies, 0.5) * 1000, 1),
        boot_p99_ms=round(pct(latencies, 0.99) * 1000, 1),
        servers_per_s=round(args.servers / wall, 1),
        cpu_ms_per_boot=round(cpu / args.servers * 1000, 2))


async def scheduling_run(cloud: Cloud, results: dict[str, Any]) -> None:
    """The scheduler's decisions during the boot run, and the Placement query alone."""
    from onestack.compute.core import SharedCore

    scheduler = next(a for a in cloud.agents if type(a).__name__ == "Scheduler")
    decisions = list(scheduler.decision_times)  # type: ignore[attr-defined]
    results["decision_ms_p50"] = round(pct(decisions, 0.5) * 1000, 2)
    results["decision_ms_p99"] = round(pct(decisions, 0.99) * 1000, 2)
    core = SharedCore.get(cloud.platform)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        answer = await core.placement.candidates({"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1},
                                                 limit=core.conf.max_placement_results)
        times.append(time.perf_counter() - t0)
    results["placement_candidates"] = len(answer.get("allocation_requests", []))
    results["placement_query_ms_p50"] = round(pct(times, 0.5) * 1000, 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--placement-limit", type=int, default=1000,
                        help="[compute] max_placement_results (Nova's default: 1000)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    out = asyncio.run(main(args))
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
