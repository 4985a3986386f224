"""What only a broker can show: a broker restart mid-stream, a killed worker's casts delivered
again, casts kept on disk while nobody serves them. Fails (not skips) without RabbitMQ unless
ONESTACK_TEST_NO_RABBIT=1.

The restart test runs ``rabbitmqctl stop_app`` / ``start_app`` (about a second; the broker
process keeps running) and always starts the app again in ``finally``. Those two carry the
``broker_restart`` mark: `make test` runs them alone, after the suites that share the broker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCClient, RPCServer
from onestack.common.rpc.rabbit import RabbitTransport, fanout_exchange
from tests.functional.platform.rpc_support import (
    Bus,
    delete_broker_names,
    eventually,
    require_rabbit,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def rabbit() -> AsyncIterator[Bus]:
    require_rabbit()
    made = Bus("rabbit")
    try:
        yield made
    finally:
        await made.close()


async def rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"rabbitmqctl {' '.join(args)}: {out.decode()}"


class Recorder:
    RPC_API_VERSION = "1.0"

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.release = asyncio.Event()

    async def record(self, ctx: RequestContext | None, n: int) -> None:
        self.seen.append(n)

    async def hold(self, ctx: RequestContext | None, n: int) -> None:
        """Still running when the broker goes away: its message was never acknowledged."""
        await self.release.wait()
        self.seen.append(n)

    async def ping(self, ctx: RequestContext | None) -> str:
        return "pong"


@pytest.mark.broker_restart
async def test_broker_restart_mid_stream_loses_no_cast(rabbit: Bus) -> None:
    server_side = await rabbit.transport()
    client_side = await rabbit.transport()
    topic = rabbit.topic("restart")
    recorder = Recorder()
    await RPCServer(server_side, topic, "h1", endpoints=[recorder]).start()
    client = RPCClient(client_side, topic, timeout=10)

    before = range(0, 50)
    for n in before:
        await client.cast(None, "record", n=n)
    await client.cast(None, "hold", n=1000)
    await eventually(lambda: set(before) <= set(recorder.seen))
    assert await client.call(None, "ping") == "pong"

    during: list[asyncio.Task[None]] = []
    try:
        await rabbitmqctl("stop_app")
        await eventually(lambda: not server_side.connected and not client_side.connected, 10)
        # sent while the broker is down: they wait for it to come back
        during = [asyncio.create_task(client.cast(None, "record", n=n)) for n in range(50, 100)]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in during)
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")
    await asyncio.wait_for(asyncio.gather(*during), 30)
    after = range(100, 150)
    for n in after:
        await client.cast(None, "record", n=n)
    recorder.release.set()  # the held cast finishes; its ack is lost with the old channel

    await eventually(lambda: set(range(150)) | {1000} <= set(recorder.seen), 20)
    assert await client.call(None, "ping") == "pong"
    assert await client.prepare(server="h1").call(None, "ping") == "pong"
    await client.prepare(fanout=True).cast(None, "record", n=2000)
    await eventually(lambda: 2000 in recorder.seen, 10)


async def test_a_killed_workers_unacknowledged_casts_go_to_another(rabbit: Bus) -> None:
    transport = await rabbit.transport()
    topic = rabbit.topic("killed")
    rabbit.queues.add(f"{topic}.doomed")
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.functional.platform.rpc_worker",
        rabbit.url,
        topic,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert worker.stdout is not None

        async def expect(line: str) -> None:
            while True:
                got = (await asyncio.wait_for(worker.stdout.readline(), 20)).decode().strip()  # type: ignore[union-attr]
                assert got, f"worker exited before {line!r}"
                if got == line:
                    return

        await expect("ready")
        client = RPCClient(transport, topic)
        for n in (0, 1, 2):
            await client.cast(None, "work", n=n)
        await expect("done 0")
        await expect("handling 1")
        await expect("handling 2")
    finally:
        if worker.returncode is None:
            os.kill(worker.pid, signal.SIGKILL)
        await worker.wait()

    class Successor:
        def __init__(self) -> None:
            self.seen: list[int] = []

        async def work(self, ctx: Any, n: int) -> None:
            self.seen.append(n)

    successor = Successor()
    await RPCServer(transport, topic, "heir", endpoints=[successor]).start()
    await eventually(lambda: sorted(successor.seen) == [1, 2], 10)
    await asyncio.sleep(0.1)
    assert sorted(successor.seen) == [1, 2]  # 0 was acknowledged: not delivered again


@pytest.mark.broker_restart
async def test_casts_wait_on_disk_for_a_server(rabbit: Bus) -> None:
    """Persistent casts to a topic nobody serves yet survive a broker restart."""
    transport = await rabbit.transport()
    topic = rabbit.topic("disk")
    client = RPCClient(transport, topic)
    for n in range(5):
        await client.cast(None, "record", n=n)
    try:
        await rabbitmqctl("stop_app")
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")
    recorder = Recorder()
    await RPCServer(transport, topic, "h1", endpoints=[recorder]).start()
    await eventually(lambda: sorted(recorder.seen) == list(range(5)), 15)


async def test_a_transport_that_cannot_connect_says_so() -> None:
    transport = RabbitTransport("rabbit://guest:hunter2@127.0.0.1:1/")
    with pytest.raises(Exception, match="cannot connect") as failure:
        await transport.start()
    assert "hunter2" not in str(failure.value)


async def test_a_queue_or_exchange_deleted_under_the_sender_is_declared_again(
    rabbit: Bus,
) -> None:
    transport = await rabbit.transport()
    topic = rabbit.topic("deleted")
    client = RPCClient(transport, topic)
    await client.cast(None, "record", n=0)
    await client.prepare(fanout=True).cast(None, "record", n=0)
    await delete_broker_names({topic}, {fanout_exchange(topic)})
    # unroutable (returned by the broker) -> declared again and sent again
    await asyncio.wait_for(client.cast(None, "record", n=1), 10)
    # no such exchange (the channel is closed by the broker) -> declared again
    await asyncio.wait_for(client.prepare(fanout=True).cast(None, "record", n=2), 10)
    recorder = Recorder()
    await RPCServer(transport, topic, "h1", endpoints=[recorder]).start()
    await eventually(lambda: recorder.seen == [1], 10)
