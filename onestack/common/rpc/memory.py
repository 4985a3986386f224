"""The in-process bus: asyncio queues, the same semantics as the rabbit transport.

Every ``memory://NAME`` transport of one event loop shares the bus called NAME, so the services of
the all-in-one process reach each other whichever transport object they hold. Topic and server
queues keep casts until a server takes them; fanout and notifications reach only the consumers
present at the time (notifications with no listening pool are dropped, and a pool's queue is
bounded), so an idle notifier never grows memory.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from onestack.common.rpc.errors import MessagingError, MessagingTimeout
from onestack.common.rpc.transport import (
    DEFAULT_PREFETCH,
    Handler,
    Inflight,
    NotificationHandler,
    Subscription,
    Target,
    Transport,
)

LOG = logging.getLogger(__name__)

#: Notifications a pool may have waiting before new ones are dropped.
NOTIFICATION_QUEUE_LIMIT = 10_000


@dataclass(slots=True)
class _Message:
    body: bytes
    reply: asyncio.Future[bytes] | None = None
    deadline: float | None = None  # loop time after which nobody waits for the reply


@dataclass(slots=True)
class _Pool:
    queue: asyncio.Queue[_Message]
    members: int = 0


@dataclass(slots=True)
class _Bus:
    queues: dict[str, asyncio.Queue[_Message]] = field(default_factory=dict)
    fanout: dict[str, set[asyncio.Queue[_Message]]] = field(default_factory=dict)
    pools: dict[str, dict[str | None, _Pool]] = field(default_factory=dict)
    dropped: int = 0  # notifications dropped because a pool's queue was full

    def queue(self, address: str) -> asyncio.Queue[_Message]:
        queue = self.queues.get(address)
        if queue is None:
            queue = self.queues[address] = asyncio.Queue()
        return queue


_BUSES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Bus]] = (
    weakref.WeakKeyDictionary()
)


def _bus(name: str) -> _Bus:
    buses = _BUSES.setdefault(asyncio.get_running_loop(), {})
    if name not in buses:
        buses[name] = _Bus()
    return buses[name]


class _MemorySubscription(Subscription):
    def __init__(self, transport: MemoryTransport, prefetch: int):
        self._transport = transport
        self._limit = asyncio.Semaphore(prefetch)
        self._inflight = Inflight()
        self._consumers: list[asyncio.Task[None]] = []
        self._on_stop: list[Callable[[], None]] = []
        self._stopped = False

    def consume(self, queue: asyncio.Queue[_Message], handle: Handler) -> None:
        self._consumers.append(asyncio.create_task(self._consume(queue, handle)))

    async def _consume(self, queue: asyncio.Queue[_Message], handle: Handler) -> None:
        while True:
            await self._limit.acquire()
            try:
                message = await queue.get()
            except BaseException:
                self._limit.release()
                raise
            task = self._inflight.spawn(self._deliver(message, handle))
            task.add_done_callback(lambda _task: self._limit.release())

    @staticmethod
    async def _deliver(message: _Message, handle: Handler) -> None:
        loop = asyncio.get_running_loop()
        if message.reply is not None and (
            message.reply.done() or (message.deadline and loop.time() > message.deadline)
        ):
            return  # the caller gave up: do not run a call nobody waits for
        try:
            reply = await handle(message.body, message.reply is not None)
        except Exception:
            LOG.exception("message handler failed")
            return
        if message.reply is not None and not message.reply.done() and reply is not None:
            message.reply.set_result(reply)

    async def stop(self, timeout: float | None = None) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await self._inflight.drain(timeout)
        for cleanup in self._on_stop:
            cleanup()
        self._transport._subscriptions.discard(self)


class MemoryTransport(Transport):
    """``memory://[name]``: asyncio queues in this process; no network."""

    def __init__(self, url: str = "memory://"):
        super().__init__(url)
        parts = urlsplit(url)
        self.bus_name = (parts.netloc + parts.path).strip("/")
        self._bus: _Bus | None = None
        self._subscriptions: set[_MemorySubscription] = set()

    @property
    def bus(self) -> _Bus:
        if self._bus is None:
            raise MessagingError("the transport is not started")
        return self._bus

    async def start(self) -> None:
        self._bus = _bus(self.bus_name)

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        self._bus = None

    async def cast(self, target: Target, body: bytes) -> None:
        bus = self.bus
        if target.fanout:
            for queue in bus.fanout.get(target.topic, ()):
                queue.put_nowait(_Message(body))
        else:
            bus.queue(target.address).put_nowait(_Message(body))

    async def call(self, target: Target, body: bytes, timeout: float) -> bytes:
        if target.fanout:
            raise ValueError("a call cannot be fanned out")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[bytes] = loop.create_future()
        self.bus.queue(target.address).put_nowait(_Message(body, reply, loop.time() + timeout))
        try:
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise MessagingTimeout(f"no reply from {target.address} within {timeout:g} s") from None

    async def listen(
        self, topic: str, server: str, handler: Handler, *, prefetch: int = DEFAULT_PREFETCH
    ) -> Subscription:
        bus = self.bus
        target = Target(topic, server)
        subscription = _MemorySubscription(self, prefetch)
        fanout: asyncio.Queue[_Message] = asyncio.Queue()
        bus.fanout.setdefault(topic, set()).add(fanout)

        def leave_fanout() -> None:
            members = bus.fanout.get(topic)
            if members is not None:
                members.discard(fanout)
                if not members:
                    del bus.fanout[topic]

        subscription._on_stop.append(leave_fanout)
        for queue in (bus.queue(topic), bus.queue(target.address), fanout):
            subscription.consume(queue, handler)
        self._subscriptions.add(subscription)
        return subscription

    async def notify(self, address: str, body: bytes) -> None:
        bus = self.bus
        for pool in bus.pools.get(address, {}).values():
            try:
                pool.queue.put_nowait(_Message(body))
            except asyncio.QueueFull:
                bus.dropped += 1
                if bus.dropped % 1000 == 1:
                    LOG.warning("notification queue of %s full; dropped %d", address, bus.dropped)

    async def listen_notifications(
        self,
        addresses: Sequence[str],
        pool: str | None,
        handler: NotificationHandler,
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> Subscription:
        bus = self.bus
        subscription = _MemorySubscription(self, prefetch)

        async def handle(body: bytes, _wants_reply: bool) -> None:
            await handler(body)

        for address in dict.fromkeys(addresses):
            pools = bus.pools.setdefault(address, {})
            member = pools.get(pool)
            if member is None:
                member = pools[pool] = _Pool(asyncio.Queue(NOTIFICATION_QUEUE_LIMIT))
            member.members += 1

            def leave(address: str = address, member: _Pool = member) -> None:
                member.members -= 1
                pools = bus.pools.get(address, {})
                if member.members == 0 and pools.get(pool) is member:
                    del pools[pool]  # nobody left in the pool: what it had queued is dropped
                    if not pools:
                        bus.pools.pop(address, None)

            subscription._on_stop.append(leave)
            subscription.consume(member.queue, handle)
        self._subscriptions.add(subscription)
        return subscription
