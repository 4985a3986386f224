"""The RabbitMQ bus (AMQP 0-9-1 through aio-pika).

Layout on the broker:

- exchange ``onestack`` (direct, durable): a topic's shared queue ``<topic>`` and each server's
  queue ``<topic>.<server>`` (both durable, bound under their own name). Senders declare the
  queue they cast to, so a cast sent before any server started waits for it.
- exchange ``<topic>_fanout`` (fanout, durable): one exclusive auto-delete queue per server.
- exchange ``onestack.notifications`` (direct, durable): one durable, length-bounded queue per
  listener pool and address: ``notifications.info`` (default pool), ``notifications.info:POOL``.
- replies: one exclusive auto-delete queue ``reply_<uuid>`` per transport, matched to the
  waiting call by correlation id.

Casts are persistent and published with confirms (``mandatory``, so a queue deleted under us is
declared again); a message is acknowledged after its handler finished, so the casts a dead worker
held are delivered again to another one. ``connect_robust`` reconnects after a broker restart and
restores channels, queues and consumers; a publish during the outage waits for the reconnection
(up to ``publish_timeout``) and is retried, so delivery is at least once: handlers must be
idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, DeliveryError, PublishError

from onestack.common.rpc.errors import MessageDeliveryFailure, MessagingError, MessagingTimeout
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

RPC_EXCHANGE = "onestack"
NOTIFICATIONS_EXCHANGE = "onestack.notifications"
#: Notifications a pool's queue keeps while nobody consumes it; the oldest go first.
NOTIFICATION_QUEUE_LIMIT = 100_000
CONTENT_TYPE = "application/json"
_BROKER_ERRORS = (AMQPError, ConnectionError, ChannelInvalidStateError)


def fanout_exchange(topic: str) -> str:
    return f"{topic}_fanout"


def notification_queue(address: str, pool: str | None) -> str:
    return address if pool is None else f"{address}:{pool}"


def _amqp_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = "amqps" if parts.scheme.lower() == "amqps" else "amqp"
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _RabbitSubscription(Subscription):
    def __init__(self, transport: RabbitTransport, channel: AbstractRobustChannel):
        self._transport = transport
        self.channel = channel
        self.inflight = Inflight()
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self.temporary: list[AbstractQueue] = []
        self._stopped = False

    async def consume(
        self,
        queue: AbstractQueue,
        handle: Callable[[AbstractIncomingMessage], Coroutine[Any, Any, None]],
    ) -> None:
        async def on_message(message: AbstractIncomingMessage) -> None:
            # Run the handler in our own task: aiormq cancels its delivery tasks when the
            # channel closes, and a broker restart must not kill a handler half way.
            self.inflight.spawn(handle(message))

        tag = await queue.consume(on_message)
        self._consumers.append((queue, tag))

    async def stop(self, timeout: float | None = None) -> None:
        if self._stopped:
            return
        self._stopped = True
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except _BROKER_ERRORS as exc:
                LOG.debug("cancelling consumer %s: %s", tag, exc)
        await self.inflight.drain(timeout)
        for queue in self.temporary:
            try:
                await queue.delete(if_unused=False, if_empty=False)
            except _BROKER_ERRORS as exc:
                LOG.debug("deleting queue %s: %s", queue.name, exc)
        try:
            await self.channel.close()
        except _BROKER_ERRORS as exc:
            LOG.debug("closing channel: %s", exc)
        self._transport._subscriptions.discard(self)


class RabbitTransport(Transport):
    """``rabbit://user:password@host:port/vhost`` (or ``amqp://``, ``amqps://``)."""

    durable = True

    def __init__(
        self,
        url: str,
        *,
        reconnect_interval: float = 1.0,
        publish_timeout: float = 30.0,
        notify_timeout: float = 5.0,
        connection_name: str | None = None,
    ):
        super().__init__(url)
        self.reconnect_interval = reconnect_interval
        self.publish_timeout = publish_timeout
        self.notify_timeout = notify_timeout
        self.connection_name = connection_name or (
            f"onestack:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None  # publishes, with confirms
        self._rpc_exchange: AbstractExchange | None = None
        self._notify_exchange: AbstractExchange | None = None
        self._fanouts: dict[str, AbstractExchange] = {}
        self._declared: set[str] = set()  # queues this sender declared
        self._declare_lock = asyncio.Lock()
        self._plain: AbstractRobustChannel | None = None  # replies: no confirms
        self._reply_queue: str | None = None
        self._reply_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._subscriptions: set[_RabbitSubscription] = set()

    # -- connection -------------------------------------------------------------------------

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise MessagingError("the transport is not started")
        return self._connection

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected.is_set()

    async def start(self) -> None:
        if self._connection is not None:
            return
        try:
            connection = await aio_pika.connect_robust(
                _amqp_url(self.url),
                reconnect_interval=self.reconnect_interval,
                client_properties={"connection_name": self.connection_name},
                timeout=10,
            )
        except (*_BROKER_ERRORS, OSError, TimeoutError) as exc:
            raise MessagingError(f"cannot connect to {_redacted(self.url)}: {exc}") from exc
        self._connection = connection
        self._channel = await self._new_channel(publisher_confirms=True, on_return_raises=True)
        self._rpc_exchange = await self._channel.declare_exchange(
            RPC_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
        )
        self._notify_exchange = await self._channel.declare_exchange(
            NOTIFICATIONS_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
        )
        self._plain = await self._new_channel(publisher_confirms=False)

    async def stop(self) -> None:
        if self._connection is None:
            return
        for subscription in list(self._subscriptions):
            await subscription.stop()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(MessagingError("the transport stopped"))
        connection, self._connection = self._connection, None
        await connection.close()
        self._channel = self._plain = self._reply_queue = None
        self._fanouts.clear()
        self._declared.clear()

    async def _new_channel(self, **options: Any) -> AbstractRobustChannel:
        channel = await self.connection.channel(**options)
        return channel  # type: ignore[return-value]

    # -- publishing -------------------------------------------------------------------------

    async def _publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        message: aio_pika.Message,
        *,
        mandatory: bool,
        declare: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Publish with confirms; after a lost connection wait for it to come back and retry
        (the caller bounds the time). ``declare`` (re)creates the destination."""
        assert self._channel is not None
        attempt = 0
        while True:
            attempt += 1
            try:
                if declare is not None:
                    await declare()
                await exchange.publish(message, routing_key, mandatory=mandatory)
                return
            except PublishError as exc:  # returned: no queue bound (deleted under us)
                self._declared.discard(routing_key)
                if declare is None or attempt >= 3:
                    raise MessageDeliveryFailure(f"{routing_key} is unroutable") from exc
            except DeliveryError as exc:  # nack
                LOG.warning("broker refused a message to %s: %s; retrying", routing_key, exc)
            except _BROKER_ERRORS as exc:
                LOG.info("publish to %s failed (%s); retrying when reconnected", routing_key, exc)
                self._declared.clear()
                self._fanouts.clear()
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
                await self._channel.ready()
                continue
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))

    async def _declare_rpc_queue(self, address: str) -> None:
        if address in self._declared:
            return
        async with self._declare_lock:
            if address in self._declared:
                return
            assert self._channel is not None and self._rpc_exchange is not None
            queue = await self._channel.declare_queue(address, durable=True, robust=False)
            await queue.bind(self._rpc_exchange, routing_key=address, robust=False)
            self._declared.add(address)

    async def _fanout_exchange(self, topic: str) -> AbstractExchange:
        exchange = self._fanouts.get(topic)
        if exchange is None:
            assert self._channel is not None
            exchange = await self._channel.declare_exchange(
                fanout_exchange(topic), aio_pika.ExchangeType.FANOUT, durable=True, robust=False
            )
            self._fanouts[topic] = exchange
        return exchange

    async def cast(self, target: Target, body: bytes) -> None:
        self.connection  # noqa: B018 - raises when not started
        message = aio_pika.Message(
            body, content_type=CONTENT_TYPE, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        try:
            async with asyncio.timeout(self.publish_timeout):
                if target.fanout:
                    exchange = await self._fanout_exchange(target.topic)
                    await self._publish(
                        exchange,
                        "",
                        message,
                        mandatory=False,
                        declare=lambda: self._fanout_exchange(target.topic),
                    )
                else:
                    assert self._rpc_exchange is not None
                    await self._publish(
                        self._rpc_exchange,
                        target.address,
                        message,
                        mandatory=True,
                        declare=lambda: self._declare_rpc_queue(target.address),
                    )
        except TimeoutError:
            raise MessageDeliveryFailure(
                f"could not publish to {target.address} within {self.publish_timeout:g} s"
            ) from None

    async def call(self, target: Target, body: bytes, timeout: float) -> bytes:
        if target.fanout:
            raise ValueError("a call cannot be fanned out")
        self.connection  # noqa: B018 - raises when not started
        assert self._rpc_exchange is not None
        correlation_id = uuid.uuid4().hex
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                reply_to = await self._reply_to()
                self._pending[correlation_id] = reply
                message = aio_pika.Message(
                    body,
                    content_type=CONTENT_TYPE,
                    correlation_id=correlation_id,
                    reply_to=reply_to,
                    expiration=timeout,  # nobody waits for it afterwards
                )
                await self._publish(
                    self._rpc_exchange,
                    target.address,
                    message,
                    mandatory=True,
                    declare=lambda: self._declare_rpc_queue(target.address),
                )
                return await reply
        except TimeoutError:
            raise MessagingTimeout(f"no reply from {target.address} within {timeout:g} s") from None
        finally:
            self._pending.pop(correlation_id, None)

    async def _reply_to(self) -> str:
        """This transport's reply queue, declared on first use."""
        if self._reply_queue is not None:
            return self._reply_queue
        async with self._reply_lock:
            if self._reply_queue is None:
                assert self._plain is not None
                queue = await self._plain.declare_queue(
                    f"reply_{uuid.uuid4().hex}", exclusive=True, auto_delete=True
                )
                await queue.consume(self._on_reply, no_ack=True)
                self._reply_queue = queue.name
        return self._reply_queue

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message.body)

    async def _send_reply(self, reply_to: str, correlation_id: str, body: bytes) -> None:
        assert self._plain is not None
        message = aio_pika.Message(body, content_type=CONTENT_TYPE, correlation_id=correlation_id)
        try:
            # Default exchange, no confirm: a reply is lost with a caller that went away, and
            # a lost reply is the caller's timeout.
            await self._plain.default_exchange.publish(message, reply_to, mandatory=False)
        except _BROKER_ERRORS as exc:
            LOG.warning("could not send the reply to %s: %s", reply_to, exc)

    # -- consuming --------------------------------------------------------------------------

    async def _deliver(self, message: AbstractIncomingMessage, handler: Handler) -> None:
        wants_reply = bool(message.reply_to and message.correlation_id)
        reply: bytes | None = None
        try:
            reply = await handler(message.body, wants_reply)
        except Exception:
            LOG.exception("message handler failed")
        if wants_reply and reply is not None:
            await self._send_reply(message.reply_to or "", message.correlation_id or "", reply)
        try:
            await message.ack()
        except _BROKER_ERRORS as exc:
            # The channel it came on is gone: the broker delivers it again.
            LOG.warning("could not acknowledge a message (%r); it will be redelivered", exc)

    async def _subscribe(
        self, prefetch: int, setup: Callable[[_RabbitSubscription], Awaitable[None]]
    ) -> Subscription:
        """A channel with ``prefetch`` on which ``setup`` declares and consumes; tried again
        while the broker is away (up to ``publish_timeout``)."""
        try:
            async with asyncio.timeout(self.publish_timeout):
                while True:
                    await self.connection.ready()
                    subscription: _RabbitSubscription | None = None
                    try:
                        channel = await self._new_channel(publisher_confirms=False)
                        await channel.set_qos(prefetch_count=prefetch)
                        subscription = _RabbitSubscription(self, channel)
                        await setup(subscription)
                    except (*_BROKER_ERRORS, RuntimeError) as exc:
                        LOG.info("subscribing failed (%s); retrying when reconnected", exc)
                        if subscription is not None:
                            await subscription.stop(0)
                        await asyncio.sleep(0.2)
                        continue
                    except BaseException:
                        if subscription is not None:
                            await subscription.stop(0)
                        raise
                    self._subscriptions.add(subscription)
                    return subscription
        except TimeoutError:
            raise MessagingError(
                f"could not subscribe within {self.publish_timeout:g} s: broker unavailable"
            ) from None

    async def listen(
        self, topic: str, server: str, handler: Handler, *, prefetch: int = DEFAULT_PREFETCH
    ) -> Subscription:
        target = Target(topic, server)

        async def handle(message: AbstractIncomingMessage) -> None:
            await self._deliver(message, handler)

        async def setup(subscription: _RabbitSubscription) -> None:
            channel = subscription.channel
            exchange = await channel.declare_exchange(
                RPC_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
            )
            for address in (topic, target.address):
                queue = await channel.declare_queue(address, durable=True)
                await queue.bind(exchange, routing_key=address)
                await subscription.consume(queue, handle)
            fanout = await channel.declare_exchange(
                fanout_exchange(topic), aio_pika.ExchangeType.FANOUT, durable=True
            )
            queue = await channel.declare_queue(
                f"{fanout_exchange(topic)}_{uuid.uuid4().hex[:12]}",
                exclusive=True,
                auto_delete=True,
            )
            await queue.bind(fanout)
            subscription.temporary.append(queue)
            await subscription.consume(queue, handle)

        return await self._subscribe(prefetch, setup)

    async def notify(self, address: str, body: bytes) -> None:
        if not self.connected:
            raise MessageDeliveryFailure("not connected to the broker")
        assert self._notify_exchange is not None
        message = aio_pika.Message(
            body, content_type=CONTENT_TYPE, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        try:
            async with asyncio.timeout(self.notify_timeout):
                await self._publish(self._notify_exchange, address, message, mandatory=False)
        except TimeoutError:
            raise MessageDeliveryFailure(f"could not publish to {address}") from None

    async def listen_notifications(
        self,
        addresses: Sequence[str],
        pool: str | None,
        handler: NotificationHandler,
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> Subscription:
        async def handle_notification(body: bytes, _wants_reply: bool) -> None:
            await handler(body)

        async def handle(message: AbstractIncomingMessage) -> None:
            await self._deliver(message, handle_notification)

        async def setup(subscription: _RabbitSubscription) -> None:
            channel = subscription.channel
            exchange = await channel.declare_exchange(
                NOTIFICATIONS_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
            )
            for address in dict.fromkeys(addresses):
                queue = await channel.declare_queue(
                    notification_queue(address, pool),
                    durable=True,
                    arguments={"x-max-length": NOTIFICATION_QUEUE_LIMIT},
                )
                await queue.bind(exchange, routing_key=address)
                await subscription.consume(queue, handle)

        return await self._subscribe(prefetch, setup)
