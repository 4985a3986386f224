"""The ``bus`` fixture: RPC tests run once on each transport.

memory always; rabbit against ONESTACK_TEST_RABBIT_URL (default the local broker). An unreachable
broker FAILS the rabbit variants unless ONESTACK_TEST_NO_RABBIT=1, so a green run means both ran.
Every test uses topics of its own (uuid) and the fixture deletes, on teardown, the queues and
exchanges those topics made.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import pytest

from onestack.common.rpc import Transport, get_transport
from onestack.common.rpc.rabbit import fanout_exchange, notification_queue

RABBIT_URL = os.environ.get("ONESTACK_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")


@cache
def rabbit_reachable() -> bool:
    parts = urlsplit(RABBIT_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


def require_rabbit() -> None:
    if rabbit_reachable():
        return
    if os.environ.get("ONESTACK_TEST_NO_RABBIT") == "1":
        pytest.skip("ONESTACK_TEST_NO_RABBIT=1: RabbitMQ tests not run")
    pytest.fail(f"RabbitMQ is not reachable at {RABBIT_URL} (set ONESTACK_TEST_NO_RABBIT=1)")


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


class Bus:
    """Makes started transports of one kind and remembers what they created on the broker."""

    def __init__(self, kind: str):
        self.kind = kind
        self.url = RABBIT_URL if kind == "rabbit" else f"memory://test-{uuid.uuid4().hex[:8]}"
        self.transports: list[Transport] = []
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    @staticmethod
    def topic(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    async def transport(self, **options: Any) -> Transport:
        transport = get_transport(self.url, **options)
        self._track(transport)
        await transport.start()
        self.transports.append(transport)
        return transport

    def _track(self, transport: Transport) -> None:
        """Record the broker names the transport's messages and consumers use."""
        cast, call, listen = transport.cast, transport.call, transport.listen
        listen_notifications = transport.listen_notifications

        def target(t: Any) -> None:
            self.queues.add(t.address)
            self.exchanges.add(fanout_exchange(t.topic))

        async def tracked_cast(t: Any, body: bytes) -> None:
            target(t)
            await cast(t, body)

        async def tracked_call(t: Any, body: bytes, timeout: float) -> bytes:
            target(t)
            return await call(t, body, timeout)

        async def tracked_listen(topic: str, server: str, *args: Any, **kw: Any) -> Any:
            self.queues.update((topic, f"{topic}.{server}"))
            self.exchanges.add(fanout_exchange(topic))
            return await listen(topic, server, *args, **kw)

        async def tracked_listen_notifications(
            addresses: Any, pool: str | None, *args: Any, **kw: Any
        ) -> Any:
            self.queues.update(notification_queue(a, pool) for a in addresses)
            return await listen_notifications(addresses, pool, *args, **kw)

        transport.cast = tracked_cast  # type: ignore[method-assign]
        transport.call = tracked_call  # type: ignore[method-assign]
        transport.listen = tracked_listen  # type: ignore[method-assign]
        transport.listen_notifications = tracked_listen_notifications  # type: ignore[method-assign]

    async def close(self) -> None:
        for transport in self.transports:
            await transport.stop()
        if self.kind == "rabbit" and (self.queues or self.exchanges):
            await delete_broker_names(self.queues, self.exchanges)


async def delete_broker_names(queues: set[str], exchanges: set[str]) -> None:
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            await channel.queue_delete(name)
        for name in exchanges:
            await channel.exchange_delete(name)


@pytest.fixture(params=["memory", "rabbit"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "rabbit":
        require_rabbit()
    made = Bus(request.param)
    try:
        yield made
    finally:
        await made.close()
