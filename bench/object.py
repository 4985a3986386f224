#!/usr/bin/env python3
"""Object Storage, onestack beside upstream Swift 2.38, in one run (shared/BENCHMARKS.md).

Upstream runs from its own venv (``bench/.upstream/swift``: ``pip install swift
python-swiftclient``) with memcached from Debian: proxy, account, container and object
servers, one worker each, tempauth, the rings built with swift-ring-builder (partition power
10; 1 replica on 1 device, or ``--replicas 3`` on 3 devices in 3 zones). onestack runs
``onestack up --services object`` with tempauth (the same user) and the same replica count.
Both sides get the same client and the same objects:

- 4 KiB PUTs (unique names) and GETs (round robin over 1,000 objects) with wrk -t2 -c16
  (and -t1 -c1 with ``--c1``): requests/s, p50/p99, the server tree's CPU per request;
- one 1 GiB object PUT and GET with curl: MB/s (and the disk's streaming rate with dd);
- the time to list a 10,000-object container in one JSON GET (median of 5);
- the warm start time (to the first answer of /info) and the idle RSS of the server
  processes 2 s later.

Usage: ``.venv/bin/python bench/object.py --out /tmp/object.md [--replicas 3]``
Scratch data under ``${TMPDIR:-/tmp}/onestack-bench/object-*``; nothing else is written.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from glance_side_by_side import rss_mb, wait_answer
from keystone_tokens import (
    bench_lock,
    cpu_ticks,
    ensure_wrk,
    loadavg,
    log,
    run_wrk,
    wait_idle,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "onestack-bench"
UPSTREAM = HERE / ".upstream" / "swift" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
USER, KEY = "test:tester", "testing"
PIPELINE = ("catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempauth "
            "copy slo dlo proxy-logging proxy-server")


class Upstream:
    name = "upstream Swift 2.38"

    def __init__(self, args: argparse.Namespace):
        self.replicas = args.replicas
        self.root = WORK / f"object-upstream-{self.replicas}"
        self.port = args.upstream_port
        self.base = f"http://127.0.0.1:{self.port}"
        self.auth_url = f"{self.base}/auth/v1.0"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.memcached: subprocess.Popen[bytes] | None = None

    def setup(self) -> None:
        if not (UPSTREAM / "swift-proxy-server").exists():
            log("installing upstream Swift into bench/.upstream/swift")
            subprocess.run([sys.executable, "-m", "venv", str(UPSTREAM.parent)], check=True)
            subprocess.run([str(UPSTREAM / "pip"), "install", "-q", "swift",
                            "python-swiftclient"], check=True)
        if shutil.which("memcached") is None:
            raise SystemExit("memcached not found: apt-get install memcached")
        shutil.rmtree(self.root, ignore_errors=True)
        devices = self.root / "devices"
        for n in range(1, self.replicas + 1):
            (devices / f"d{n}").mkdir(parents=True)
        (self.root / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_suffix = benchsuffix\n"
            "swift_hash_path_prefix = benchprefix\n\n"
            "[storage-policy:0]\nname = Policy-0\ndefault = yes\n")
        ports = {"object": self.port + 10, "container": self.port + 11,
                 "account": self.port + 12}
        builder = str(UPSTREAM / "swift-ring-builder")
        for kind, port in ports.items():
            ring = str(self.root / f"{kind}.builder")
            subprocess.run([builder, ring, "create", "10", str(self.replicas), "1"],
                           check=True, capture_output=True)
            for n in range(1, self.replicas + 1):
                subprocess.run([builder, ring, "add", f"r1z{n}-127.0.0.1:{port}/d{n}", "100"],
                               check=True, capture_output=True)
            subprocess.run([builder, ring, "rebalance"], capture_output=True)
            common = (f"[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = {port}\nworkers = 1\n"
                      f"devices = {devices}\nmount_check = false\nswift_dir = {self.root}\n"
                      "log_level = WARNING\nuser = root\n")
            (self.root / f"{kind}-server.conf").write_text(
                common + f"\n[pipeline:main]\npipeline = {kind}-server\n\n"
                f"[app:{kind}-server]\nuse = egg:swift#{kind}\n\n"
                f"[{kind}-replicator]\n[{kind}-auditor]\n[{kind}-updater]\n")
        filters = "".join(
            f"[filter:{name}]\nuse = egg:swift#{name.replace('-', '_')}\n\n"
            for name in ("catch_errors", "gatekeeper", "healthcheck", "proxy-logging",
                         "listing_formats", "copy", "slo", "dlo")
        )
        (self.root / "proxy-server.conf").write_text(
            f"[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = {self.port}\nworkers = 1\n"
            f"swift_dir = {self.root}\nlog_level = WARNING\nuser = root\n\n"
            f"[pipeline:main]\npipeline = {PIPELINE}\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            f"[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = {KEY} .admin\n\n"
            "[filter:cache]\nuse = egg:swift#memcache\n"
            f"memcache_servers = 127.0.0.1:{self.port + 20}\n\n" + filters)

    def start(self) -> float:
        if self.memcached is None:
            self.memcached = subprocess.Popen(
                ["memcached", "-l", "127.0.0.1", "-p", str(self.port + 20), "-U", "0",
                 "-u", "root", "-m", "64"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log_file = open(WORK / "object-upstream.log", "ab")  # noqa: SIM115
        t0 = time.monotonic()
        for kind in ("object", "container", "account", "proxy"):
            self.procs.append(subprocess.Popen(
                [str(UPSTREAM / f"swift-{kind}-server"), str(self.root / f"{kind}-server.conf")],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        log_file.close()
        ready = wait_answer(f"{self.base}/info", lambda s: s == 200)
        return ready - t0

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []

    def close(self) -> None:
        self.stop()
        if self.memcached is not None:
            self.memcached.terminate()
            self.memcached.wait()
            self.memcached = None


class Onestack:
    name = "onestack"

    def __init__(self, args: argparse.Namespace):
        self.replicas = args.replicas
        self.root = WORK / f"object-onestack-{self.replicas}"
        self.port = args.onestack_port
        self.base = f"http://127.0.0.1:{self.port}/object-store"
        self.auth_url = f"{self.base}/auth/v1.0"
        self.proc: subprocess.Popen[bytes] | None = None

    def setup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)

    def start(self) -> float:
        env = {**os.environ, "ONESTACK_SERVICES": '["object"]',
               "ONESTACK_OBJECT__TEMPAUTH_USERS": json.dumps({USER: f"{KEY} .admin"}),
               "ONESTACK_OBJECT__REPLICAS": str(self.replicas),
               "ONESTACK_OBJECT__PART_POWER": "10"}
        log_file = open(WORK / "object-onestack.log", "ab")  # noqa: SIM115
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(REPO / ".venv/bin/onestack"), "up", "--data-dir", str(self.root),
             "--port", str(self.port)],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        log_file.close()
        ready = wait_answer(f"{self.base}/info", lambda s: s == 200)
        return ready - t0

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def close(self) -> None:
        self.stop()


def auth(side: Any) -> tuple[str, str]:
    r = httpx.get(side.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY}, timeout=10)
    r.raise_for_status()
    return r.headers["x-storage-url"], r.headers["x-auth-token"]


async def populate(url: str, token: str, names: list[str], body: bytes, conc: int) -> None:
    sem = asyncio.Semaphore(conc)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=conc)) as c:
        async def one(name: str) -> None:
            async with sem:
                r = await c.put(f"{url}/{name}", content=body, headers={"X-Auth-Token": token})
                r.raise_for_status()

        await asyncio.gather(*(one(n) for n in names))


def ticks(pids: list[int]) -> int:
    return sum(cpu_ticks(p) for p in pids)


def wrk(args: argparse.Namespace, side: Any, kind: str, path: str, token: str, t: int,
        c: int) -> dict[str, float]:
    env = {"BENCH_TOKEN": token, "BENCH_PATH": path, "BENCH_COUNT": "1000"}
    host = side.base.split("/object-store")[0] if "/object-store" in side.base else side.base
    argv = [args.wrk, f"-t{t}", f"-c{c}", f"-d{args.duration:g}s", "--latency", "--timeout",
            "10s", "-s", str(HERE / "wrk" / f"object_{kind}.lua"), host]
    run_wrk([*argv[:3], "-d2s", *argv[4:]], env)  # warm-up, not measured
    for pid in side.pids():
        wait_idle(pid, window=0.5, max_ticks=2, timeout=60)
    before = ticks(side.pids())
    result, _ = run_wrk(argv, env)
    used = (ticks(side.pids()) - before) / CLK_TCK
    done = result["requests"]
    errors = sum(result["errors"].values())
    return {"rps": done / (result["duration_us"] / 1e6), "p50_ms": result["latency_us"]["p50"]
            / 1000, "p99_ms": result["latency_us"]["p99"] / 1000,
            "cpu_ms": used / max(done, 1) * 1000, "errors": errors}


def curl(argv: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", *argv], check=True)
    return time.monotonic() - t0


def measure(args: argparse.Namespace, side: Any, big: Path) -> dict[str, Any]:
    side.setup()
    side.start()
    out: dict[str, Any] = {"load_before": loadavg()[0]}
    url, token = auth(side)
    path = url.split("://", 1)[1].split("/", 1)[1]
    path = "/" + path + "/bench"
    httpx.put(f"{url}/bench", headers={"X-Auth-Token": token}).raise_for_status()
    asyncio.run(populate(f"{url}/bench", token, [f"obj-{i}" for i in range(1000)],
                         b"g" * 4096, 16))
    loads = [(2, 16)] + ([(1, 1)] if args.c1 else [])
    for t, c in loads:
        for kind in ("put", "get"):
            out[f"{kind}_c{c}"] = wrk(args, side, kind, path, token, t, c)
            log(f"{side.name} {kind} c{c}: {out[f'{kind}_c{c}']['rps']:.0f}/s")
    auth_h = ["-H", f"X-Auth-Token: {token}"]
    size = big.stat().st_size
    out["md5_mbs"] = md5_rate()  # a PUT's ETag: the CPU's ceiling for it, right now
    put_s = curl([*auth_h, "-T", str(big), f"{url}/bench/big"])
    get_s = curl([*auth_h, f"{url}/bench/big"])
    out["big_put_mbs"], out["big_get_mbs"] = size / put_s / 1e6, size / get_s / 1e6
    log(f"{side.name} 1 GiB: PUT {out['big_put_mbs']:.0f} MB/s, GET {out['big_get_mbs']:.0f}")
    if args.listing:
        httpx.put(f"{url}/list", headers={"X-Auth-Token": token}).raise_for_status()
        asyncio.run(populate(f"{url}/list", token, [f"item-{i:06d}" for i in range(args.listing)],
                             b"", 32))
        times = []
        with httpx.Client(timeout=60) as client:
            for _ in range(5):
                t0 = time.monotonic()
                r = client.get(f"{url}/list", params={"format": "json"},
                               headers={"X-Auth-Token": token})
                times.append(time.monotonic() - t0)
                assert len(r.json()) == args.listing
        out["listing_s"] = statistics.median(times)
        log(f"{side.name} listing {args.listing}: {out['listing_s']:.3f} s")
    side.stop()
    starts, rss = [], []
    for _ in range(args.starts):
        starts.append(side.start())
        time.sleep(2)
        rss.append(sum(rss_mb(p) for p in side.pids()))
        side.stop()
    out["start_s"], out["rss_mb"] = statistics.median(starts), statistics.median(rss)
    log(f"{side.name} start {out['start_s']:.2f} s, RSS {out['rss_mb']:.0f} MB")
    side.close()
    return out


def md5_rate(mib: int = 256) -> float:
    """MB/s of one core hashing MD5 (what every PUT must do to its body) at this moment."""
    block = os.urandom(1 << 20)
    digest = hashlib.md5(usedforsecurity=False)
    t0 = time.monotonic()
    for _ in range(mib):
        digest.update(block)
    return mib * len(block) / (time.monotonic() - t0) / 1e6


def disk_rate(path: Path) -> float:
    target = path.parent / "dd.test"
    t0 = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=1024",
                    "oflag=direct"], check=True, capture_output=True)
    rate = 1024 * 1024 * 1024 / (time.monotonic() - t0) / 1e6
    target.unlink()
    return rate


def render(args: argparse.Namespace, results: dict[str, dict[str, Any]], disk: float) -> str:
    up, one = results.get("upstream", {}), results.get("onestack", {})
    rows = []

    def row(label: str, key: str, sub: str | None = None, higher: bool = True,
            fmt: str = "{:.0f}") -> None:
        def get(d: dict[str, Any]) -> float | None:
            value = d.get(key)
            if sub is not None and isinstance(value, dict):
                value = value.get(sub)
            return value if isinstance(value, (int, float)) else None

        a, b = get(up), get(one)
        ratio = ""
        if a and b:
            ratio = f"{(b / a if higher else a / b):.2f}x"
        rows.append(f"| {label} | {fmt.format(a) if a is not None else '-'} | "
                    f"{fmt.format(b) if b is not None else '-'} | {ratio} |")

    for c in (16, 1):
        for kind in ("put", "get"):
            if f"{kind}_c{c}" in one or f"{kind}_c{c}" in up:
                row(f"4 KiB {kind.upper()} req/s, c{c}", f"{kind}_c{c}", "rps")
                row(f"4 KiB {kind.upper()} p99 ms, c{c}", f"{kind}_c{c}", "p99_ms", False,
                    "{:.1f}")
                row(f"4 KiB {kind.upper()} CPU ms/request, c{c}", f"{kind}_c{c}", "cpu_ms",
                    False, "{:.2f}")
    row("1 GiB PUT MB/s", "big_put_mbs")
    row("1 GiB GET MB/s", "big_get_mbs")
    row("MD5 of one core just before the 1 GiB PUT, MB/s", "md5_mbs")
    if args.listing:
        row(f"list {args.listing} objects, s", "listing_s", None, False, "{:.3f}")
    row("warm start, s", "start_s", None, False, "{:.2f}")
    row("idle RSS, MB (all server processes)", "rss_mb", None, False)
    head = (f"Replicas: {args.replicas}; wrk {args.duration:g} s per run; disk (dd, direct) "
            f"{disk:.0f} MB/s; load before: upstream {up.get('load_before', 0):.1f}, onestack "
            f"{one.get('load_before', 0):.1f}\n\n| | upstream | onestack | onestack vs "
            "upstream |\n|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--c1", action="store_true", help="also -t1 -c1")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--listing", type=int, default=10000)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--only", choices=("upstream", "onestack"))
    parser.add_argument("--upstream-port", type=int, default=18080)
    parser.add_argument("--onestack-port", type=int, default=18090)
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.wrk = ensure_wrk(args.wrk)
    WORK.mkdir(parents=True, exist_ok=True)
    big = WORK / f"object-{args.size_mib}m.bin"
    if not big.exists() or big.stat().st_size != args.size_mib * 1024 * 1024:
        subprocess.run(["dd", "if=/dev/urandom", f"of={big}", "bs=1M",
                        f"count={args.size_mib}"], check=True, capture_output=True)
    results: dict[str, dict[str, Any]] = {}
    with bench_lock("/tmp/bench.lock"):
        disk = disk_rate(big)
        sides = [s for s in (Upstream(args), Onestack(args))
                 if args.only is None or s.__class__.__name__.lower() == args.only]
        for side in sides:
            key = "upstream" if isinstance(side, Upstream) else "onestack"
            try:
                results[key] = measure(args, side, big)
            finally:
                side.close()
    text = render(args, results, disk)
    print(text)
    if args.out:
        args.out.write_text(text + "\n```json\n" + json.dumps(results, indent=1) + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
