"""Compute over HTTP, the same client against upstream Nova and against onestack.

For each target: boot N servers (flavor 42 = m1.nano, ``networks: none``) at concurrency C,
request-to-ACTIVE p50 / p99 (from the POST to the first ``GET /servers/{id}`` that shows
ACTIVE, polled every ``--poll`` s), servers per second, ``GET /servers/detail`` of the N
servers, and the CPU per boot of every process of the target (utime + stime from /proc of the
given root PIDs and all their descendants). The polls cost CPU too: the CPU of one
``GET /servers/{id}`` is measured after the run and the polls' share is reported separately.

    .venv/bin/python bench/compute_side_by_side.py --identity http://127.0.0.1:18800/identity \\
        --password-file DATA/admin-password --image IMAGE_ID \\
        --target upstream=http://127.0.0.1:18774/v2.1 --pids upstream=PID,PID,... \\
        --target onestack=http://127.0.0.1:18800/compute/v2.1 --pids onestack=PID

Writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

TICK = os.sysconf("SC_CLK_TCK")
MICROVERSION = {"OpenStack-API-Version": "compute 2.96", "X-OpenStack-Nova-API-Version": "2.96"}


def descendants(roots: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


class CpuMeter:
    """CPU of a set of process trees between two points (processes alive at the end)."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots

    def start(self) -> None:
        self.before = cpu_seconds(descendants(self.roots))

    def stop(self) -> float:
        after = cpu_seconds(descendants(self.roots))
        return sum(v - self.before.get(pid, 0.0) for pid, v in after.items())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def admin_token(identity: str, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{identity}/v3/auth/tokens", json=body)
        r.raise_for_status()
        return r.headers["X-Subject-Token"]


async def ensure_flavor(client: httpx.AsyncClient) -> None:
    r = await client.get("/flavors/42")
    if r.status_code == 404:
        r = await client.post("/flavors", json={"flavor": {
            "name": "m1.nano", "id": "42", "ram": 128, "vcpus": 1, "disk": 1}})
    r.raise_for_status()


async def run_target(name: str, url: str, roots: list[int], token: str,
                     args: argparse.Namespace) -> dict[str, Any]:
    headers = {"X-Auth-Token": token, **MICROVERSION}
    limits = httpx.Limits(max_connections=args.concurrency + 2)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300,
                                 limits=limits) as client:
        await ensure_flavor(client)
        meter = CpuMeter(roots)
        latencies: list[float] = []
        failed: list[str] = []
        polls = 0
        queue = list(range(args.servers))

        async def worker() -> None:
            nonlocal polls
            while queue:
                i = queue.pop()
                t0 = time.perf_counter()
                r = await client.post("/servers", json={"server": {
                    "name": f"{args.prefix}{i}", "imageRef": args.image, "flavorRef": "42",
                    "networks": "none"}})
                if r.status_code != 202:
                    failed.append(f"POST {r.status_code} {r.text[:200]}")
                    continue
                uuid = r.json()["server"]["id"]
                deadline = t0 + args.timeout
                while time.perf_counter() < deadline:
                    await asyncio.sleep(args.poll)
                    polls += 1
                    status = (await client.get(f"/servers/{uuid}")).json()["server"]["status"]
                    if status == "ACTIVE":
                        latencies.append(time.perf_counter() - t0)
                        break
                    if status == "ERROR":
                        failed.append(f"{uuid} ERROR")
                        break
                else:
                    failed.append(f"{uuid} not ACTIVE in {args.timeout} s")

        meter.start()
        wall0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - wall0
        boot_cpu = meter.stop()
        await asyncio.sleep(1)  # let the target settle before the per-request measurements

        # The CPU of one poll, to tell the boots' CPU from the polls'.
        r = await client.get("/servers", params={"limit": 1})
        one = r.json()["servers"][0]["id"]
        meter.start()
        for _ in range(args.poll_samples):
            (await client.get(f"/servers/{one}")).raise_for_status()
        poll_cpu = meter.stop() / args.poll_samples

        times, cpus, count = [], [], 0
        for _ in range(5):
            meter.start()
            t0 = time.perf_counter()
            r = await client.get("/servers/detail", params={"limit": args.servers})
            times.append(time.perf_counter() - t0)
            cpus.append(meter.stop())
            r.raise_for_status()
            count = len(r.json()["servers"])
    booted = args.servers - len(failed)
    return {
        "target": name, "servers": args.servers, "concurrency": args.concurrency,
        "failed": len(failed), "failures": sorted(set(failed))[:5],
        "boot_p50_ms": round(pct(latencies, 0.5) * 1000, 1),
        "boot_p99_ms": round(pct(latencies, 0.99) * 1000, 1),
        "servers_per_s": round(booted / wall, 2),
        "cpu_ms_per_boot": round(boot_cpu / max(booted, 1) * 1000, 1),
        "polls_per_boot": round(polls / max(booted, 1), 1),
        "cpu_ms_per_poll": round(poll_cpu * 1000, 2),
        "cpu_ms_per_boot_without_polls": round(
            (boot_cpu - polls * poll_cpu) / max(booted, 1) * 1000, 1),
        "detail_count": count,
        "detail_s_p50": round(statistics.median(times), 4),
        "detail_cpu_ms_p50": round(statistics.median(cpus) * 1000, 1),
    }


def pairs(values: list[str]) -> dict[str, str]:
    return dict(v.split("=", 1) for v in values)


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    token = await admin_token(args.identity.rstrip("/"), args.password_file.read_text().strip())
    pids = pairs(args.pids)
    results = []
    for name, url in pairs(args.target).items():
        roots = [int(p) for p in pids.get(name, "").split(",") if p]
        print(f"# {name}: load average {os.getloadavg()[0]:.2f}", flush=True)
        result = await run_target(name, url.rstrip("/"), roots, token, args)
        result["load_before"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identity", required=True, help="Identity URL (Keystone v3 root)")
    parser.add_argument("--password-file", type=Path, required=True, help="admin's password")
    parser.add_argument("--image", required=True, help="image id both clouds can boot")
    parser.add_argument("--target", action="append", default=[], help="NAME=COMPUTE_URL")
    parser.add_argument("--pids", action="append", default=[], help="NAME=PID,PID (roots)")
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--poll-samples", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--prefix", default="sbs-")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    out = asyncio.run(main(args))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
