#!/usr/bin/env python3
"""Placement, onestack beside upstream Placement 16, in one run (shared/BENCHMARKS.md).

Both sides get the same data through the same API: 1,000 providers with VCPU (16.0 ratio),
MEMORY_MB and DISK_GB inventories, every tenth one with the trait CUSTOM_GPU, each in one of
10 aggregates. Then, with wrk (one after the other, after a warm-up, from an idle server):

- GET /allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:10 with limit=1000,
  limit=10, member_of=<one aggregate> and required=CUSTOM_GPU (-t1 -c1);
- an allocation claim, PUT /allocations/{new consumer} (-t1 -c1 and -t2 -c16);
- GET /resource_providers (all 1,000, -t1 -c1);

each with p50/p99 latency, requests per second and the server's CPU per request; then the
start time (spawn to first answer) and the idle RSS. Upstream runs in its own venv
(bench/.upstream/placement: ``pip install openstack-placement==16.0.0 uwsgi``) under uWSGI,
one process and one thread, on SQLite, with ``auth_strategy = noauth2`` (no token
validation at all, which favours upstream); onestack runs ``onestack up --services
identity,placement`` and validates a real Keystone token on every request.

Usage (the project's venv; root for apt-get if wrk is missing):

    .venv/bin/python bench/placement.py --out /tmp/placement.md
    .venv/bin/python bench/placement.py --duration 5 --skip-upstream   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keystone_tokens import (
    bench_lock,
    cpu_ticks,
    ensure_wrk,
    loadavg,
    log,
    process_tree,
    run_wrk,
    wait_idle,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "onestack-bench" / "placement"
UPSTREAM = HERE / ".upstream" / "placement"
CLK_TCK = os.sysconf("SC_CLK_TCK")
VERSION = {"OpenStack-API-Version": "placement 1.39"}
QUERY = "resources=VCPU:1,MEMORY_MB:512,DISK_GB:10"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(root: int) -> float:
    total = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class Side:
    name: str
    url: str  # the Placement root
    token: str
    process: subprocess.Popen[bytes]
    start_s: float
    providers: list[str]
    aggregates: list[str]

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Run:
    side: str
    kind: str
    connections: int
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    errors: int
    loadavg_before: float


def wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def start_onestack(port: int) -> tuple[subprocess.Popen[bytes], str, float, Path]:
    data = WORK / "onestack"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    log_file = open(WORK / "onestack.log", "ab")  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/onestack"), "up", "--data-dir", str(data), "--port", str(port),
         "--services", "identity,placement"],
        stdout=log_file, stderr=subprocess.STDOUT,
        env={**os.environ, "ONESTACK_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{port}"
    wait_up(f"{base}/healthcheck", proc)
    while httpx.get(f"{base}/healthcheck").status_code != 200:
        time.sleep(0.05)
    took = time.monotonic() - started
    return proc, f"{base}/placement", took, data


def onestack_token(base: str, data: Path) -> str:
    password = (data / "admin-password").read_text().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = httpx.post(f"{base}/identity/v3/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["x-subject-token"]


def start_upstream(port: int) -> tuple[subprocess.Popen[bytes], float]:
    conf = WORK / "upstream"
    shutil.rmtree(conf, ignore_errors=True)
    conf.mkdir(parents=True)
    (conf / "placement.conf").write_text(
        "[DEFAULT]\ndebug = false\n[api]\nauth_strategy = noauth2\n"
        f"[placement_database]\nconnection = sqlite:///{conf}/placement.sqlite\n"
    )
    env = {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(conf)}
    subprocess.run([str(UPSTREAM / "bin/placement-manage"), "--config-file",
                    str(conf / "placement.conf"), "db", "sync"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_file = open(WORK / "upstream.log", "ab")  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(UPSTREAM / "bin/uwsgi"), "--http", f"127.0.0.1:{port}", "--module",
         "placement.wsgi.api:application", "--processes", "1", "--threads", "1",
         "--http-keepalive", "--die-on-term", "--need-app", "--disable-logging",
         "--master", "--lazy-apps"],
        stdout=log_file, stderr=subprocess.STDOUT, env=env,
    )
    took = started
    wait_up(f"http://127.0.0.1:{port}/", proc)
    return proc, time.monotonic() - took


async def populate(url: str, token: str, count: int) -> tuple[list[str], list[str]]:
    """The benchmark's providers through the API; (provider uuids, aggregate uuids)."""
    import uuid

    headers = {"X-Auth-Token": token, **VERSION}
    aggregates = [str(uuid.UUID(int=i + 1)) for i in range(10)]
    providers = [str(uuid.uuid4()) for _ in range(count)]
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as client:
        r = await client.put(f"{url}/traits/CUSTOM_GPU")
        assert r.status_code in (201, 204), r.text
        sem = asyncio.Semaphore(4)

        async def one(i: int, rp: str) -> None:
            async with sem:
                r = await client.post(f"{url}/resource_providers",
                                      json={"name": f"bench-host-{i:04d}", "uuid": rp})
                assert r.status_code == 200, r.text
                inventories = {
                    "VCPU": {"total": 64, "allocation_ratio": 16.0},
                    "MEMORY_MB": {"total": 262144, "allocation_ratio": 1.5},
                    "DISK_GB": {"total": 4096},
                }
                r = await client.put(f"{url}/resource_providers/{rp}/inventories", json={
                    "inventories": inventories, "resource_provider_generation": 0})
                assert r.status_code == 200, r.text
                r = await client.put(f"{url}/resource_providers/{rp}/aggregates", json={
                    "aggregates": [aggregates[i % 10]], "resource_provider_generation": 1})
                assert r.status_code == 200, r.text
                if i % 10 == 0:
                    r = await client.put(f"{url}/resource_providers/{rp}/traits", json={
                        "traits": ["CUSTOM_GPU"], "resource_provider_generation": 2})
                    assert r.status_code == 200, r.text

        await asyncio.gather(*(one(i, rp) for i, rp in enumerate(providers)))
    return providers, aggregates


