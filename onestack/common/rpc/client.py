"""The calling side: ``RPCClient(transport, topic).call(ctx, "method", **kwargs)``."""

from __future__ import annotations

import time
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.rpc.serialization import decode_exception, dumps, loads
from onestack.common.rpc.transport import Target, Transport

_UNSET: Any = object()


def parse_version(version: str) -> tuple[int, int]:
    """``"1.3"`` -> ``(1, 3)``; ``ValueError`` for anything else."""
    major, dot, minor = str(version).partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise ValueError(f"invalid RPC API version {version!r}: expected MAJOR.MINOR")
    return int(major), int(minor)


def encode_request(
    ctx: RequestContext | None, method: str, args: dict[str, Any], version: str, fanout: bool
) -> bytes:
    """The request envelope: method, args, version and the caller's context."""
    message: dict[str, Any] = {
        "method": method,
        "args": args,
        "version": version,
        "context": ctx.to_dict() if ctx is not None else None,
    }
    if fanout:
        message["fanout"] = True
    return dumps(message)


class RPCClient:
    """Calls and casts to the servers of ``topic`` (one of them, a named one, or all)."""

    def __init__(
        self,
        transport: Transport,
        topic: str,
        version: str = "1.0",
        timeout: float = 60,
        *,
        server: str | None = None,
        fanout: bool = False,
    ):
        parse_version(version)
        if timeout <= 0:
            raise ValueError("an RPC timeout must be positive")
        self.transport = transport
        self.target = Target(topic, server, fanout)
        self.version = version
        self.timeout = float(timeout)

    @property
    def topic(self) -> str:
        return self.target.topic

    def prepare(
        self,
        *,
        server: str | None = _UNSET,
        version: str = _UNSET,
        timeout: float = _UNSET,
        fanout: bool = _UNSET,
    ) -> RPCClient:
        """A copy with some of server, version, timeout and fanout changed."""
        return RPCClient(
            self.transport,
            self.target.topic,
            self.version if version is _UNSET else version,
            self.timeout if timeout is _UNSET else timeout,
            server=self.target.server if server is _UNSET else server,
            fanout=self.target.fanout if fanout is _UNSET else fanout,
        )

    async def call(self, ctx: RequestContext | None, method: str, /, **kwargs: Any) -> Any:
        """Run ``method`` on one server and return its result; the remote exception is raised
        here (its own class when onestack's or builtin, else :class:`RemoteError`);
        :class:`MessagingTimeout` when no reply came within the timeout."""
        if self.target.fanout:
            raise ValueError("a call cannot be fanned out; use cast")
        body = encode_request(ctx, method, kwargs, self.version, False)
        started = time.perf_counter()
        ok = False
        try:
            reply = loads(await self.transport.call(self.target, body, self.timeout))
            if reply.get("error") is not None:
                raise decode_exception(reply["error"])
            ok = True
            return reply.get("result")
        finally:
            self.transport.observe(
                "client", "call", self.topic, method, time.perf_counter() - started, ok
            )

    async def cast(self, ctx: RequestContext | None, method: str, /, **kwargs: Any) -> None:
        """Send ``method`` to one server (or every server when fanout) without waiting."""
        fanout = self.target.fanout
        body = encode_request(ctx, method, kwargs, self.version, fanout)
        started = time.perf_counter()
        ok = False
        try:
            await self.transport.cast(self.target, body)
            ok = True
        finally:
            self.transport.observe(
                "client",
                "fanout" if fanout else "cast",
                self.topic,
                method,
                time.perf_counter() - started,
                ok,
            )
