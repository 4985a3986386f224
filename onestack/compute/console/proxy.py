"""The console proxies (nova-novncproxy on 6080, nova-serialproxy on 6083): a websocket
opened with a console token is piped to that guest's console on its host.

Each runs as a worker of the Compute service (``onestack up`` starts both; ``onestack agent
novncproxy`` runs one alone) with a small Starlette app on its own port: the websocket at
``/?token=...`` (what noVNC's ``path`` and Nova's serial URL name) and, for noVNC, Debian's
noVNC pages (``vnc_auto.html``, ``vnc_lite.html``, ``vnc.html``). The token is checked
before the websocket is accepted: unknown, expired, of another console type or from a
foreign web page (Origin), the handshake is refused with 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from onestack.compute import consoles
from onestack.compute.core import SharedCore

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.websockets import WebSocket

    from onestack.common.platform import Platform
    from onestack.compute.models import ConsoleAuthToken

LOG = logging.getLogger(__name__)
CHUNK = 64 * 1024
#: the websocket close code of a refused console (policy violation)
REFUSED = 1008


class ConsoleProxy:
    """One proxy; ``sock`` (tests) replaces the configured address."""

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, platform: Platform, *, sock: socket.socket | None = None):
        self.platform = platform
        self.conf = platform.settings.compute
        self.core = SharedCore.get(platform)
        self._sock = sock
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    def address(self) -> tuple[str, int]:
        raise NotImplementedError

    def routes(self) -> list[Any]:
        from starlette.routing import WebSocketRoute

        return [WebSocketRoute("/", self.websocket)]

    def app(self) -> Starlette:
        from starlette.applications import Starlette

        return Starlette(routes=self.routes())

    async def start(self) -> None:
        if self._sock is None and not self.conf.console_proxies:
            return
        import uvicorn

        class Server(uvicorn.Server):
            def capture_signals(self) -> Any:  # the cloud's process handles signals
                return contextlib.nullcontext()

        from onestack.common.net import bound_socket

        try:
            sock = self._sock or bound_socket(*self.address())
        except OSError as exc:  # the cloud still runs; only this console is not served
            host, port = self.address()
            LOG.error("%s not started: cannot listen on %s:%d (%s)", self.name, host, port, exc)
            return
        await SharedCore.start(self.platform)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app(),
            log_config=None,  # the cloud's logging stays as it is
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=self.name)
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"{self.name} stopped while starting")
            await asyncio.sleep(0.005)
        LOG.info("%s listening on port %d", self.name, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._server = self._task = None
        await SharedCore.stop(self.platform)

    # -- a console ------------------------------------------------------------------------
    def origin_allowed(self, ws: WebSocket) -> bool:
        """A browser's page must come from the proxy itself (or an allowed host name), so a
        foreign page cannot open a console with a token it got hold of (Nova's check)."""
        origin = ws.headers.get("origin")
        if not origin or origin == "null":
            return origin is None
        parts = urlsplit(origin)
        own = urlsplit(f"//{ws.headers.get('host', '')}").hostname
        if parts.scheme not in ("http", "https"):
            return False
        return parts.hostname in {own, *self.conf.console_allowed_origins}

    async def websocket(self, ws: WebSocket) -> None:
        token = ws.query_params.get("token") or ws.cookies.get("token") or ""
        row = await consoles.connection(self.core, token, self.kinds)
        if row is None or not self.origin_allowed(ws):
            LOG.info("%s: refused a console (%s)", self.name, "bad origin" if row else "bad token")
            await ws.close(code=REFUSED)
            return
        try:
            reader, writer = await _open(row)
        except OSError as exc:
            LOG.warning("%s: console of %s unreachable: %s", self.name, row.instance_uuid, exc)
            await ws.close(code=REFUSED)
            return
        offered = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol="binary" if "binary" in offered else None)
        await _pipe(ws, reader, writer)


class NoVNCProxy(ConsoleProxy):
    name = "novncproxy"
    kinds = ("novnc",)

    def address(self) -> tuple[str, int]:
        return self.conf.novncproxy_host, self.conf.novncproxy_port

    def routes(self) -> list[Any]:
        from starlette.routing import Mount
        from starlette.staticfiles import StaticFiles

        files = StaticFiles(directory=self.conf.novnc_path, html=True, check_dir=False)
        return [*super().routes(), Mount("/", files)]


class SerialProxy(ConsoleProxy):
    name = "serialproxy"
    kinds = ("serial",)

    def address(self) -> tuple[str, int]:
        return self.conf.serialproxy_host, self.conf.serialproxy_port


async def _open(row: ConsoleAuthToken) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The guest's console: a UNIX socket (port 0 and a path) or host:port."""
    path = row.internal_access_path or ""
    if not row.port and path.startswith("/"):
        return await asyncio.wait_for(asyncio.open_unix_connection(path), 5)
    return await asyncio.wait_for(asyncio.open_connection(row.host, row.port), 5)


async def _pipe(ws: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side closes."""
    from starlette.websockets import WebSocketDisconnect

    async def upstream() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while data := await reader.read(CHUNK):
            await ws.send_bytes(data)

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(OSError, WebSocketDisconnect, RuntimeError):
            await ws.close()