def kinds(side: Side) -> dict[str, tuple[str, str, list[int]]]:
    """name -> (lua script, URL, connection counts)."""
    ac = f"{side.url}/allocation_candidates?{QUERY}"
    return {
        "candidates limit=1000": ("placement_get", f"{ac}&limit=1000", [1]),
        "candidates limit=10": ("placement_get", f"{ac}&limit=10", [1]),
        "candidates member_of": ("placement_get",
                                 f"{ac}&limit=1000&member_of={side.aggregates[3]}", [1]),
        "candidates required trait": ("placement_get",
                                      f"{ac}&limit=1000&required=CUSTOM_GPU", [1]),
        "claim": ("placement_claim", side.url, [1, 16]),
        "list 1,000 providers": ("placement_get", f"{side.url}/resource_providers", [1]),
    }


def preflight(side: Side) -> dict[str, int]:
    """Each query answers 200 on this side; how many candidates each finds."""
    counts = {}
    with httpx.Client(headers={"X-Auth-Token": side.token, **VERSION}, timeout=120) as client:
        for kind, (script, url, _) in kinds(side).items():
            if script != "placement_get":
                continue
            r = client.get(url)
            assert r.status_code == 200, (side.name, kind, r.text[:500])
            body = r.json()
            counts[kind] = len(body.get("allocation_requests", body.get("resource_providers",
                                                                        [])))
    return counts


def measure(args: argparse.Namespace, side: Side, kind: str, script: str, url: str,
            conns: int) -> Run:
    env = {"BENCH_TOKEN": side.token, "BENCH_PROVIDERS": ",".join(side.providers)}
    threads = 1 if conns == 1 else 2

    def argv(duration: float) -> list[str]:
        return [args.wrk, f"-t{threads}", f"-c{conns}", f"-d{duration:g}s", "--latency",
                "--timeout", "30s", "-s", str(HERE / "wrk" / f"{script}.lua"), url]

    if args.warmup > 0:
        run_wrk(argv(args.warmup), env)
    wait_idle(side.pid, window=0.5, max_ticks=5, timeout=60)
    load = loadavg()[0]
    t0 = cpu_ticks(side.pid)
    result, _ = run_wrk(argv(args.duration), env)
    t1 = cpu_ticks(side.pid)
    requests = result["requests"]
    errors = sum(result["errors"].values())
    duration = result["duration_us"] / 1e6
    lat = result["latency_us"]
    run = Run(side.name, kind, conns, requests, duration, requests / duration,
              lat["p50"] / 1000, lat["p99"] / 1000,
              (t1 - t0) / CLK_TCK * 1000 / max(requests, 1), errors, load)
    log(f"{side.name:8} {kind:28} c{conns:<3} p50 {run.p50_ms:8.2f} ms  {run.rps:8.1f}/s  "
        f"cpu {run.cpu_ms_per_request:6.2f} ms/req  errors {errors}")
    return run


