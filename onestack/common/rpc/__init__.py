"""RPC between the parts of a service (api -> scheduler -> conductor -> agents), as in Nova.

``call`` waits for the result (or the remote exception), ``cast`` does not; both go to a topic
(any one server), ``topic.server`` (that server) or, cast only, to every server (fanout).
Transports: ``memory://`` (one process, the default) and ``rabbit://`` (RabbitMQ)::

    transport = get_transport("memory://"); await transport.start()
    server = RPCServer(transport, "conductor", "host1", endpoints=[ConductorManager()])
    await server.start()
    client = RPCClient(transport, "conductor", version="1.0", timeout=60)
    await client.call(ctx, "build_instances", instance_id=...)
    await client.prepare(server="host1").cast(ctx, "refresh")
"""

from onestack.common.rpc.client import RPCClient
from onestack.common.rpc.errors import (
    MessageDeliveryFailure,
    MessagingError,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    UnsupportedVersion,
)
from onestack.common.rpc.server import RPCServer
from onestack.common.rpc.transport import Observer, Subscription, Target, Transport, get_transport

__all__ = [
    "MessageDeliveryFailure",
    "MessagingError",
    "MessagingTimeout",
    "NoSuchMethod",
    "Observer",
    "RPCClient",
    "RPCServer",
    "RemoteError",
    "Subscription",
    "Target",
    "Transport",
    "UnsupportedVersion",
    "get_transport",
]
