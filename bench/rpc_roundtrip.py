"""RPC round trip and cast throughput on the memory and rabbit transports.

For each transport: a server and a client, each on its own transport (on rabbit, two
connections, as two processes would have), in this one process and event loop.

- call: ``echo(ctx, value=...)`` with a request context and a small dict, one caller at a time:
  p50 / p99 / mean latency and calls/s; then ``--concurrency`` callers at once: calls/s.
- cast: ``sink(ctx, n=...)``, one sender awaiting each cast (on rabbit: until the broker
  confirmed it, persistent), then ``--concurrency`` senders; casts/s counted until the server
  has handled the last one.

With ``--upstream``, the same workload on upstream oslo.messaging over the same broker
(bench/upstream_oslo_rpc.py, in its own venv: see there) runs right after onestack's rabbit row,
and a ratio row follows.

Usage: .venv/bin/python bench/rpc_roundtrip.py [--transports memory,rabbit] [--calls 2000]
       [--casts 5000] [--concurrency 16] [--url amqp://guest:guest@127.0.0.1:5672/]
       [--repeat 3] [--upstream [bench/.upstream/oslo-venv/bin/python]]
Prints a markdown table. Takes /tmp/bench.lock so benchmarks never overlap; creates and deletes
its own uniquely named queues.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCClient, RPCServer, Transport, get_transport
from onestack.common.rpc.rabbit import RabbitTransport, fanout_exchange

CTX = RequestContext(
    request_id="req-" + uuid.uuid4().hex,
    user_id="u" * 32,
    project_id="p" * 32,
    roles=("member", "reader"),
    auth_token="gAAAA" + "x" * 180,
)
HERE = Path(__file__).resolve().parent
PAYLOAD = {"instance_id": str(uuid.uuid4()), "flavor": {"vcpus": 2, "ram": 2048}, "n": 0}


class Endpoint:
    def __init__(self) -> None:
        self.casts = 0
        self.expected = 0
        self.done = asyncio.Event()

    async def echo(self, ctx: RequestContext | None, value: Any) -> Any:
        return value

    async def sink(self, ctx: RequestContext | None, n: int) -> None:
        self.casts += 1
        if self.casts >= self.expected:
            self.done.set()


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def casts_per_second(
    client: RPCClient, endpoint: Endpoint, count: int, senders: int
) -> float:
    endpoint.casts, endpoint.expected = 0, count
    endpoint.done.clear()
    per_sender = count // senders

    async def send() -> None:
        for n in range(per_sender):
            await client.cast(CTX, "sink", n=n)

    started = time.perf_counter()
    await asyncio.gather(*(send() for _ in range(senders)))
    await asyncio.wait_for(endpoint.done.wait(), 120)
    return count / (time.perf_counter() - started)


async def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    server_side: Transport = get_transport(url)
    client_side: Transport = get_transport(url)
    await server_side.start()
    await client_side.start()
    endpoint = Endpoint()
    server = RPCServer(server_side, topic, "h1", endpoints=[endpoint])
    await server.start()
    client = RPCClient(client_side, topic, timeout=30)
    try:
        for _ in range(args.warmup):
            await client.call(CTX, "echo", value=PAYLOAD)
        latencies = []
        for _ in range(args.calls):
            started = time.perf_counter()
            await client.call(CTX, "echo", value=PAYLOAD)
            latencies.append(time.perf_counter() - started)
        latencies.sort()

        async def caller(n: int) -> None:
            for _ in range(n):
                await client.call(CTX, "echo", value=PAYLOAD)

        per = args.calls // args.concurrency
        started = time.perf_counter()
        await asyncio.gather(*(caller(per) for _ in range(args.concurrency)))
        concurrent_calls = per * args.concurrency / (time.perf_counter() - started)

        casts = args.casts - args.casts % args.concurrency
        await casts_per_second(client, endpoint, args.warmup, 1)
        serial = await casts_per_second(client, endpoint, casts, 1)
        parallel = await casts_per_second(client, endpoint, casts, args.concurrency)
    finally:
        await server.stop()
        if isinstance(server_side, RabbitTransport):
            channel = await server_side.connection.channel()
            for queue in (topic, f"{topic}.h1"):
                await channel.queue_delete(queue)
            await channel.exchange_delete(fanout_exchange(topic))
            await channel.close()
        await client_side.stop()
        await server_side.stop()
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
        "calls": len(latencies) / sum(latencies),
        "calls_c": concurrent_calls,
        "casts": serial,
        "casts_c": parallel,
    }


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure_upstream(args: argparse.Namespace) -> dict[str, float]:
    url = args.url.replace("amqp://", "rabbit://", 1)
    command = [args.upstream, str(HERE / "upstream_oslo_rpc.py"), "--json", "--url", url]
    for option in ("calls", "casts", "warmup", "concurrency"):
        command += [f"--{option}", str(getattr(args, option))]
    out = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {key: float(value) for key, value in result.items() if key != "topic"}


async def main(args: argparse.Namespace) -> None:
    urls = {"memory": "memory://bench", "rabbit": args.url}
    rows = []
    for name in args.transports.split(","):
        load = os.getloadavg()[0]
        results = median([await measure(urls[name], args) for _ in range(args.repeat)])
        rows.append((name, load, results))
        if name == "rabbit" and args.upstream:
            load = os.getloadavg()[0]
            upstream = median([measure_upstream(args) for _ in range(args.repeat)])
            rows.append(("oslo.messaging (rabbit)", load, upstream))
            ratio = {key: results[key] / upstream[key] for key in results}
            rows.append(("ratio onestack/oslo", 0.0, ratio))
    c = args.concurrency
    print(
        f"RPC round trip: {args.calls} calls, {args.casts} casts, concurrency {c}, "
        f"median of {args.repeat} run(s), "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n"
    )
    print(
        f"| transport | load before | call p50 ms | call p99 ms | call mean ms | calls/s (1) "
        f"| calls/s ({c}) | casts/s (1) | casts/s ({c}) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, load, r in rows:
        if name.startswith("ratio"):
            cells = [f"{r[k]:.2f}x" for k in ("p50", "p99", "mean", "calls", "calls_c")]
            cells += [f"{r[k]:.2f}x" for k in ("casts", "casts_c")]
            print(f"| {name} | - | " + " | ".join(cells) + " |")
            continue
        print(
            f"| {name} | {load:.2f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['mean']:.3f} "
            f"| {r['calls']:,.0f} | {r['calls_c']:,.0f} | {r['casts']:,.0f} "
            f"| {r['casts_c']:,.0f} |"
        )
    if args.upstream:
        print("\nRatios: latency columns below 1 and rate columns above 1 favour onestack.")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transports", default="memory,rabbit")
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--casts", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; medians shown")
    parser.add_argument(
        "--upstream",
        nargs="?",
        const=str(HERE / ".upstream" / "oslo-venv" / "bin" / "python"),
        help="python of a venv with oslo.messaging: also measure upstream over rabbit",
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    with open("/tmp/bench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        asyncio.run(main(arguments))
