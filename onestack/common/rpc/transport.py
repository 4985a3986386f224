"""The transport interface both buses implement, and :func:`get_transport`.

A transport moves opaque message bodies (JSON bytes made by the client, server and notifier):

- ``cast``: to a topic's shared queue (competing servers), to one server's queue
  (``topic.server``), or to every server of the topic (fanout); nothing comes back.
- ``call``: like a cast to a topic or server, then waits for the reply body.
- ``listen``: a server consumes its topic queue, its own queue and the topic's fanout, and the
  handler's return value is sent back when the message was a call. A message is acknowledged
  only after its handler finished.
- ``notify`` / ``listen_notifications``: one queue per listener pool and address
  (``notifications.info``); every pool gets every notification, listeners of a pool compete.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOG = logging.getLogger(__name__)

#: A message handler: (body, wants_reply) -> the reply body (ignored for casts).
Handler = Callable[[bytes, bool], Awaitable[bytes | None]]
#: A notification handler: (body) -> None.
NotificationHandler = Callable[[bytes], Awaitable[None]]
#: A metrics hook: (side "client"/"server", kind "call"/"cast"/"fanout", topic, method,
#: seconds, ok).
Observer = Callable[[str, str, str, str, float, bool], None]

#: How many messages one server (or listener) handles at once.
DEFAULT_PREFETCH = 64


def check_name(kind: str, value: object) -> None:
    """Topic, server and pool names: 1-200 printable characters without spaces."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 200
        or not value.isprintable()
        or any(ch.isspace() for ch in value)
    ):
        raise ValueError(f"invalid RPC {kind} name: {value!r}")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a message goes: a topic, optionally one server of it, or all of them (fanout)."""

    topic: str
    server: str | None = None
    fanout: bool = False

    def __post_init__(self) -> None:
        check_name("topic", self.topic)
        if self.server is not None:
            check_name("server", self.server)

    @property
    def address(self) -> str:
        """The queue a cast or call goes to: ``topic`` or ``topic.server``."""
        return f"{self.topic}.{self.server}" if self.server else self.topic


class Subscription(ABC):
    """A running consumer; ``stop`` stops taking messages and drains the ones in flight."""

    @abstractmethod
    async def stop(self, timeout: float | None = None) -> None:
        """Stop consuming, wait up to ``timeout`` (None: forever) for handlers in flight, then
        cancel the rest (on rabbit their messages go back to the queue)."""


class Inflight:
    """The handler tasks of one subscription, so that stop can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float | None) -> None:
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            LOG.warning("cancelled %d message handlers still running at stop", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)


class Transport(ABC):
    """A message bus: ``memory://`` (one process) or ``rabbit://`` (RabbitMQ)."""

    #: Whether a cast outlives this process until a server has handled it (a broker keeps it
    #: and delivers it again when its handler died): then a server that takes the work later
    #: owns it, not the sender.
    durable: bool = False

    def __init__(self, url: str):
        self.url = url
        #: Metrics hooks, called for every RPC message sent (client) and handled (server).
        self.observers: list[Observer] = []

    def observe(
        self, side: str, kind: str, topic: str, method: str, seconds: float, ok: bool
    ) -> None:
        for observer in self.observers:
            try:
                observer(side, kind, topic, method, seconds, ok)
            except Exception:
                LOG.exception("RPC observer %r failed", observer)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def cast(self, target: Target, body: bytes) -> None:
        """Send without waiting for a reply (fanout when ``target.fanout``)."""

    @abstractmethod
    async def call(self, target: Target, body: bytes, timeout: float) -> bytes:
        """Send and return the reply body; :class:`MessagingTimeout` after ``timeout`` s."""

    @abstractmethod
    async def listen(
        self, topic: str, server: str, handler: Handler, *, prefetch: int = DEFAULT_PREFETCH
    ) -> Subscription:
        """Consume ``topic`` (shared), ``topic.server`` and the topic's fanout."""

    @abstractmethod
    async def notify(self, address: str, body: bytes) -> None:
        """Publish a notification to ``address`` (``topic.priority``); dropped when no pool
        listens. Raises when the bus cannot take it (the notifier logs and moves on)."""

    @abstractmethod
    async def listen_notifications(
        self,
        addresses: Sequence[str],
        pool: str | None,
        handler: NotificationHandler,
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> Subscription:
        """Consume ``addresses`` as a member of ``pool`` (None: the default pool)."""

    async def __aenter__(self) -> Transport:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def get_transport(url: str | None = None, **options: Any) -> Transport:
    """The transport for ``url``: ``memory://[name]`` (default) or
    ``rabbit://user:pass@host:port/vhost`` (``amqp://`` and ``amqps://`` too).

    ``options`` go to the transport class (rabbit: ``prefetch``, ``reconnect_interval``,
    ``publish_timeout``, ``connection_name``).
    """
    url = url or "memory://"
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from onestack.common.rpc.memory import MemoryTransport

        return MemoryTransport(url, **options)
    if scheme in ("rabbit", "amqp", "amqps"):
        from onestack.common.rpc.rabbit import RabbitTransport

        return RabbitTransport(url, **options)
    raise ValueError(f"unknown transport URL scheme {scheme!r}: use memory:// or rabbit://")
