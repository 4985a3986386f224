#!/usr/bin/env python3
"""Keystone token operations, onestack beside upstream Keystone, measured with wrk.

Follows shared/BENCHMARKS.md: for each request kind (validate, rescope, password, version) and
each load (wrk -t1 -c1 and -t2 -c16 by default), every target gets a fresh admin project-scoped
token, an unmeasured warm-up, then a measured wrk run; the server's CPU (utime+stime of the
server PID and its descendants, from /proc) across the measured run is divided by the completed
requests. The load average is recorded before each measured run, the server must go idle
between runs, and the whole benchmark holds an exclusive flock on /tmp/bench.lock.

Run it with the project's venv (it needs httpx):

    .venv/bin/python bench/keystone_tokens.py \\
        --upstream http://127.0.0.1:5000 \\
        --upstream-password-file /tmp/onestack-bench/keystone-cache-on/admin-password \\
        --onestack http://127.0.0.1:8000/identity --onestack-data-dir DATA_DIR \\
        --out /tmp/keystone-tokens.md

It writes nothing but the files named by --out, --json and --raw-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
WRK_DIR = HERE / "wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
KINDS = ("validate", "rescope", "password", "version")
DEFAULT_UPSTREAM_PASSWORD_FILE = Path("/tmp/onestack-bench/keystone-cache-on/admin-password")
RESULT_RE = re.compile(r"^BENCH_RESULT (\{.*\})$", re.MULTILINE)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc helpers


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime in ticks) of one process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    # fields[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
    return int(fields[1]), int(fields[11]) + int(fields[12])


def process_tree(root: int) -> list[int]:
    """root and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _proc_stat(int(entry.name))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_ticks(root: int) -> int:
    """utime+stime of root and its descendants (uwsgi: worker + HTTP router), in ticks."""
    if _proc_stat(root) is None:
        raise RuntimeError(f"server process {root} is gone")
    total = 0
    for pid in process_tree(root):
        st = _proc_stat(pid)
        if st is not None:
            total += st[1]
    return total


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def wait_idle(pid: int, *, window: float, max_ticks: int, timeout: float) -> float:
    """Wait until the server tree uses at most max_ticks of CPU in two windows in a row.

    Returns the seconds waited. A slow single worker keeps draining queued requests after
    wrk stops, so every measured run starts from an idle server.
    """
    start = time.monotonic()
    quiet = 0
    last = cpu_ticks(pid)
    while quiet < 2:
        if time.monotonic() - start > timeout:
            log(f"warning: server {pid} not idle after {timeout:.0f} s; going on")
            break
        time.sleep(window)
        now = cpu_ticks(pid)
        quiet = quiet + 1 if now - last <= max_ticks else 0
        last = now
    return time.monotonic() - start


