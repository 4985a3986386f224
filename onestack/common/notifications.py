"""Notifications: ``<service>.<resource>.<action>[.start|.end|.error]`` events on the bus.

``Notifier(transport, publisher_id="image.host1").info(ctx, "image.create", payload)`` publishes
to ``notifications.info``; a :class:`NotificationListener` hands each :class:`Notification` to an
async handler. Every listener pool gets every notification, the listeners of one pool share them.

A notification must never fail the request that emits it: a bus failure is logged and dropped.
Programming errors (an invalid event type, a payload that is not JSON-safe) raise at once, so
tests catch them.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.rpc.serialization import dumps, loads
from onestack.common.rpc.transport import (
    DEFAULT_PREFETCH,
    Subscription,
    Transport,
    check_name,
)

LOG = logging.getLogger(__name__)

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")
DEFAULT_TOPICS = ("notifications",)
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")


@dataclass(frozen=True, slots=True)
class Notification:
    """One event as listeners receive it."""

    message_id: str
    event_type: str
    priority: str  # "INFO", "WARN", "ERROR", ...
    payload: Any
    publisher_id: str
    timestamp: str  # ISO 8601, UTC
    request_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "priority": self.priority,
            "payload": self.payload,
            "publisher_id": self.publisher_id,
            "timestamp": self.timestamp,
            "request_id": self.request_id,
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(
            message_id=str(data["message_id"]),
            event_type=str(data["event_type"]),
            priority=str(data["priority"]),
            payload=data.get("payload"),
            publisher_id=str(data.get("publisher_id") or ""),
            timestamp=str(data["timestamp"]),
            request_id=data.get("request_id"),
            context=data.get("context") or {},
        )


def check_event_type(event_type: str) -> None:
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise ValueError(
            f"invalid event type {event_type!r}: expected <service>.<resource>.<action>"
            "[.start|.end|.error], lower case, dot separated"
        )


def _priority(priority: str) -> str:
    name = str(priority).lower()
    if name == "warning":
        name = "warn"
    if name not in PRIORITIES:
        raise ValueError(f"unknown notification priority {priority!r}")
    return name


class Notifier:
    """Publishes notifications as ``publisher_id`` (``<service>.<host>``)."""

    def __init__(
        self,
        transport: Transport,
        publisher_id: str,
        *,
        topics: Sequence[str] = DEFAULT_TOPICS,
    ):
        for topic in topics:
            check_name("topic", topic)
        self.transport = transport
        self.publisher_id = publisher_id
        self.topics = tuple(topics)

    def prepare(self, publisher_id: str) -> Notifier:
        return Notifier(self.transport, publisher_id, topics=self.topics)

    async def info(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        await self.notify(ctx, event_type, payload, "info")

    async def warn(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        await self.notify(ctx, event_type, payload, "warn")

    warning = warn

    async def error(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        await self.notify(ctx, event_type, payload, "error")

    async def notify(
        self, ctx: RequestContext | None, event_type: str, payload: Any, priority: str = "info"
    ) -> None:
        """Publish one notification at ``priority`` (one of :data:`PRIORITIES`)."""
        check_event_type(event_type)
        level = _priority(priority)
        context = ctx.to_dict() if ctx is not None else {}
        context.pop("auth_token", None)  # listeners store notifications: no credentials
        notification = Notification(
            message_id=str(uuid.uuid4()),
            event_type=event_type,
            priority=level.upper(),
            payload=payload,
            publisher_id=self.publisher_id,
            timestamp=datetime.now(UTC).isoformat(),
            request_id=ctx.request_id if ctx is not None else None,
            context=context,
        )
        body = dumps(notification.to_dict())  # TypeError for a payload that is not JSON-safe
        for topic in self.topics:
            try:
                await self.transport.notify(f"{topic}.{level}", body)
            except Exception:
                LOG.exception("could not publish notification %s to %s", event_type, topic)


NotificationCallback = Callable[[Notification], Awaitable[None]]


class NotificationListener:
    """Hands the notifications of ``topics`` to ``handler``, as a member of ``pool``.

    ``priorities`` narrows what is received (default: all). On rabbit a pool's queues are
    durable: what arrives while its listeners are down waits for them.
    """

    def __init__(
        self,
        transport: Transport,
        handler: NotificationCallback,
        topics: Sequence[str] = DEFAULT_TOPICS,
        pool: str | None = None,
        *,
        priorities: Sequence[str] = PRIORITIES,
        prefetch: int = DEFAULT_PREFETCH,
    ):
        for topic in topics:
            check_name("topic", topic)
        if pool is not None:
            check_name("pool", pool)
        self.transport = transport
        self.handler = handler
        self.addresses = [f"{t}.{_priority(p)}" for t in topics for p in priorities]
        self.pool = pool
        self.prefetch = prefetch
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        if self._subscription is None:
            self._subscription = await self.transport.listen_notifications(
                self.addresses, self.pool, self._handle, prefetch=self.prefetch
            )

    async def stop(self, timeout: float | None = 60.0) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.stop(timeout)

    async def _handle(self, body: bytes) -> None:
        try:
            notification = Notification.from_dict(loads(body))
        except (ValueError, KeyError, TypeError):
            LOG.warning("dropped a malformed notification: %.200r", body)
            return
        try:
            await self.handler(notification)
        except Exception:
            LOG.exception("notification handler failed for %s", notification.event_type)
