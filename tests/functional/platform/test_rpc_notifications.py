"""Notifications on both transports: fields, pools, priorities, no listener, failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from onestack.common.context import RequestContext
from onestack.common.notifications import Notification, NotificationListener, Notifier
from onestack.common.rpc import MessageDeliveryFailure
from onestack.common.rpc.memory import MemoryTransport
from tests.functional.platform import rpc_support
from tests.functional.platform.rpc_support import Bus, eventually

bus = rpc_support.bus  # the fixture: every test runs on memory and on rabbit

CTX = RequestContext(request_id="req-n1", user_id="u1", project_id="p1", auth_token="secret")


class Inbox:
    def __init__(self) -> None:
        self.items: list[Notification] = []

    async def __call__(self, notification: Notification) -> None:
        self.items.append(notification)

    def types(self) -> list[str]:
        return sorted(n.event_type for n in self.items)


async def listen(transport: Any, handler: Any, topic: str, **kw: Any) -> NotificationListener:
    listener = NotificationListener(transport, handler, topics=(topic,), **kw)
    await listener.start()
    return listener


async def test_a_notification_carries_its_fields(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic("notifications")
    inbox = Inbox()
    await listen(transport, inbox, topic)
    notifier = Notifier(transport, publisher_id="image.host1", topics=(topic,))
    payload = {"id": "abc", "size": 3, "at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC)}
    await notifier.info(CTX, "image.create", payload)
    await eventually(lambda: len(inbox.items) == 1)
    [n] = inbox.items
    assert n.event_type == "image.create"
    assert n.priority == "INFO"
    assert n.payload == {"id": "abc", "size": 3, "at": "2024-01-02T00:00:00+00:00"}
    assert n.publisher_id == "image.host1"
    assert n.request_id == "req-n1"
    assert n.context["project_id"] == "p1"
    assert "auth_token" not in n.context and "token" not in n.context
    stamp = dt.datetime.fromisoformat(n.timestamp)
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 30
    assert len(n.message_id) == 36


async def test_priorities_and_start_end_error_suffixes(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic("notifications")
    everything, errors_only = Inbox(), Inbox()
    await listen(transport, everything, topic, pool="all")
    await listen(transport, errors_only, topic, pool="errors", priorities=("error",))
    notifier = Notifier(transport, publisher_id="compute.h1", topics=(topic,))
    await notifier.info(CTX, "compute.instance.create.start", {})
    await notifier.warn(CTX, "compute.instance.create.end", {})
    await notifier.error(None, "compute.instance.create.error", {"fault": "boom"})
    await eventually(lambda: len(everything.items) == 3 and len(errors_only.items) == 1)
    assert {n.priority for n in everything.items} == {"INFO", "WARN", "ERROR"}
    [error] = errors_only.items
    assert (error.event_type, error.priority, error.request_id) == (
        "compute.instance.create.error",
        "ERROR",
        None,
    )


async def test_every_pool_gets_all_and_a_pool_shares(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic("notifications")
    telemetry, dashboard_a, dashboard_b = Inbox(), Inbox(), Inbox()
    await listen(transport, telemetry, topic, pool="telemetry")
    await listen(transport, dashboard_a, topic, pool="dashboard")
    other = await bus.transport()  # the other dashboard worker is another process
    await listen(other, dashboard_b, topic, pool="dashboard")
    notifier = Notifier(transport, publisher_id="image.h1", topics=(topic,))
    for i in range(40):
        await notifier.info(None, f"image.update{i}", {"i": i})
    expected = sorted(f"image.update{i}" for i in range(40))
    await eventually(lambda: len(dashboard_a.items) + len(dashboard_b.items) >= 40)
    await eventually(lambda: len(telemetry.items) >= 40)
    await asyncio.sleep(0.05)
    assert telemetry.types() == expected
    assert sorted(dashboard_a.types() + dashboard_b.types()) == expected  # each exactly once


async def test_a_notifier_with_no_listener_neither_blocks_nor_keeps_anything(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic("notifications")
    notifier = Notifier(transport, publisher_id="image.h1", topics=(topic,))
    await asyncio.wait_for(
        asyncio.gather(*(notifier.info(None, "image.create", {"i": i}) for i in range(500))), 10
    )
    if isinstance(transport, MemoryTransport):
        assert not any(a.startswith(topic) for a in transport.bus.pools)
        assert not any(a.startswith(topic) for a in transport.bus.queues)


async def test_bad_event_types_and_payloads_are_programming_errors(bus: Bus) -> None:
    transport = await bus.transport()
    notifier = Notifier(transport, publisher_id="image.h1", topics=(bus.topic(),))
    for bad in ("create", "Image.Create", "image..create", "image.create ", "", "image.cre ate"):
        with pytest.raises(ValueError, match="event type"):
            await notifier.info(None, bad, {})
    with pytest.raises(TypeError):
        await notifier.info(None, "image.create", {"x": object()})
    with pytest.raises(ValueError, match="priority"):
        await notifier.notify(None, "image.create", {}, priority="loud")


async def test_a_bus_failure_is_logged_never_raised(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    transport = await bus.transport()
    notifier = Notifier(transport, publisher_id="image.h1", topics=(bus.topic(),))

    async def broken(address: str, body: bytes) -> None:
        raise MessageDeliveryFailure("broker gone")

    transport.notify = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="onestack.common.notifications"):
        await notifier.info(CTX, "image.delete", {"id": "x"})
    assert "image.delete" in caplog.text and "broker gone" in caplog.text


async def test_a_failing_handler_does_not_stop_the_listener(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic("notifications")
    inbox = Inbox()

    async def flaky(n: Notification) -> None:
        if n.payload.get("fail"):
            raise RuntimeError("handler bug")
        await inbox(n)

    await listen(transport, flaky, topic)
    notifier = Notifier(transport, publisher_id="image.h1", topics=(topic,))
    await notifier.info(None, "image.create", {"fail": True})
    await notifier.info(None, "image.update", {"fail": False})
    await eventually(lambda: inbox.types() == ["image.update"])


async def test_a_pool_keeps_what_arrives_while_its_listener_restarts(bus: Bus) -> None:
    """rabbit: a pool's queues are durable. memory: a pool with nobody left drops."""
    transport = await bus.transport()
    topic = bus.topic("notifications")
    inbox = Inbox()
    listener = await listen(transport, inbox, topic, pool="telemetry")
    notifier = Notifier(transport, publisher_id="image.h1", topics=(topic,))
    await notifier.info(None, "image.create", {})
    await eventually(lambda: len(inbox.items) == 1)
    await listener.stop()
    await notifier.info(None, "image.update", {})
    await asyncio.sleep(0.1)
    assert len(inbox.items) == 1
    await listener.start()
    if bus.kind == "rabbit":
        await eventually(lambda: inbox.types() == ["image.create", "image.update"])
    else:
        await asyncio.sleep(0.1)
        assert inbox.types() == ["image.create"]