def _listen_inodes(port: int) -> set[str]:
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(name).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def pid_listening_on(port: int) -> int:
    """The topmost process holding a listening socket on port (e.g. uwsgi's worker 1)."""
    wanted = {f"socket:[{i}]" for i in _listen_inodes(port)}
    if not wanted:
        raise RuntimeError(f"nothing listens on port {port}")
    owners = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        owners.add(int(entry.name))
                        break
    if not owners:
        raise RuntimeError(f"cannot find the process listening on port {port} (not root?)")
    tops = []
    for pid in owners:
        st = _proc_stat(pid)
        if st is not None and st[0] not in owners:
            tops.append(pid)
    if len(tops) != 1:
        raise RuntimeError(
            f"several processes listen on port {port}: {sorted(owners)}; use --*-pid"
        )
    return tops[0]


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    base: str  # e.g. http://127.0.0.1:5000 or http://127.0.0.1:8000/identity
    pid: int
    password: str
    user: str
    project: str
    domain: str

    def token(self, client: httpx.Client) -> dict[str, str]:
        """A fresh admin project-scoped token: {token, project_id, user_id}."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.user,
                            "domain": {"id": self.domain},
                            "password": self.password,
                        }
                    },
                },
                "scope": {"project": {"name": self.project, "domain": {"id": self.domain}}},
            }
        }
        r = client.post(f"{self.base}/v3/auth/tokens", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"{self.name}: password auth gave {r.status_code}: {r.text[:300]}")
        tok = r.json()["token"]
        return {
            "BENCH_TOKEN": r.headers["X-Subject-Token"],
            "BENCH_PROJECT": tok["project"]["id"],
            "BENCH_USER_ID": tok["user"]["id"],
            "BENCH_PASSWORD": self.password,
        }

    def url(self, kind: str) -> str:
        return f"{self.base}/v3" if kind == "version" else f"{self.base}/v3/auth/tokens"


def preflight(client: httpx.Client, target: Target, kind: str, env: dict[str, str]) -> None:
    """One request of this kind by httpx, so that a wrong setup fails before any wrk run."""
    url = target.url(kind)
    if kind == "version":
        r = client.get(url)
    elif kind == "validate":
        tok = env["BENCH_TOKEN"]
        r = client.get(url, headers={"X-Auth-Token": tok, "X-Subject-Token": tok})
    elif kind == "rescope":
        r = client.post(
            url,
            json={
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": env["BENCH_TOKEN"]}},
                    "scope": {"project": {"id": env["BENCH_PROJECT"]}},
                }
            },
        )
    else:
        r = client.post(
            url,
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {"id": env["BENCH_USER_ID"], "password": target.password}
                        },
                    },
                    "scope": {"project": {"id": env["BENCH_PROJECT"]}},
                }
            },
        )
    if r.status_code >= 400:
        raise RuntimeError(f"{target.name} {kind}: {r.status_code} {r.text[:300]}")


def read_password(direct: str | None, file: str | None, data_dir: str | None) -> str | None:
    if direct:
        return direct
    path = Path(file) if file else (Path(data_dir) / "admin-password" if data_dir else None)
    if path is None:
        return None
    if not path.is_file():
        raise SystemExit(f"no password file {path}")
    return path.read_text().strip()


def make_target(args: argparse.Namespace, name: str) -> Target | None:
    base = getattr(args, name)
    if not base:
        return None
    base = base.rstrip("/")
    password = read_password(
        getattr(args, f"{name}_password"),
        getattr(args, f"{name}_password_file"),
        getattr(args, f"{name}_data_dir", None),
    )
    if password is None and name == "upstream" and DEFAULT_UPSTREAM_PASSWORD_FILE.is_file():
        password = DEFAULT_UPSTREAM_PASSWORD_FILE.read_text().strip()
    if password is None:
        hint = "--onestack-data-dir" if name == "onestack" else "--upstream-password-file"
        raise SystemExit(f"{name}: no admin password (use {hint} or --{name}-password)")
    pid = getattr(args, f"{name}_pid")
    if pid is None:
        port = httpx.URL(base).port or 80
        pid = pid_listening_on(port)
        log(f"{name}: server PID {pid} (listening on port {port})")
    if _proc_stat(pid) is None:
        raise SystemExit(f"{name}: no process {pid}")
    return Target(name, base, pid, password, args.user, args.project, args.domain)


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    target: str
    kind: str
    threads: int
    connections: int
    rep: int
    started: str
    loadavg_before: tuple[float, float, float]
    idle_wait_s: float
    requests: int
    duration_s: float
    rps: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    cpu_s: float
    cpu_ms_per_req: float
    server_cpu_pct: float
    wrk_command: str
    raw: str = field(repr=False, default="")

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def wrk_argv(args: argparse.Namespace, target: Target, kind: str, t: int, c: int, d: float):
    return [
        args.wrk,
        f"-t{t}",
        f"-c{c}",
        f"-d{d:g}s",
        "--latency",
        "--timeout",
        f"{args.wrk_timeout:g}s",
        "-s",
        str(WRK_DIR / f"{kind}.lua"),
        target.url(kind),
    ]


def run_wrk(argv: list[str], env: dict[str, str]) -> tuple[dict, str]:
    proc = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    out = proc.stdout + proc.stderr
    m = RESULT_RE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out[-2000:]}")
    return json.loads(m.group(1)), out


def measure(
    args: argparse.Namespace,
    client: httpx.Client,
    target: Target,
    kind: str,
    threads: int,
    conns: int,
    rep: int,
) -> Run:
    idle = {"window": args.idle_window, "max_ticks": args.idle_ticks, "timeout": args.idle_timeout}
    env = target.token(client)
    preflight(client, target, kind, env)
    if args.warmup > 0:
        run_wrk(wrk_argv(args, target, kind, threads, conns, args.warmup), env)
    waited = wait_idle(target.pid, **idle)
    load = loadavg()
    started = dt.datetime.now().isoformat(timespec="seconds")
    argv = wrk_argv(args, target, kind, threads, conns, args.duration)
    t0 = cpu_ticks(target.pid)
    result, raw = run_wrk(argv, env)
    t1 = cpu_ticks(target.pid)
    waited += wait_idle(target.pid, **idle)

    requests = result["requests"]
    duration = result["duration_us"] / 1e6
    cpu_s = (t1 - t0) / CLK_TCK
    lat = result["latency_us"]
    run = Run(
        target=target.name,
        kind=kind,
        threads=threads,
        connections=conns,
        rep=rep,
        started=started,
        loadavg_before=load,
        idle_wait_s=round(waited, 1),
        requests=requests,
        duration_s=duration,
        rps=requests / duration if duration else 0.0,
        errors=result["errors"],
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        mean_ms=lat["mean"] / 1000,
        cpu_s=cpu_s,
        cpu_ms_per_req=1000 * cpu_s / requests if requests else float("nan"),
        server_cpu_pct=100 * cpu_s / duration if duration else 0.0,
        wrk_command=shlex.join([*(f"{k}=..." for k in sorted(env)), *(_rel(a) for a in argv)]),
        raw=raw,
    )
    errs = f", {run.error_count} errors {run.errors}" if run.error_count else ""
    log(
        f"{target.name:8} {kind:8} t{threads}c{conns} #{rep}: {run.rps:9.1f} req/s, "
        f"{run.cpu_ms_per_req:8.3f} ms CPU/req, p50 {run.p50_ms:.2f} ms, "
        f"p99 {run.p99_ms:.2f} ms, load {load[0]:.2f}{errs}"
    )
    return run


def _rel(arg: str) -> str:
    """Paths inside the repository are shown relative to it, for the report."""
    if arg.startswith("/") and os.path.exists(arg):
        with contextlib.suppress(ValueError):
            return str(Path(arg).resolve().relative_to(HERE.parent))
    return arg


# --------------------------------------------------------------------------- report


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _fmt(x: float, digits: int = 1) -> str:
    if x != x:  # NaN
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _ratio(num: float, den: float) -> str:
    if not num or not den or num != num or den != den:
        return "-"
    r = num / den
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def render(args: argparse.Namespace, targets: list[Target], runs: list[Run], meta: dict) -> str:
    names = [t.name for t in targets]
    both = names == ["upstream", "onestack"]
    lines = [
        f"## Keystone token operations{': onestack vs upstream Keystone' if both else ''}",
        "",
        f"- date: {meta['date']}; host: {meta['host']}; wrk: {meta['wrk']}",
        f"- {args.duration:g} s measured after {args.warmup:g} s unmeasured warm-up, "
        f"repeat {args.repeat}; targets alternate order on each repeat"
        + ("; cells are medians over repeats" if args.repeat > 1 else ""),
        "- CPU/req = utime+stime of the server process tree (from /proc/PID/stat) across "
        "the measured run ÷ completed requests; load = 1-min load average before the run",
    ]
    for t in targets:
        lines.append(f"- {t.name}: {t.base} (server PID {t.pid}, {meta['trees'][t.name]})")
    lines += [f"- command: `{meta['command']}`", ""]

    head = ["request", "wrk"]
    for n in names:
        head.append(f"{n} req/s")
    if both:
        head.append("req/s ratio (onestack ÷ upstream)")
    for n in names:
        head.append(f"{n} CPU ms/req")
    if both:
        head.append("CPU ratio (upstream ÷ onestack)")
    for n in names:
        head.append(f"{n} p50 / p99 ms")
    head.append("load before (" + " / ".join(names) + ")")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))

    cells: list[tuple[str, int, int]] = []
    for r in runs:
        key = (r.kind, r.threads, r.connections)
        if key not in cells:
            cells.append(key)
    for kind, t, c in cells:
        sel = {
            n: [r for r in runs if (r.kind, r.threads, r.connections, r.target) == (kind, t, c, n)]
            for n in names
        }
        rps = {n: _med([r.rps for r in sel[n]]) for n in names}
        cpu = {n: _med([r.cpu_ms_per_req for r in sel[n]]) for n in names}
        row = [kind, f"-t{t} -c{c}"]
        row += [_fmt(rps[n]) for n in names]
        if both:
            row.append(_ratio(rps["onestack"], rps["upstream"]))
        row += [_fmt(cpu[n], 2) for n in names]
        if both:
            row.append(_ratio(cpu["upstream"], cpu["onestack"]))
        for n in names:
            p50 = _med([r.p50_ms for r in sel[n]])
            p99 = _med([r.p99_ms for r in sel[n]])
            row.append(f"{_fmt(p50, 2)} / {_fmt(p99, 2)}")
        row.append(
            " / ".join(",".join(f"{r.loadavg_before[0]:.2f}" for r in sel[n]) for n in names)
        )
        lines.append("| " + " | ".join(row) + " |")

    bad = [r for r in runs if r.error_count]
    lines.append("")
    if bad:
        lines.append("**Errors** (wrk: socket errors or non-2xx/3xx responses):")
        for r in bad:
            lines.append(f"- {r.target} {r.kind} -t{r.threads} -c{r.connections}: {r.errors}")
        lines.append("")

    lines += [
        "<details><summary>every run</summary>",
        "",
        "| target | request | wrk | # | started | requests | req/s | CPU s | server CPU % "
        "| CPU ms/req | p50 ms | p90 ms | p99 ms | load 1/5/15 | idle wait s | errors |",
        "|" + "---|" * 16,
    ]
    for r in runs:
        lines.append(
            f"| {r.target} | {r.kind} | -t{r.threads} -c{r.connections} | {r.rep} | "
            f"{r.started} | {r.requests} | {_fmt(r.rps)} | {r.cpu_s:.2f} | "
            f"{r.server_cpu_pct:.0f} | {r.cpu_ms_per_req:.3f} | {r.p50_ms:.2f} | "
            f"{r.p90_ms:.2f} | {r.p99_ms:.2f} | "
            + "/".join(f"{x:.2f}" for x in r.loadavg_before)
            + f" | {r.idle_wait_s:g} | {r.error_count} |"
        )
    lines += ["", "wrk commands (BENCH_* from the environment, see bench/wrk/common.lua):", ""]
    seen = []
    for r in runs:
        cmd = re.sub(r"-d\S+", "-d${DURATION}s", r.wrk_command)
        if cmd not in seen:
            seen.append(cmd)
    lines += [f"    {cmd}" for cmd in seen]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def ensure_wrk(wrk: str) -> str:
    found = shutil.which(wrk)
    if found:
        return found
    if wrk != "wrk" or os.geteuid() != 0:
        raise SystemExit(f"{wrk} not found: apt-get install wrk")
    log("wrk not found; apt-get install wrk")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or "wrk"


def parse_loads(text: str) -> list[tuple[int, int]]:
    loads = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*t?(\d+)\s*[xc:]\s*(\d+)\s*", part)
        if not m:
            raise argparse.ArgumentTypeError(f"bad load {part!r}; use THREADSxCONNECTIONS")
        t, c = int(m.group(1)), int(m.group(2))
        if t < 1 or c < t:
            raise argparse.ArgumentTypeError(f"bad load {part!r}: need 1 <= threads <= conns")
        loads.append((t, c))
    return loads


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {k!r}; choose from {KINDS}")
    return kinds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for name, example in (
        ("upstream", "http://127.0.0.1:5000"),
        ("onestack", "http://127.0.0.1:8000/identity"),
    ):
        g = p.add_argument_group(name)
        g.add_argument(f"--{name}", metavar="URL", help=f"Keystone base URL, e.g. {example}")
        g.add_argument(
            f"--{name}-pid",
            type=int,
            help="server PID whose process tree's CPU is measured "
            "(default: the process listening on the URL's port)",
        )
        g.add_argument(f"--{name}-password", help="admin password")
        g.add_argument(f"--{name}-password-file", help="file holding the admin password")
        if name == "onestack":
            g.add_argument(
                "--onestack-data-dir", help="onestack's --data-dir (password in admin-password)"
            )
    p.add_argument("--user", default="admin", help="admin user name (both targets)")
    p.add_argument("--project", default="admin", help="project to scope to (both targets)")
    p.add_argument("--domain", default="default", help="domain id of user and project")
    p.add_argument("--kinds", type=parse_kinds, default=list(KINDS), help="comma-separated")
    p.add_argument(
        "--loads", type=parse_loads, default="1x1,2x16", help="wrk THREADSxCONNECTIONS list"
    )
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured warm-up seconds")
    p.add_argument("--repeat", type=int, default=1, help="runs per target and cell")
    p.add_argument("--wrk", default="wrk", help="wrk binary")
    p.add_argument("--wrk-timeout", type=float, default=30.0, help="wrk --timeout seconds")
    p.add_argument("--idle-window", type=float, default=0.5, help="idle check window, s")
    p.add_argument(
        "--idle-ticks", type=int, default=1, help="max CPU ticks per window counted as idle"
    )
    p.add_argument("--idle-timeout", type=float, default=120.0, help="max wait for idle, s")
    p.add_argument("--lock", default="/tmp/bench.lock", help="flock file serializing benchmarks")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write every run as JSON to this file")
    p.add_argument("--raw-dir", help="write each run's raw wrk output into this directory")
    args = p.parse_args(argv)
    if isinstance(args.loads, str):
        args.loads = parse_loads(args.loads)
    if not args.upstream and not args.onestack:
        p.error("give --upstream URL, --onestack URL, or both")
    if args.repeat < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--repeat >= 1, --duration > 0, --warmup >= 0")
    return args


@contextlib.contextmanager
def bench_lock(path: str):
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {path} (another benchmark is running)")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.wrk = ensure_wrk(args.wrk)
    targets = [t for t in (make_target(args, n) for n in ("upstream", "onestack")) if t]
    wrk_version = subprocess.run(
        [args.wrk, "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    meta = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": f"{platform.node()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        "wrk": wrk_version[0] if wrk_version else "?",
        "command": shlex.join([_rel(a) for a in [sys.executable, *sys.argv]])
        if argv is None
        else shlex.join(argv),
        "trees": {},
    }
    for t in targets:
        tree = process_tree(t.pid)
        meta["trees"][t.name] = f"{len(tree)} process{'es' if len(tree) > 1 else ''} in its tree"
    total = len(args.kinds) * len(args.loads) * args.repeat * len(targets)
    per_run = args.duration + args.warmup
    log(f"{total} runs of {per_run:g} s each (plus token, preflight and idle waits)")

    runs: list[Run] = []
    with bench_lock(args.lock), httpx.Client(timeout=60.0) as client:
        for kind in args.kinds:
            for threads, conns in args.loads:
                for rep in range(1, args.repeat + 1):
                    order = targets if rep % 2 else targets[::-1]
                    for target in order:
                        runs.append(measure(args, client, target, kind, threads, conns, rep))

    runs.sort(
        key=lambda r: (
            args.kinds.index(r.kind),
            args.loads.index((r.threads, r.connections)),
            [t.name for t in targets].index(r.target),
            r.rep,
        )
    )
    report = render(args, targets, runs, meta)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
        log(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"meta": meta, "runs": [{**asdict(r), "raw": None} for r in runs]}, indent=2)
            + "\n"
        )
        log(f"wrote {args.json}")
    if args.raw_dir:
        raw_dir = Path(args.raw_dir)
        raw_dir.mkdir(parents=True, exist_ok=True)
        for r in runs:
            name = f"{r.target}-{r.kind}-t{r.threads}c{r.connections}-{r.rep}.txt"
            (raw_dir / name).write_text(r.wrk_command + "\n\n" + r.raw)
        log(f"wrote raw wrk output to {raw_dir}")
    return 1 if any(r.error_count for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
