#!/usr/bin/env python3
"""The Image service, onestack beside upstream Glance 33, in one run (shared/BENCHMARKS.md).

It starts a fresh ``onestack up`` (whose Identity service also authenticates upstream Glance,
through keystonemiddleware and a service user), sets up and starts upstream Glance with
``bench/upstream_glance.sh`` (uWSGI, one process, one thread, SQLite, file store), then
measures each side, the order alternating per repeat:

- upload: ``curl -T`` of a 1 GiB random file to ``PUT /v2/images/ID/file`` (MB/s, the server's
  CPU seconds, the peak RSS of the server's process tree sampled from /proc every 20 ms); the
  stored checksum must equal the file's md5;
- download: ``curl`` of ``GET /v2/images/ID/file`` to /dev/null (same figures; the bytes and
  the Content-MD5 header are checked);
- image creates per second (``POST /v2/images``) with wrk at -t1 -c1 and -t2 -c16;
- the time to list 1,000 images with ``GET /v2/images?limit=1000`` (median of 5, curl);
- then the warm start time (to the first answer of the image version document) and the idle
  RSS 2 s later, each side restarted ``--starts`` times (medians).

Usage (the project's venv; root for /proc of uWSGI and for apt-get if wrk is missing):

    .venv/bin/python bench/glance_side_by_side.py --out /tmp/glance.md
    .venv/bin/python bench/glance_side_by_side.py --size-mib 256 --duration 5   # smoke run

Writes nothing but the files named by --out/--json, and scratch data under
``${TMPDIR:-/tmp}/onestack-bench/`` (data dirs, logs, the random upload file).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "onestack-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1e6


def rss_mb(root: int) -> float:
    """Resident memory of root and its descendants, in MB (MiB, as ps and top show)."""
    total = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class PeakRSS:
    """Samples the RSS of a process tree in a thread; ``peak`` once stopped."""

    def __init__(self, root: int, interval: float = 0.02):
        self.root, self.interval, self.peak = root, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.root))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.root))


@dataclass
class Side:
    name: str  # "upstream" or "onestack"
    label: str
    image_url: str  # the Image API root, e.g. http://127.0.0.1:9292
    pid: int = 0
    results: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, value: float) -> None:
        self.results.setdefault(metric, []).append(value)


# --------------------------------------------------------------------------- servers


def wait_answer(url: str, ok: Callable[[int], bool], timeout: float = 120) -> float:
    """Polls url until its status passes ``ok``; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if ok(client.get(url).status_code):
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


class Onestack:
    def __init__(self, args: argparse.Namespace):
        self.port = args.onestack_port
        self.data_dir = WORK / "glance-onestack-data"
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        #: What answers first: the image API, or Identity when only upstream is measured.
        self.ready_path = "/identity/v3" if args.only == "upstream" else "/image/"

    def start(self, fresh: bool = False) -> float:
        """Starts ``onestack up``; returns the seconds to the first answer of the image API."""
        if fresh:
            subprocess.run(["rm", "-rf", str(self.data_dir)], check=True)
            self.data_dir.mkdir(parents=True)
        log_file = open(WORK / "glance-onestack.log", "ab")  # noqa: SIM115
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(REPO / ".venv/bin/onestack"), "up", "--data-dir", str(self.data_dir),
             "--port", str(self.port)],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "ONESTACK_SERVICES": '["identity", "image"]'},
        )
        log_file.close()
        ready = wait_answer(f"{self.base}{self.ready_path}", lambda s: s in (200, 300))
        return ready - t0

    def identity_ready(self) -> None:
        wait_answer(f"{self.base}/identity/v3", lambda s: s == 200)
        deadline = time.monotonic() + 60
        while not (self.data_dir / "admin-password").is_file():
            if time.monotonic() > deadline:
                raise TimeoutError("no admin-password file")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Upstream:
    def __init__(self, args: argparse.Namespace, identity: str, password_file: Path):
        self.script = [
            str(HERE / "upstream_glance.sh"), "--port", str(args.upstream_port),
            "--dir", str(WORK / "glance"), "--identity", identity,
            "--admin-password-file", str(password_file),
        ]
        self.base = f"http://127.0.0.1:{args.upstream_port}"

    def run(self, command: str) -> str:
        proc = subprocess.run([*self.script, command], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"upstream_glance.sh {command}: {proc.stderr[-2000:]}")
        return proc.stdout.strip()

    def start(self) -> tuple[int, float]:
        """(worker PID, seconds to the first answer of the version document)."""
        t0 = time.monotonic()
        out = self.run("start")
        return int(out.split()[-1]), time.monotonic() - t0


