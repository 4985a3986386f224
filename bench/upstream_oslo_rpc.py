"""The rpc_roundtrip.py workload on upstream oslo.messaging (rabbit driver, threading executor).

Runs in its own venv, never the project's:
    python3 -m venv bench/.upstream/oslo-venv
    bench/.upstream/oslo-venv/bin/pip install oslo.messaging
    bench/.upstream/oslo-venv/bin/python bench/upstream_oslo_rpc.py [--json]

Same payload and context size, same call / cast counts and concurrency (threads here, tasks in
onestack). ``amqp_durable_queues = true`` so casts are persistent as onestack's are; oslo does
not wait for publisher confirms. Prints one markdown row (or JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import amqp
import oslo_messaging as om
from oslo_config import cfg

CTX = {
    "request_id": "req-" + uuid.uuid4().hex,
    "user_id": "u" * 32,
    "project_id": "p" * 32,
    "roles": ["member", "reader"],
    "auth_token": "gAAAA" + "x" * 180,
}
PAYLOAD = {"instance_id": str(uuid.uuid4()), "flavor": {"vcpus": 2, "ram": 2048}, "n": 0}


class Endpoint:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.casts = 0
        self.expected = 0
        self.done = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def sink(self, ctxt: dict[str, Any], n: int) -> None:
        with self.lock:
            self.casts += 1
            if self.casts >= self.expected:
                self.done.set()


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def casts_per_second(client: Any, endpoint: Endpoint, count: int, senders: int) -> float:
    endpoint.casts, endpoint.expected = 0, count
    endpoint.done.clear()
    per_sender = count // senders

    def send() -> None:
        for n in range(per_sender):
            client.cast(CTX, "sink", n=n)

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        for future in [pool.submit(send) for _ in range(senders)]:
            future.result()
    if not endpoint.done.wait(120):
        raise TimeoutError(f"only {endpoint.casts} of {count} casts handled")
    return count / (time.perf_counter() - started)


def delete_queues(url: str, topic: str) -> None:
    """oslo's durable queues outlive the run: delete what this run made."""
    parts = urlsplit(url)
    host = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"
    with amqp.Connection(host, userid=parts.username, password=parts.password) as connection:
        channel = connection.channel()
        for queue in (topic, f"{topic}.h1"):
            channel.queue_delete(queue)
        channel.exchange_delete(f"{topic}_fanout")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="rabbit://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--casts", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    conf = cfg.CONF  # oslo.messaging registers its tracing options on the global one
    conf([], project="bench")
    server_transport = om.get_rpc_transport(conf, url=args.url)
    client_transport = om.get_rpc_transport(conf, url=args.url)
    conf.set_override("amqp_durable_queues", True, group="oslo_messaging_rabbit")
    topic = f"bench-oslo-{uuid.uuid4().hex[:8]}"
    endpoint = Endpoint()
    server = om.get_rpc_server(
        server_transport, om.Target(topic=topic, server="h1"), [endpoint], executor="threading"
    )
    server.start()
    client = om.get_rpc_client(client_transport, om.Target(topic=topic), timeout=30)
    try:
        for _ in range(args.warmup):
            client.call(CTX, "echo", value=PAYLOAD)
        latencies = []
        for _ in range(args.calls):
            started = time.perf_counter()
            client.call(CTX, "echo", value=PAYLOAD)
            latencies.append(time.perf_counter() - started)
        latencies.sort()

        per = args.calls // args.concurrency

        def caller() -> None:
            for _ in range(per):
                client.call(CTX, "echo", value=PAYLOAD)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for future in [pool.submit(caller) for _ in range(args.concurrency)]:
                future.result()
        concurrent_calls = per * args.concurrency / (time.perf_counter() - started)

        casts = args.casts - args.casts % args.concurrency
        casts_per_second(client, endpoint, args.warmup, 1)
        serial = casts_per_second(client, endpoint, casts, 1)
        parallel = casts_per_second(client, endpoint, casts, args.concurrency)
    finally:
        server.stop()
        server.wait()
        client_transport.cleanup()
        server_transport.cleanup()
        delete_queues(args.url, topic)
    result = {
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
        "calls": len(latencies) / sum(latencies),
        "calls_c": concurrent_calls,
        "casts": serial,
        "casts_c": parallel,
        "topic": topic,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(result)


if __name__ == "__main__":
    main()
