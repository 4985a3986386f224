"""What every request of every service goes through to be seen: counted in ``/metrics``, one
access log line, an unexpected error logged once with its traceback and answered in the
service's own format, and a read timeout on request bodies.

The access log (logger ``onestack.access``, INFO) has the method, path, status, duration,
request id and the caller's user and project ids; ``access_log = false`` turns it off. A
client that goes away before its request is answered is logged as status 499 (nginx's "client
closed request") and counted so, not as an error.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onestack.common import errors
from onestack.common.metrics import HTTP_LATENCY, HTTP_REQUESTS

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger("onestack.access")
#: The status recorded for a request whose client left before it was answered.
CLIENT_CLOSED = 499


class ObserveMiddleware:
    """Counts, times and logs every request of one service; turns an exception that escapes
    the handlers into a 500 in the service's error format (the traceback goes to the log,
    once, with the request id)."""

    def __init__(self, app: ASGIApp, service: str, formatter: errors.ErrorFormatter):
        self.app = app
        self.service = service
        self.formatter = formatter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        def record(code: int) -> None:
            nonlocal status
            status = code
            method, template = scope["method"], route_template(scope)
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )
            HTTP_REQUESTS.labels(self.service, method, template, str(code)).inc()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except ClientDisconnect:
            if status is None:
                record(CLIENT_CLOSED)
        except Exception:
            LOG.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if status is None:
                error = errors.APIError()
                response = Response(
                    orjson.dumps(self.formatter(error)),
                    status_code=error.code,
                    media_type="application/json",
                )
                await response(scope, receive, observed_send)
            # else the answer had started: the client sees it cut short
        except BaseException:  # cancelled (the server is stopping): still one access line
            if status is None:
                record(CLIENT_CLOSED)
            raise
        finally:
            if ACCESS_LOG.isEnabledFor(logging.INFO):
                access_line(scope, status, time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v3/users/{user_id}``): label values stay few."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


def access_line(scope: Scope, status: int | None, seconds: float) -> None:
    ctx = scope.get("onestack.context")
    user_id = getattr(ctx, "user_id", None)
    project_id = getattr(ctx, "project_id", None)
    path = scope["path"]
    if query := scope.get("query_string", b""):
        path += "?" + query.decode("latin-1")
    fields = {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": user_id,
        "project_id": project_id,
    }
    ACCESS_LOG.info(
        "%s %s %s %.1fms user=%s project=%s",
        scope["method"],
        path,
        status if status is not None else "-",
        seconds * 1000,
        user_id or "-",
        project_id or "-",
        extra={"fields": fields},
    )


class BodyTimeoutMiddleware:
    """Gives up on a request body that stops arriving: when ``timeout`` seconds pass between
    two reads of it (as nginx's ``client_body_timeout``), the read raises
    :class:`~onestack.common.errors.RequestTimeout`, answered 408 in the service's format
    and the connection closed: a slow client never holds a worker for good."""

    def __init__(self, app: ASGIApp, timeout: float):
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # only waiting for a disconnect now: no limit
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                body_done = True
                raise errors.RequestTimeout(
                    f"The request body was not received in time (nothing for {self.timeout:g} s)."
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)
