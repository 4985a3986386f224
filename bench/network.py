"""Networking API benchmark: port create p50/p99 at concurrency 1 and 16, GET /v2.0/ports with
10,000 ports, security group rule create with 1,000 rules in the group.

onestack: `onestack up` on a scratch data dir (SQLite, the default configuration), driven as
the cloud admin over HTTP with httpx. `--url URL --token TOKEN` runs the same workloads against
any other Networking endpoint instead (an upstream neutron-server, for a side-by-side run).
Per-request server CPU (utime+stime of the server process over the run / requests) is reported
when the server's pid is known (`--pid` for another server).

`--fill CMD` fills the network's ports and the group's rules (not measured) by running
`CMD ports NETWORK_ID COUNT` and `CMD rules GROUP_ID COUNT` instead of through the API: for
upstream, bench/upstream_neutron_fill.py writes the rows with neutron's own models.

Usage: .venv/bin/python bench/network.py [--ports 10000] [--rules 1000] [--url U --token T]
       [--pid PID] [--fill CMD]
Writes nothing but a scratch data dir under ${TMPDIR:-/tmp}/onestack-bench-network/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "onestack-bench-network"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def start_onestack(port: int) -> tuple[subprocess.Popen[bytes], str, str]:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    env = {**os.environ, "ONESTACK_ADMIN_PASSWORD": "bench-admin-pw-1",
           "ONESTACK_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/onestack"), "up", "--data-dir", str(WORK / "data"), "--port",
         str(port)], env=env, stdout=open(WORK / "log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthcheck", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        proc.kill()
        raise SystemExit("onestack did not start")
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": "bench-admin-pw-1"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = httpx.post(f"{base}/identity/v3/auth/tokens", json=auth, timeout=30)
    r.raise_for_status()
    return proc, f"{base}/networking", r.headers["X-Subject-Token"]


async def timed(client: httpx.AsyncClient, method: str, url: str, json: object,
                expect: int) -> float:
    start = time.perf_counter()
    r = await client.request(method, url, json=json)
    elapsed = time.perf_counter() - start
    if r.status_code != expect:
        raise SystemExit(f"{method} {url}: {r.status_code} {r.text[:300]}")
    return elapsed


async def run_concurrent(n: int, concurrency: int, make: object) -> tuple[list[float], float]:
    queue = list(range(n))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            i = queue.pop()
            latencies.append(await make(i))  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return latencies, time.perf_counter() - start


def fill(command: str | None, kind: str, target: str, count: int) -> bool:
    """Run the ``--fill`` command for ``count`` rows; False when there is none."""
    if not command:
        return False
    if count > 0:
        start = time.perf_counter()
        subprocess.run([*shlex.split(command), kind, target, str(count)], check=True)
        print(f"filled {count} {kind} in {time.perf_counter() - start:.1f} s", flush=True)
    return True


async def bench(url: str, token: str, pid: int | None, ports: int, rules: int,
                fill_command: str | None = None) -> list[str]:
    rows: list[str] = []
    headers = {"X-Auth-Token": token}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=f"{url}/v2.0", headers=headers, timeout=120,
                                 limits=limits) as c:
        found = (await c.get("/networks", params={"name": "bench-net"})).json()["networks"]
        if found:  # a run interrupted before: its network and ports are reused
            net = found[0]
        else:
            r = await c.post("/networks", json={"network": {"name": "bench-net"}})
            r.raise_for_status()
            net = r.json()["network"]
            r = await c.post("/subnets", json={"subnet": {
                "network_id": net["id"], "cidr": "10.128.0.0/16", "ip_version": 4}})
            r.raise_for_status()
        await c.put(f"/quotas/{net['project_id']}", json={"quota": {
            "port": -1, "security_group_rule": -1, "network": -1, "subnet": -1}})
        body = {"port": {"network_id": net["id"]}}
        for concurrency, n in ((1, 200), (16, 640)):
            await run_concurrent(20, concurrency, lambda _i: timed(c, "POST", "/ports", body, 201))
            cpu0 = cpu_seconds(pid)
            lat, wall = await run_concurrent(
                n, concurrency, lambda _i: timed(c, "POST", "/ports", body, 201))
            cpu = (cpu_seconds(pid) - cpu0) / n * 1000
            rows.append(f"| port create, c{concurrency} | {n} | {pct(lat, .5) * 1000:.1f} | "
                        f"{pct(lat, .99) * 1000:.1f} | {n / wall:.0f} | "
                        f"{cpu:.2f} |")
            print(rows[-1], flush=True)
        have = len((await c.get("/ports", params={"network_id": net["id"], "fields": "id"})
                    ).json()["ports"])
        bulk = [{"network_id": net["id"]} for _ in range(100)]
        missing = max(0, ports - have)
        if not fill(fill_command, "ports", net["id"], missing):
            await run_concurrent(-(-missing // 100), 4,
                                 lambda _i: timed(c, "POST", "/ports", {"ports": bulk}, 201))
        count = 0
        lat = []
        cpu0 = cpu_seconds(pid)
        for _ in range(7):
            start = time.perf_counter()
            r = await c.get("/ports", params={"network_id": net["id"]})
            lat.append(time.perf_counter() - start)
            count = len(r.json()["ports"])
        cpu = (cpu_seconds(pid) - cpu0) / 7 * 1000
        rows.append(f"| GET /v2.0/ports ({count} ports, {len(r.content) // 1024} KiB) | 7 | "
                    f"{statistics.median(lat) * 1000:.0f} | {max(lat) * 1000:.0f} | "
                    f"{7 / sum(lat):.1f} | {cpu:.0f} |")
        print(rows[-1], flush=True)
        name = f"bench-sg-{int(time.time())}"
        r = await c.post("/security-groups", json={"security_group": {"name": name}})
        sg = r.json()["security_group"]["id"]

        def rule(i: int) -> object:
            return timed(c, "POST", "/security-group-rules", {"security_group_rule": {
                "security_group_id": sg, "direction": "ingress", "protocol": "tcp",
                "port_range_min": 1 + i, "port_range_max": 1 + i}}, 201)

        if not fill(fill_command, "rules", sg, rules):
            await run_concurrent(rules, 4, lambda i: rule(i))
        extra = 200
        cpu0 = cpu_seconds(pid)
        lat, wall = await run_concurrent(extra, 1, lambda i: rule(rules + i))
        cpu = (cpu_seconds(pid) - cpu0) / extra * 1000
        rows.append(f"| rule create, {rules} rules in the group, c1 | {extra} | "
                    f"{pct(lat, .5) * 1000:.1f} | {pct(lat, .99) * 1000:.1f} | "
                    f"{extra / wall:.0f} | {cpu:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--url", help="another Networking endpoint (e.g. upstream neutron)")
    parser.add_argument("--token")
    parser.add_argument("--pid", type=int, help="that server's pid, for CPU per request")
    parser.add_argument("--port", type=int, default=18880)
    parser.add_argument("--fill", help="a command that fills ports and rules (see above)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    proc = None
    if args.url:
        url, token, pid, name = args.url, args.token or "", args.pid, args.url
    else:
        proc, url, token = start_onestack(args.port)
        pid, name = proc.pid, "onestack"
    try:
        rows = asyncio.run(bench(url, token, pid, args.ports, args.rules, args.fill))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"server: {name}; load average before: {load:.2f}; command: bench/network.py "
          f"{' '.join(sys.argv[1:])}")
    print()
    print("| workload | requests | p50 ms | p99 ms | req/s | server CPU ms/req |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
