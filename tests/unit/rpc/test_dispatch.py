"""Method lookup and versions on the server; targets, clients and transports by URL."""

from __future__ import annotations

import pytest

from onestack.common.notifications import Notification, check_event_type
from onestack.common.rpc import NoSuchMethod, RPCClient, Target, UnsupportedVersion, get_transport
from onestack.common.rpc.client import parse_version
from onestack.common.rpc.memory import MemoryTransport
from onestack.common.rpc.rabbit import RabbitTransport, _amqp_url, _redacted
from onestack.common.rpc.server import Dispatcher


class Old:
    RPC_API_VERSION = "1.2"

    async def shared(self, ctx: object) -> str:
        return "old"

    async def only_old(self, ctx: object) -> str:
        return "old"


class New:
    RPC_API_VERSION = "1.6"

    async def shared(self, ctx: object) -> str:
        return "new"

    async def _hidden(self, ctx: object) -> None: ...

    def blocking(self, ctx: object) -> None: ...

    attribute = "not callable"


class Unversioned:
    async def plain(self, ctx: object) -> str:
        return "plain"


def test_first_compatible_endpoint_wins() -> None:
    dispatcher = Dispatcher([Old(), New(), Unversioned()])
    assert dispatcher.lookup("shared", "1.0").__self__.__class__ is Old  # type: ignore[attr-defined]
    assert dispatcher.lookup("shared", "1.2").__self__.__class__ is Old  # type: ignore[attr-defined]
    assert dispatcher.lookup("shared", "1.3").__self__.__class__ is New  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedVersion, match=r"1\.2, 1\.6"):
        dispatcher.lookup("shared", "1.7")
    with pytest.raises(UnsupportedVersion):
        dispatcher.lookup("only_old", "1.3")
    with pytest.raises(UnsupportedVersion):
        dispatcher.lookup("shared", "2.0")
    assert dispatcher.lookup("plain", "1.0")  # no RPC_API_VERSION means 1.0
    with pytest.raises(UnsupportedVersion):
        dispatcher.lookup("plain", "1.1")


@pytest.mark.parametrize("method", ["_hidden", "blocking", "attribute", "missing", "", "__init__"])
def test_only_public_coroutine_methods_are_served(method: str) -> None:
    with pytest.raises(NoSuchMethod):
        Dispatcher([New()]).lookup(method, "1.0")


def test_a_server_needs_endpoints() -> None:
    with pytest.raises(ValueError):
        Dispatcher([])


@pytest.mark.parametrize("bad", ["1", "1.x", "v1.0", "", "1.2.3", "-1.0"])
def test_versions_are_major_dot_minor(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_version(bad)
    with pytest.raises(ValueError):
        RPCClient(MemoryTransport(), "topic", version=bad)
    assert parse_version("10.23") == (10, 23)


def test_targets() -> None:
    assert Target("compute").address == "compute"
    assert Target("compute", "host-1.example.org").address == "compute.host-1.example.org"
    for bad in ("", "with space", "tab\t", "x" * 201, None, 3):
        with pytest.raises(ValueError):
            Target(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Target("compute", "")


def test_prepare_copies_and_overrides() -> None:
    client = RPCClient(MemoryTransport(), "conductor", version="1.0", timeout=60)
    c2 = client.prepare(server="host1", version="1.3", timeout=5)
    assert (c2.target, c2.version, c2.timeout) == (Target("conductor", "host1"), "1.3", 5)
    assert (client.target, client.version, client.timeout) == (Target("conductor"), "1.0", 60)
    assert c2.prepare(fanout=True).target == Target("conductor", "host1", True)
    assert c2.prepare(server=None).target == Target("conductor")
    with pytest.raises(ValueError):
        client.prepare(timeout=0)


def test_get_transport_by_url() -> None:
    assert isinstance(get_transport(), MemoryTransport)
    assert isinstance(get_transport("memory://"), MemoryTransport)
    for url in ("rabbit://guest:guest@127.0.0.1:5672/", "amqp://u:p@h/", "amqps://u:p@h/vh"):
        assert isinstance(get_transport(url), RabbitTransport)
    with pytest.raises(ValueError, match="scheme"):
        get_transport("kafka://h")
    assert _amqp_url("rabbit://guest:guest@127.0.0.1:5672/") == "amqp://guest:guest@127.0.0.1:5672/"
    assert _amqp_url("rabbit://u:p@h") == "amqp://u:p@h/"
    assert _amqp_url("amqps://u:p@h/vh") == "amqps://u:p@h/vh"
    assert "secret" not in _redacted("rabbit://u:secret@h:5672/")


@pytest.mark.parametrize(
    "event_type",
    [
        "image.create",
        "compute.instance.create.start",
        "compute.instance.create.end",
        "volume.attach.error",
        "network.floating_ip.update",
        "orchestration.stack-x.delete",
    ],
)
def test_valid_event_types(event_type: str) -> None:
    check_event_type(event_type)


@pytest.mark.parametrize(
    "event_type", ["image", "Image.create", ".image.create", "image.create.", "image create", 3]
)
def test_invalid_event_types(event_type: str) -> None:
    with pytest.raises(ValueError):
        check_event_type(event_type)


def test_notification_round_trip() -> None:
    n = Notification(
        "id",
        "image.create",
        "INFO",
        {"a": 1},
        "image.h1",
        "2024-01-01T00:00:00+00:00",
        "req-1",
        {"user_id": "u"},
    )
    assert Notification.from_dict(n.to_dict()) == n