# --------------------------------------------------------------------------- measurements


def admin_token(identity: str, password: str) -> str:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = httpx.post(f"{identity}/v3/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["X-Subject-Token"]


def random_file(size: int) -> tuple[Path, str]:
    """A file of random bytes (kept between runs) and its md5."""
    path = WORK / f"glance-upload-{size}.bin"
    md5_path = path.with_suffix(".md5")
    if not (path.is_file() and path.stat().st_size == size and md5_path.is_file()):
        log(f"writing {size / 2**20:.0f} MiB of random data to {path}")
        md5 = hashlib.md5()
        with open(path, "wb") as fh:
            left = size
            while left:
                block = os.urandom(min(left, 4 << 20))
                md5.update(block)
                fh.write(block)
                left -= len(block)
        md5_path.write_text(md5.hexdigest())
    return path, md5_path.read_text().strip()


def curl(*args: str) -> dict[str, Any]:
    fmt = '{"code": %{http_code}, "time": %{time_total}, "up": %{size_upload}, ' \
          '"down": %{size_download}}'
    proc = subprocess.run(["curl", "-sS", "-w", fmt, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"curl {shlex.join(args[-1:])}: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def idle(side: Side) -> None:
    wait_idle(side.pid, window=0.5, max_ticks=2, timeout=120)


def measure_data(side: Side, client: httpx.Client, token: str, path: Path, md5: str) -> None:
    size = path.stat().st_size
    headers = {"X-Auth-Token": token}
    r = client.post(f"{side.image_url}/v2/images", headers=headers, json={
        "name": "bench-upload", "disk_format": "raw", "container_format": "bare"})
    r.raise_for_status()
    image = r.json()["id"]
    file_url = f"{side.image_url}/v2/images/{image}/file"
    idle(side)

    side.add("load", loadavg()[0])
    before_rss, cpu0 = rss_mb(side.pid), cpu_ticks(side.pid)
    with PeakRSS(side.pid) as peak:
        res = curl("-X", "PUT", "-T", str(path), "-H", f"X-Auth-Token: {token}",
                   "-H", "Content-Type: application/octet-stream", "-o", "/dev/null", file_url)
    cpu = (cpu_ticks(side.pid) - cpu0) / CLK_TCK
    if res["code"] != 204:
        raise RuntimeError(f"{side.name}: upload answered {res['code']}")
    stored = client.get(f"{side.image_url}/v2/images/{image}", headers=headers).json()
    if stored.get("checksum") != md5 or stored.get("size") != size:
        raise RuntimeError(f"{side.name}: stored {stored.get('checksum')} {stored.get('size')}")
    side.add("upload_mbps", size / res["time"] / MB)
    side.add("upload_cpu_per_gib", cpu * 2**30 / size)
    side.add("upload_peak_rss", peak.peak)
    side.add("rss_before_upload", before_rss)
    side.add("upload_rss_growth", peak.peak - before_rss)
    idle(side)

    cpu0 = cpu_ticks(side.pid)
    header_file = WORK / "glance-download.headers"
    with PeakRSS(side.pid) as peak:
        res = curl("-H", f"X-Auth-Token: {token}", "-D", str(header_file), "-o", "/dev/null",
                   file_url)
    cpu = (cpu_ticks(side.pid) - cpu0) / CLK_TCK
    got = {k.strip().lower(): v.strip() for k, _, v in (
        line.partition(":") for line in header_file.read_text().splitlines() if ":" in line)}
    if res["code"] != 200 or res["down"] != size:
        raise RuntimeError(f"{side.name}: download {res['code']} of {res['down']} bytes")
    if got.get("content-md5") != md5:
        side.notes.append(f"download Content-MD5 was {got.get('content-md5')!r}")
    side.add("download_mbps", size / res["time"] / MB)
    side.add("download_cpu_per_gib", cpu * 2**30 / size)
    side.add("download_peak_rss", peak.peak)
    client.delete(f"{side.image_url}/v2/images/{image}", headers=headers).raise_for_status()
    idle(side)


def measure_creates(side: Side, args: argparse.Namespace, token: str) -> None:
    url = f"{side.image_url}/v2/images"
    env = {"BENCH_TOKEN": token}
    for t, c in ((1, 1), (2, 16)):
        base = [args.wrk, f"-t{t}", f"-c{c}", "--latency", "--timeout", "30s",
                "-s", str(HERE / "wrk" / "glance_create.lua")]
        if args.warmup:
            run_wrk([*base, f"-d{args.warmup:g}s", url], env)
        idle(side)
        side.add(f"load_c{c}", loadavg()[0])
        cpu0 = cpu_ticks(side.pid)
        result, _ = run_wrk([*base, f"-d{args.duration:g}s", url], env)
        cpu = (cpu_ticks(side.pid) - cpu0) / CLK_TCK
        errors = sum(result["errors"].values())
        if errors:
            side.notes.append(f"creates c{c}: {errors} wrk errors {result['errors']}")
        seconds = result["duration_us"] / 1e6
        side.add(f"creates_c{c}", result["requests"] / seconds)
        side.add(f"create_cpu_ms_c{c}", 1000 * cpu / max(result["requests"], 1))
        idle(side)


async def _top_up(url: str, token: str, missing: int) -> None:
    body = {"name": "bench-list", "disk_format": "raw", "container_format": "bare"}
    async with httpx.AsyncClient(timeout=60, headers={"X-Auth-Token": token}) as client:
        sem = asyncio.Semaphore(16)

        async def one() -> None:
            async with sem:
                (await client.post(url, json=body)).raise_for_status()

        await asyncio.gather(*(one() for _ in range(missing)))


def measure_list(side: Side, client: httpx.Client, token: str, count: int) -> None:
    url = f"{side.image_url}/v2/images"
    headers = {"X-Auth-Token": token}
    have = len(client.get(url, params={"limit": count}, headers=headers).json()["images"])
    if have < count:
        log(f"{side.name}: creating {count - have} more images for the listing")
        asyncio.run(_top_up(url, token, count - have))
    idle(side)
    times = []
    for _ in range(5):
        out = WORK / "glance-list.json"
        res = curl("-H", f"X-Auth-Token: {token}", "-o", str(out), f"{url}?limit={count}")
        listed = len(json.loads(out.read_text())["images"])
        if res["code"] != 200 or listed != count:
            raise RuntimeError(f"{side.name}: list gave {res['code']} with {listed} images")
        times.append(res["time"])
    side.add("list_seconds", statistics.median(times))


# --------------------------------------------------------------------------- report

ROWS = [  # metric, label, unit, better ("high" or "low"), digits
    ("upload_mbps", "1 GiB upload", "MB/s", "high", 0),
    ("upload_cpu_per_gib", "upload CPU (server)", "CPU-s/GiB", "low", 2),
    ("upload_peak_rss", "peak RSS during upload", "MB", "low", 0),
    ("upload_rss_growth", "RSS growth during upload (peak - before)", "MB", "low", 1),
    ("download_mbps", "1 GiB download", "MB/s", "high", 0),
    ("download_cpu_per_gib", "download CPU (server)", "CPU-s/GiB", "low", 2),
    ("download_peak_rss", "peak RSS during download", "MB", "low", 0),
    ("creates_c1", "image creates, c1", "req/s", "high", 0),
    ("creates_c16", "image creates, c16", "req/s", "high", 0),
    ("create_cpu_ms_c16", "CPU per create, c16", "ms", "low", 2),
    ("list_seconds", "list 1,000 images (limit=1000)", "s", "low", 3),
    ("start_seconds", "warm start to first answer", "s", "low", 2),
    ("idle_rss", "idle RSS after start", "MB", "low", 0),
]


def _fmt(value: float, digits: int) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def render(sides: list[Side], args: argparse.Namespace, meta: dict[str, Any]) -> str:
    by = {s.name: s for s in sides}
    up, us = by.get("upstream"), by.get("onestack")
    lines = [
        f"## Image service: onestack vs upstream Glance 33 ({meta['date']})",
        "",
        f"`{meta['command']}`  ",
        f"{meta['machine']}; load average before the data runs: "
        + ", ".join(f"{s.name} {_fmt(statistics.median(s.results.get('load', [float('nan')])), 2)}"
                    for s in sides),
        "",
        "| measure | unit | upstream Glance 33 | onestack | onestack vs upstream |",
        "|---|---|---:|---:|---:|",
    ]
    for metric, label, unit, better, digits in ROWS:
        values = []
        for side in (up, us):
            data = side.results.get(metric) if side else None
            values.append(statistics.median(data) if data else float("nan"))
        a, b = values
        ratio = "-"
        if a == a and b == b and a > 0 and b > 0:
            r = b / a if better == "high" else a / b
            ratio = f"{r:.1f}x {'better' if r >= 1 else 'worse'}"
        lines.append(f"| {label} | {unit} | {_fmt(a, digits)} | {_fmt(b, digits)} | {ratio} |")
    lines.append("")
    lines.append(
        f"Medians of {args.repeat} repeat(s) (start: {args.starts} restarts). Server CPU and RSS "
        "are the whole process tree (uWSGI worker + its HTTP router; the onestack process, "
        "which also runs Identity). Upload/download with curl from a page-cached "
        f"{args.size_mib} MiB random file; creates with wrk {args.duration:g} s after a "
        f"{args.warmup:g} s warm-up."
    )
    for side in sides:
        for note in side.notes:
            lines.append(f"- {side.name}: {note}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=int, default=1024, help="upload size (default 1024)")
    p.add_argument("--duration", type=float, default=10, help="wrk seconds per create run")
    p.add_argument("--warmup", type=float, default=2, help="wrk warm-up seconds")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--starts", type=int, default=3, help="restarts for the start time")
    p.add_argument("--list-count", type=int, default=1000)
    p.add_argument("--only", choices=("upstream", "onestack"), help="measure one side only")
    p.add_argument("--onestack-port", type=int, default=8100)
    p.add_argument("--upstream-port", type=int, default=9292)
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--lock", default="/tmp/bench.lock")
    p.add_argument("--out", help="write the markdown table here too")
    p.add_argument("--json", help="write the raw figures here")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> list[Side]:
    WORK.mkdir(parents=True, exist_ok=True)
    onestack = Onestack(args)
    upstream: Upstream | None = None
    sides: list[Side] = []
    try:
        log("starting onestack (fresh data dir)")
        onestack.start(fresh=True)
        onestack.identity_ready()
        identity = f"{onestack.base}/identity"
        password_file = onestack.data_dir / "admin-password"
        token = admin_token(identity, password_file.read_text().strip())
        assert onestack.proc is not None
        if args.only != "upstream":
            sides.append(Side("onestack", "onestack", f"{onestack.base}/image", onestack.proc.pid))
        if args.only != "onestack":
            upstream = Upstream(args, identity, password_file)
            log("installing and setting up upstream Glance")
            upstream.run("install")
            upstream.run("stop")
            upstream.run("setup")
            pid, _ = upstream.start()
            sides.insert(0, Side("upstream", "upstream Glance 33", upstream.base, pid))

        path, md5 = random_file(args.size_mib * 2**20)
        with httpx.Client(timeout=300) as client:
            for side in sides:  # a wrong setup fails before anything is measured
                client.get(f"{side.image_url}/v2/images", headers={"X-Auth-Token": token},
                           params={"limit": 1}).raise_for_status()
            for rep in range(args.repeat):
                for side in sides if rep % 2 == 0 else sides[::-1]:
                    log(f"{side.name}: upload/download, repeat {rep + 1}")
                    measure_data(side, client, token, path, md5)
                    log(f"{side.name}: creates")
                    measure_creates(side, args, token)
                    log(f"{side.name}: list")
                    measure_list(side, client, token, args.list_count)

        for _ in range(args.starts):
            for side in sides:
                if side.name == "upstream":
                    assert upstream is not None
                    upstream.run("stop")
                    side.pid, seconds = upstream.start()
                else:
                    onestack.stop()
                    seconds = onestack.start()
                    assert onestack.proc is not None
                    side.pid = onestack.proc.pid
                time.sleep(2)
                side.add("start_seconds", seconds)
                side.add("idle_rss", rss_mb(side.pid))
        return sides
    finally:
        if upstream is not None:
            try:
                upstream.run("stop")
            except RuntimeError as exc:
                log(str(exc))
        onestack.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.wrk = ensure_wrk(args.wrk)
    meta = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": shlex.join([".venv/bin/python", "bench/glance_side_by_side.py",
                               *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{os.cpu_count()} CPUs, {platform.python_version()}, "
                   f"{platform.platform(terse=True)}",
    }
    with bench_lock(args.lock):
        sides = run(args)
    report = render(sides, args, meta)
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "sides": {s.name: {"results": s.results, "notes": s.notes}
                                     for s in sides}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
