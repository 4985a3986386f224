"""The small HTTP layer of the object service: a request over an ASGI scope, Swift's status
bodies, and responses sent straight to ASGI (bytes or a stream), without a framework."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import Receive, Scope, Send

App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Swift's short HTML bodies for error statuses (``<html><h1>..</h1><p>..</p></html>``).
STATUS_TEXT: dict[int, tuple[str, str]] = {
    400: (
        "Bad Request",
        "The server could not comply with the request since it is either "
        "malformed or otherwise incorrect.",
    ),
    401: (
        "Unauthorized",
        "This server could not verify that you are authorized to access "
        "the document you requested.",
    ),
    402: ("Payment Required", "Access was denied for financial reasons."),
    403: ("Forbidden", "Access was denied to this resource."),
    404: ("Not Found", "The resource could not be found."),
    405: ("Method Not Allowed", "The method is not allowed for this resource."),
    406: (
        "Not Acceptable",
        "The resource is not available in a format acceptable to your browser.",
    ),
    408: (
        "Request Timeout",
        "The server has waited too long for the request to be sent by the client.",
    ),
    409: ("Conflict", "There was a conflict when trying to complete your request."),
    410: ("Gone", "This resource is no longer available."),
    411: ("Length Required", "Content-Length header required."),
    412: ("Precondition Failed", "A precondition for this request was not met."),
    413: ("Request Entity Too Large", "The body of your request was too large for this server."),
    414: ("Request URI Too Long", "The request URI was too long for this server."),
    415: ("Unsupported Media Type", "The request media type is not supported by this server."),
    416: ("Requested Range Not Satisfiable", "The Range requested is not available."),
    417: ("Expectation Failed", "Expectation failed."),
    422: ("Unprocessable Entity", "Unable to process the contained instructions"),
    499: ("Client Disconnect", "The client was disconnected during request."),
    500: (
        "Internal Error",
        "The server has either erred or is incapable of performing the requested operation.",
    ),
    501: ("Not Implemented", "The requested method is not implemented by this server."),
    503: (
        "Service Unavailable",
        "The server is currently unavailable. Please try again at a later time.",
    ),
    507: (
        "Insufficient Storage",
        "There was not enough space to save the resource. Drive: %(drive)s",
    ),
}
REASONS = {code: title for code, (title, _) in STATUS_TEXT.items()}
REASONS.update(
    {
        200: "OK",
        201: "Created",
        202: "Accepted",
        204: "No Content",
        206: "Partial Content",
        301: "Moved Permanently",
        304: "Not Modified",
        307: "Temporary Redirect",
    }
)


def trans_id() -> str:
    """A Swift transaction id: ``tx`` + 21 hex characters + ``-`` + the time in hex."""
    return f"tx{secrets.token_hex(11)[:21]}-{int(time.time()):010x}"


class Request:
    """One request: the path split into account / container / object, query, headers."""

    __slots__ = (
        "_body_used",
        "environ",
        "headers",
        "method",
        "params",
        "path",
        "receive",
        "scope",
        "version",
    )

    def __init__(self, scope: Scope, receive: Receive):
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = key.decode("latin-1").lower()
            text = value.decode("latin-1")
            self.headers[name] = f"{self.headers[name]},{text}" if name in self.headers else text
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        raw = raw.split(b"?", 1)[0]
        root = scope.get("root_path", "").encode()
        if root and raw.startswith(root):
            raw = raw[len(root) :]
        #: the path as bytes, percent-decoded (UTF-8 is checked by the proxy)
        self.path: bytes = unquote_to_bytes(raw) or b"/"
        query = scope.get("query_string", b"").decode("latin-1")
        self.params: dict[str, str] = dict(parse_qsl(query, keep_blank_values=True))
        self.environ: dict[str, Any] = scope.setdefault("swift", {})
        self.version = ""
        self._body_used = False

    def derive(
        self,
        method: str,
        path: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Request:
        """A sub-request sharing this one's environ and body (as Swift's make_subrequest)."""
        sub = object.__new__(Request)
        sub.scope = self.scope
        sub.receive = self.receive
        sub.method = method
        sub.headers = dict(self.headers if headers is None else headers)
        sub.path = self.path if path is None else path
        sub.params = dict(self.params if params is None else params)
        sub.environ = self.environ
        sub.version = self.version
        sub._body_used = self._body_used
        return sub

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    @property
    def query_string(self) -> str:
        return str(self.scope.get("query_string", b"").decode("latin-1"))

    async def stream(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as it arrives; a broken body raises ClientGone."""
        if self._body_used:
            return
        self._body_used = True
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    async def body(self, limit: int = 1 << 20) -> bytes:
        parts = []
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPError(413)
            parts.append(chunk)
        return b"".join(parts)


class ClientGone(Exception):
    """The client went away before the body ended."""


class Response:
    """A response to send: status, headers and a body (bytes or a stream of bytes)."""

    __slots__ = ("body", "headers", "status", "stream")

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        stream: AsyncIterator[bytes] | None = None,
        content_type: str | None = None,
    ):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers: dict[str, str] = dict(headers or {})
        self.stream = stream
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        if stream is None:
            self.headers["Content-Length"] = str(len(self.body))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (k.lower().encode("latin-1"), str(v).encode("latin-1", "replace"))
            for k, v in self.headers.items()
        ]
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        if self.stream is not None:
            try:
                if not head:
                    async for chunk in self.stream:
                        if chunk:
                            await send(
                                {"type": "http.response.body", "body": chunk, "more_body": True}
                            )
            finally:
                aclose = getattr(self.stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": b"" if head else self.body})


def error_body(status: int) -> bytes:
    title, text = STATUS_TEXT.get(status, (REASONS.get(status, "Error"), ""))
    return f"<html><h1>{title}</h1><p>{text}</p></html>".encode()


class HTTPError(Exception):
    """Answer with ``status`` (Swift's HTML body unless ``body`` is given)."""

    def __init__(
        self, status: int, body: str | bytes | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        if self.body is None:
            return Response(
                self.status,
                error_body(self.status),
                self.headers,
                content_type="text/html; charset=UTF-8",
            )
        return Response(
            self.status,
            self.body,
            self.headers,
            content_type=self.headers.get("Content-Type", "text/plain; charset=UTF-8"),
        )


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text, headers, content_type="text/plain; charset=UTF-8")


def header_items(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return dict(headers)