def render(runs: list[Run], sides: list[Side], meta: dict[str, Any]) -> str:
    lines = [
        f"Run {meta['date']} on {meta['host']} ({os.cpu_count()} cores), {meta['providers']} "
        f"providers, wrk {meta['duration']:g} s per row after a {meta['warmup']:g} s warm-up; "
        "upstream = Placement 16.0.0 under uWSGI (1 process, 1 thread, SQLite, noauth2); "
        "onestack = `onestack up --services identity,placement` (SQLite, real tokens).",
        "",
        "| request | conc. | upstream p50 ms | onestack p50 ms | upstream req/s | onestack "
        "req/s | upstream CPU ms/req | onestack CPU ms/req | speed-up (req/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r.side, r.kind, r.connections): r for r in runs}
    for (side, kind, conns), run in by.items():
        if side != "onestack":
            continue
        up = by.get(("upstream", kind, conns))

        def f(x: float | None, d: int = 1) -> str:
            return "-" if x is None else f"{x:.{d}f}"

        ratio = f"{run.rps / up.rps:.1f}x" if up else "-"
        lines.append(
            f"| {kind} | {conns} | {f(up.p50_ms if up else None, 2)} | {run.p50_ms:.2f} | "
            f"{f(up.rps if up else None)} | {run.rps:.1f} | "
            f"{f(up.cpu_ms_per_request if up else None, 2)} | {run.cpu_ms_per_request:.2f} | "
            f"{ratio} |"
        )
    lines.append("")
    for side in sides:
        lines.append(f"- {side.name}: start {side.start_s:.2f} s (spawn to first answer), "
                     f"RSS after the runs {meta['rss'][side.name]:.0f} MiB; candidates found "
                     f"per query {meta['counts'][side.name]}")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--providers", type=int, default=1000)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--skip-upstream", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--json", type=Path)
    p.add_argument("--lock", default="/tmp/bench.lock")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.wrk = ensure_wrk(args.wrk)
    WORK.mkdir(parents=True, exist_ok=True)
    sides: list[Side] = []
    runs: list[Run] = []
    meta: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                            "host": os.uname().nodename, "providers": args.providers,
                            "duration": args.duration, "warmup": args.warmup, "rss": {},
                            "counts": {}}
    with bench_lock(args.lock):
        try:
            port = free_port()
            proc, url, took, data = start_onestack(port)
            token = onestack_token(f"http://127.0.0.1:{port}", data)
            sides.append(Side("onestack", url, token, proc, took, [], []))
            if not args.skip_upstream:
                if not (UPSTREAM / "bin/uwsgi").exists():
                    raise SystemExit(
                        f"upstream missing: python3 -m venv {UPSTREAM} && {UPSTREAM}/bin/pip "
                        "install openstack-placement==16.0.0 uwsgi"
                    )
                uport = free_port()
                uproc, utook = start_upstream(uport)
                sides.append(Side("upstream", f"http://127.0.0.1:{uport}", "admin", uproc,
                                  utook, [], []))
            for side in sides:
                t = time.monotonic()
                side.providers, side.aggregates = asyncio.run(
                    populate(side.url, side.token, args.providers))
                log(f"{side.name}: {args.providers} providers set up in "
                    f"{time.monotonic() - t:.1f} s")
                meta["counts"][side.name] = preflight(side)
            for kind, (script, _, conns_list) in kinds(sides[0]).items():
                for conns in conns_list:
                    for side in reversed(sides):  # upstream first, then onestack
                        url = kinds(side)[kind][1]
                        runs.append(measure(args, side, kind, script, url, conns))
            for side in sides:
                meta["rss"][side.name] = rss_mb(side.pid)
        finally:
            for side in sides:
                side.process.send_signal(signal.SIGTERM)
                try:
                    side.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    side.process.kill()
    text = render(runs, sides, meta)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": [asdict(r) for r in runs]},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
