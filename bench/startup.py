"""Warm start to the first 200 from the Identity version document, and idle memory.

onestack: `onestack up` on an existing data dir (warm: keys, database and bootstrap in place),
timed from exec to the first 200 of GET /identity/v3, with the CPU time (user+sys, from
/proc/PID/stat) the process has used by then (steadier than wall clock on a loaded machine);
idle RSS 2 s later. Upstream Keystone
(optional, --upstream): bench/upstream_keystone.sh start, timed to the first 200 of GET /v3, RSS
of its uwsgi process tree. Each repeated; medians reported.

Usage: .venv/bin/python bench/startup.py [--repeat 5] [--upstream]
Writes nothing but a scratch data dir under ${TMPDIR:-/tmp}/onestack-bench/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "onestack-bench"


def wait_200(url: str, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.monotonic()
        except Exception:
            time.sleep(0.005)
    raise TimeoutError(url)


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children, in MB."""
    pids = [pid] + [int(p) for p in subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def onestack_once(data_dir: Path, port: int) -> tuple[float, float, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen([str(REPO / ".venv/bin/onestack"), "up", "--data-dir", str(data_dir),
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        elapsed = wait_200(f"http://127.0.0.1:{port}/identity/v3") - t0
        cpu = cpu_s(proc.pid)
        time.sleep(2)
        return elapsed, rss_mb(proc.pid), cpu
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def upstream_once() -> tuple[float, float, float]:
    script = str(HERE / "upstream_keystone.sh")
    subprocess.run([script, "stop"], capture_output=True)
    t0 = time.monotonic()
    out = subprocess.run([script, "start"], capture_output=True, text=True, check=True).stdout
    elapsed = wait_200("http://127.0.0.1:5000/v3") - t0
    time.sleep(2)
    pid = int(out.strip().split()[-1]) if out.strip().split()[-1].isdigit() else None
    memory = rss_mb(pid) if pid else float("nan")
    subprocess.run([script, "stop"], capture_output=True)
    return elapsed, memory, float("nan")  # uwsgi's workers: not one process to read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--upstream", action="store_true", help="measure upstream Keystone too")
    args = parser.parse_args()
    data_dir = WORK / "startup-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    onestack_once(data_dir, args.port)  # first start: bootstrap (not measured)
    load_before = {"onestack": os.getloadavg()[0]}  # 1-min load average before each run
    rows = {"onestack": [onestack_once(data_dir, args.port) for _ in range(args.repeat)]}
    if args.upstream:
        subprocess.run([str(HERE / "upstream_keystone.sh"), "install"], check=True,
                       capture_output=True)
        subprocess.run([str(HERE / "upstream_keystone.sh"), "setup"], check=True,
                       capture_output=True)
        name = "upstream Keystone 30 (uwsgi)"
        load_before[name] = os.getloadavg()[0]
        rows[name] = [upstream_once() for _ in range(args.repeat)]
    before = "; ".join(f"{name} {load:.2f}" for name, load in load_before.items())
    print(f"load average before the runs: {before}; repeat {args.repeat}; "
          f"command: {' '.join([sys.argv[0], *sys.argv[1:]])}\n")
    print("| server | warm start to first 200, median s (min-max) | CPU to first 200, median s "
          "(min-max) | idle RSS, median MB |")
    print("|---|---|---|---|")
    for name, samples in rows.items():
        starts = [s for s, _, _ in samples]
        cpus = [c for _, _, c in samples]
        print(f"| {name} | {statistics.median(starts):.2f} ({min(starts):.2f}-{max(starts):.2f})"
              f" | {statistics.median(cpus):.2f} ({min(cpus):.2f}-{max(cpus):.2f})"
              f" | {statistics.median(m for _, m, _ in samples):.0f} |")


if __name__ == "__main__":
    main()
