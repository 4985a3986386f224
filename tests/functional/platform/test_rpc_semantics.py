"""RPC semantics, the same on both transports: call, cast, fanout, per-server topics, timeouts,
remote errors, versions, draining on stop, metrics hooks."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest

from onestack.common.context import RequestContext
from onestack.common.errors import Conflict, NotFound
from onestack.common.rpc import (
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RPCClient,
    RPCServer,
    UnsupportedVersion,
)
from tests.functional.platform import rpc_support
from tests.functional.platform.rpc_support import Bus, eventually

bus = rpc_support.bus  # the fixture: every test runs on memory and on rabbit


class Oddity(Exception):
    """Not an onestack class: comes back as RemoteError."""


class Manager:
    RPC_API_VERSION = "1.5"

    def __init__(self, name: str = "m"):
        self.name = name
        self.seen: list[tuple[str, Any]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def echo(self, ctx: RequestContext | None, value: Any = None) -> dict[str, Any]:
        return {
            "value": value,
            "server": self.name,
            "request_id": ctx.request_id if ctx else None,
            "roles": list(ctx.roles) if ctx else None,
            "auth_token": ctx.auth_token if ctx else None,
        }

    async def record(self, ctx: RequestContext | None, n: int) -> None:
        self.seen.append(("record", n))

    async def refresh(self, ctx: RequestContext | None, x: int) -> None:
        self.seen.append(("refresh", x))

    async def now(self, ctx: RequestContext | None) -> dt.datetime:
        return dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)

    async def missing(self, ctx: RequestContext | None, what: str) -> None:
        raise NotFound(f"{what} could not be found")

    async def conflict(self, ctx: RequestContext | None) -> None:
        exc = Conflict("busy", headers={"Retry-After": "3"})
        exc.code = 423  # an instance override survives too
        raise exc

    async def bad_value(self, ctx: RequestContext | None) -> None:
        raise ValueError("bad value", 42)

    async def no_key(self, ctx: RequestContext | None) -> None:
        raise KeyError("k")

    async def odd(self, ctx: RequestContext | None) -> None:
        raise Oddity("strange things")

    async def slow(self, ctx: RequestContext | None, n: int) -> int:
        self.started.set()
        await self.gate.wait()
        self.seen.append(("slow", n))
        return n

    async def unsafe(self, ctx: RequestContext | None) -> object:
        return object()

    async def _private(self, ctx: RequestContext | None) -> str:
        return "secret"

    def sync_method(self, ctx: RequestContext | None) -> str:
        return "not rpc"


async def serve(transport: Any, topic: str, server: str, *endpoints: Any) -> RPCServer:
    rpc = RPCServer(transport, topic, server, endpoints=list(endpoints))
    await rpc.start()
    return rpc


CTX = RequestContext(
    request_id="req-1234",
    user_id="u1",
    project_id="p1",
    roles=("member", "reader"),
    auth_token="tok",
    token=object(),
)


async def test_call_returns_the_result_and_carries_the_context(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager("h1"))
    client = RPCClient(transport, topic, version="1.0", timeout=10)
    result = await client.call(CTX, "echo", value={"a": [1, 2], "b": None})
    assert result == {
        "value": {"a": [1, 2], "b": None},
        "server": "h1",
        "request_id": "req-1234",
        "roles": ["member", "reader"],
        "auth_token": "tok",
    }
    assert (await client.call(None, "echo", value=3))["request_id"] is None
    # datetimes cross as ISO 8601 strings
    assert await client.call(None, "now") == "2024-05-01T12:30:00+00:00"


async def test_server_topic_reaches_that_server_only(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    managers = {name: Manager(name) for name in ("h1", "h2", "h3")}
    for name, manager in managers.items():
        await serve(transport, topic, name, manager)
    client = RPCClient(transport, topic, timeout=10)
    for name in managers:
        assert (await client.prepare(server=name).call(None, "echo"))["server"] == name
    await client.prepare(server="h2").cast(None, "record", n=7)
    await eventually(lambda: managers["h2"].seen == [("record", 7)])
    await asyncio.sleep(0.05)
    assert managers["h1"].seen == managers["h3"].seen == []


async def test_topic_casts_are_shared_each_handled_exactly_once(bus: Bus) -> None:
    transport = await bus.transport()
    other = await bus.transport()  # a second process on the same bus
    topic = bus.topic()
    first, second = Manager("h1"), Manager("h2")
    await serve(transport, topic, "h1", first)
    await serve(other, topic, "h2", second)
    client = RPCClient(transport, topic)
    for n in range(200):
        await client.cast(None, "record", n=n)
    await eventually(lambda: len(first.seen) + len(second.seen) >= 200)
    await asyncio.sleep(0.05)
    handled = Counter(n for _kind, n in first.seen + second.seen)
    assert handled == Counter(range(200))  # each once, none twice
    calls = [await client.call(None, "echo") for _ in range(20)]
    assert {c["server"] for c in calls} <= {"h1", "h2"}


async def test_fanout_reaches_every_server_of_the_topic(bus: Bus) -> None:
    transport = await bus.transport()
    topic, elsewhere = bus.topic(), bus.topic()
    managers = [Manager(f"h{i}") for i in range(3)]
    for manager in managers:
        await serve(transport, topic, manager.name, manager)
    bystander = Manager("other")
    await serve(transport, elsewhere, "h0", bystander)
    await RPCClient(transport, topic).prepare(fanout=True).cast(None, "refresh", x=1)
    await eventually(lambda: all(m.seen == [("refresh", 1)] for m in managers))
    await asyncio.sleep(0.05)
    assert bystander.seen == []
    with pytest.raises(ValueError, match="fanned out"):
        await RPCClient(transport, topic, fanout=True).call(None, "echo")


async def test_fanout_with_no_server_is_dropped_not_an_error(bus: Bus) -> None:
    transport = await bus.transport()
    await RPCClient(transport, bus.topic()).prepare(fanout=True).cast(None, "refresh", x=1)


async def test_a_cast_sent_before_any_server_waits_for_one(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    client = RPCClient(transport, topic)
    await client.cast(CTX, "record", n=1)
    await client.prepare(server="late").cast(CTX, "record", n=2)
    manager = Manager("late")
    await serve(transport, topic, "late", manager)
    await eventually(lambda: sorted(manager.seen) == [("record", 1), ("record", 2)])


async def test_call_times_out_when_nobody_answers(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(MessagingTimeout):
        await RPCClient(transport, topic, timeout=0.3).call(None, "echo")
    assert 0.25 < loop.time() - started < 2
    # a server that is too slow times out the same way, and the call expired, not queued forever
    manager = Manager()
    await serve(transport, topic, "h1", manager)
    with pytest.raises(MessagingTimeout):
        await RPCClient(transport, topic, timeout=0.2).call(None, "slow", n=1)
    manager.gate.set()
    assert await RPCClient(transport, topic, timeout=5).call(None, "echo", value=2)


async def test_remote_exceptions_come_back_with_type_and_message(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager())
    client = RPCClient(transport, topic, timeout=10)

    with pytest.raises(NotFound) as not_found:
        await client.call(None, "missing", what="Instance abc")
    assert not_found.value.code == 404
    assert not_found.value.message == "Instance abc could not be found"

    with pytest.raises(Conflict) as conflict:
        await client.call(None, "conflict")
    assert (conflict.value.code, conflict.value.message) == (423, "busy")
    assert conflict.value.headers == {"Retry-After": "3"}

    with pytest.raises(ValueError) as bad:
        await client.call(None, "bad_value")
    assert bad.value.args == ("bad value", 42)
    assert any("Remote traceback" in note for note in bad.value.__notes__)

    with pytest.raises(KeyError) as no_key:
        await client.call(None, "no_key")
    assert no_key.value.args == ("k",)

    with pytest.raises(RemoteError) as remote:
        await client.call(None, "odd")
    assert remote.value.exc_type.endswith("test_rpc_semantics.Oddity")
    assert remote.value.message == "strange things"
    assert "strange things" in (remote.value.traceback or "")

    with pytest.raises(TypeError):  # wrong arguments are the caller's TypeError
        await client.call(None, "echo", nope=1)


async def test_unknown_private_and_sync_methods_are_refused_not_hung(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager())
    client = RPCClient(transport, topic, timeout=10)
    for method in ("no_such_thing", "_private", "sync_method", "__init__"):
        with pytest.raises(NoSuchMethod):
            await client.call(None, method)


async def test_versions_newer_than_the_endpoint_are_refused(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager())  # implements 1.5
    client = RPCClient(transport, topic, timeout=10)
    for ok in ("1.0", "1.5"):
        assert (await client.prepare(version=ok).call(None, "echo", value=1))["value"] == 1
    for refused in ("1.6", "2.0", "0.9"):
        with pytest.raises(UnsupportedVersion):
            await client.prepare(version=refused).call(None, "echo")


async def test_payloads_must_be_json_safe(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager())
    client = RPCClient(transport, topic, timeout=10)
    with pytest.raises(TypeError):
        await client.call(None, "echo", value=object())
    with pytest.raises(TypeError):
        await client.cast(None, "record", n=object())
    assert (await client.call(None, "echo", value={1, 2}))["value"] in ([1, 2], [2, 1])
    with pytest.raises(TypeError, match="not JSON serializable"):  # a result, on the server
        await client.call(None, "unsafe")


async def test_stop_drains_handlers_in_flight(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    manager = Manager()
    server = await serve(transport, topic, "h1", manager)
    client = RPCClient(transport, topic, timeout=10)
    call = asyncio.create_task(client.call(None, "slow", n=1))
    await asyncio.wait_for(manager.started.wait(), 5)
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waits for the handler
    manager.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert await call == 1
    assert manager.seen == [("slow", 1)]
    # stopped: a new cast waits for the next server instead
    await client.cast(None, "record", n=2)
    await asyncio.sleep(0.1)
    assert manager.seen == [("slow", 1)]
    successor = Manager()
    await serve(transport, topic, "h2", successor)
    await eventually(lambda: successor.seen == [("record", 2)])


async def test_observers_see_every_message_on_both_sides(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    seen: list[tuple[str, str, str, str, bool]] = []
    transport.observers.append(lambda side, kind, t, m, s, ok: seen.append((side, kind, t, m, ok)))
    await serve(transport, topic, "h1", Manager())
    client = RPCClient(transport, topic, timeout=10)
    await client.call(None, "echo")
    with pytest.raises(NotFound):
        await client.prepare(server="h1").call(None, "missing", what="x")
    await client.prepare(fanout=True).cast(None, "refresh", x=1)
    await eventually(lambda: len(seen) >= 6)
    assert sorted(seen) == sorted(
        [
            ("client", "call", topic, "echo", True),
            ("server", "call", topic, "echo", True),
            ("client", "call", topic, "missing", False),
            ("server", "call", topic, "missing", False),
            ("client", "fanout", topic, "refresh", True),
            ("server", "fanout", topic, "refresh", True),
        ]
    )


async def test_concurrent_calls_get_their_own_replies(bus: Bus) -> None:
    transport = await bus.transport()
    topic = bus.topic()
    await serve(transport, topic, "h1", Manager())
    await serve(transport, topic, "h2", Manager())
    client = RPCClient(transport, topic, timeout=10)
    results = await asyncio.gather(*(client.call(None, "echo", value=i) for i in range(100)))
    assert [r["value"] for r in results] == list(range(100))
