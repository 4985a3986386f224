"""The serving side: ``RPCServer(transport, topic, server, endpoints=[manager])``.

A message names a method; the server runs ``await method(ctx, **args)`` on the first endpoint
that has it as a public coroutine method and implements a compatible version (an endpoint's
``RPC_API_VERSION``, "1.0" when it declares none: same major, minor at least the caller's).
A call's result or exception goes back to the caller; a cast's exception is logged here.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.errors import APIError
from onestack.common.logs import request_id_var
from onestack.common.rpc.client import parse_version
from onestack.common.rpc.errors import MessagingError, NoSuchMethod, UnsupportedVersion
from onestack.common.rpc.serialization import dumps, encode_exception, loads
from onestack.common.rpc.transport import DEFAULT_PREFETCH, Subscription, Target, Transport

LOG = logging.getLogger(__name__)


class Dispatcher:
    """Finds the endpoint method a message names."""

    def __init__(self, endpoints: Sequence[object]):
        if not endpoints:
            raise ValueError("an RPC server needs at least one endpoint")
        self.endpoints = [
            (endpoint, parse_version(getattr(endpoint, "RPC_API_VERSION", "1.0")))
            for endpoint in endpoints
        ]

    def lookup(self, method: str, version: str) -> Callable[..., Any]:
        if not isinstance(method, str) or not method or method.startswith("_"):
            raise NoSuchMethod(f"no such RPC method: {method!r}")
        wanted = parse_version(version)
        found: list[str] = []
        for endpoint, (major, minor) in self.endpoints:
            func = getattr(endpoint, method, None)
            if func is None or not inspect.iscoroutinefunction(func):
                continue
            if major == wanted[0] and minor >= wanted[1]:
                return func  # type: ignore[no-any-return]
            found.append(f"{major}.{minor}")
        if found:
            raise UnsupportedVersion(
                f"{method} version {version} is not supported (endpoint implements "
                f"{', '.join(found)})"
            )
        raise NoSuchMethod(f"no such RPC method: {method}")


class RPCServer:
    """Serves ``topic`` (shared with the other servers), ``topic.server`` and the fanout."""

    def __init__(
        self,
        transport: Transport,
        topic: str,
        server: str,
        endpoints: Sequence[object],
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ):
        self.transport = transport
        self.target = Target(topic, server)
        self.dispatcher = Dispatcher(endpoints)
        self.prefetch = prefetch
        self._subscription: Subscription | None = None

    @property
    def topic(self) -> str:
        return self.target.topic

    @property
    def server(self) -> str:
        assert self.target.server is not None
        return self.target.server

    async def start(self) -> None:
        if self._subscription is None:
            self._subscription = await self.transport.listen(
                self.topic, self.server, self._handle, prefetch=self.prefetch
            )

    async def stop(self, timeout: float | None = 60.0) -> None:
        """Stop taking messages and wait for the handlers in flight (up to ``timeout`` s;
        handlers still running then are cancelled and their messages left unacknowledged)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.stop(timeout)

    async def _handle(self, body: bytes, wants_reply: bool) -> bytes | None:
        started = time.perf_counter()
        kind = "call" if wants_reply else "cast"
        method = "-"
        ok = False
        token = None
        try:
            message = loads(body)
            if not isinstance(message, dict) or not isinstance(message.get("args", {}), dict):
                raise MessagingError("malformed RPC message")
            method = str(message.get("method"))
            if message.get("fanout"):
                kind = "fanout"
            ctx = message.get("context")
            context = RequestContext.from_dict(ctx) if isinstance(ctx, dict) else None
            if context is not None:
                token = request_id_var.set(context.request_id)
            func = self.dispatcher.lookup(method, str(message.get("version") or "1.0"))
            result = await func(context, **message.get("args", {}))
            reply = dumps({"result": result}) if wants_reply else None
            ok = True
            return reply
        except Exception as exc:
            self._log_failure(exc, kind, method)
            return dumps({"error": encode_exception(exc)}) if wants_reply else None
        finally:
            if token is not None:
                request_id_var.reset(token)
            self.transport.observe(
                "server", kind, self.topic, method, time.perf_counter() - started, ok
            )

    def _log_failure(self, exc: Exception, kind: str, method: str) -> None:
        if isinstance(exc, APIError | NoSuchMethod | UnsupportedVersion):  # the caller is told
            level = logging.DEBUG if kind == "call" else logging.WARNING
            LOG.log(level, "RPC %s %s.%s: %s", kind, self.topic, method, exc)
        else:
            LOG.error("RPC %s %s.%s failed", kind, self.topic, method, exc_info=exc)
