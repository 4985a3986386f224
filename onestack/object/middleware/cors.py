"""CORS as Swift answers it: a preflight ``OPTIONS`` is allowed by the container's
``X-Container-Meta-Access-Control-Allow-Origin`` (space-separated origins or ``*``); answers
to allowed cross-origin requests carry Access-Control-Allow-Origin and -Expose-Headers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Message

from onestack.object.proxy.http import App, HTTPError, Request, Response

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from onestack.object.service import ObjectService

METHODS = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
EXPOSE = (
    "cache-control, content-language, content-type, expires, last-modified, pragma, "
    "etag, x-timestamp, x-trans-id, x-openstack-request-id"
)


class CORSMiddleware:
    def __init__(self, app: App, service: ObjectService):
        self.app = app
        self.service = service

    def _container_meta(self, req: Request) -> dict[str, str] | None:
        parts = req.path.split(b"/", 4)
        if len(parts) < 4 or parts[1] not in (b"v1", b"v1.0") or not parts[3]:
            return None
        try:
            account, container = parts[2].decode(), parts[3].decode()
        except UnicodeDecodeError:
            return None
        info = self.service.storage.cached_info(account, container)
        return info.metadata if info is not None else None

    def _allowed(self, meta: dict[str, str] | None, origin: str) -> bool:
        rule = (meta or {}).get("x-container-meta-access-control-allow-origin", "")
        allowed = rule.split() + list(self.service.conf.cors_allow_origin)
        return "*" in allowed or origin in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        origin = req.header("origin")
        if req.method == "OPTIONS":
            await self.preflight(req, origin)(scope, receive, send)
            return
        if not origin or "s3" in req.environ:
            await self.app(scope, receive, send)
            return
        meta = self._container_meta(req)
        if not self._allowed(meta, origin):
            await self.app(scope, receive, send)
            return
        expose = EXPOSE
        extra = (meta or {}).get("x-container-meta-access-control-expose-headers", "")
        if extra:
            expose += ", " + ", ".join(extra.split())
        value = (
            "*"
            if "*" in (meta or {}).get("x-container-meta-access-control-allow-origin", "").split()
            else origin
        )

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                meta_headers = [
                    h[0].decode("latin-1")
                    for h in message["headers"]
                    if h[0].startswith((b"x-object-meta-", b"x-container-meta-"))
                ]
                exposed = ", ".join([expose, *meta_headers]) if meta_headers else expose
                message["headers"] = [
                    *message["headers"],
                    (b"access-control-allow-origin", value.encode("latin-1")),
                    (b"access-control-expose-headers", exposed.encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, sending)

    def preflight(self, req: Request, origin: str | None) -> Response:
        if not origin:
            return Response(200, b"", {"Allow": METHODS})
        wanted = req.header("access-control-request-method")
        if not wanted:
            return Response(200, b"", {"Allow": METHODS})
        meta = self._container_meta(req)
        if meta is None or not self._allowed(meta, origin) or wanted.upper() not in METHODS:
            raise HTTPError(401)
        headers = {
            "Allow": METHODS,
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Max-Age": meta.get("x-container-meta-access-control-max-age", "")
            or "0",
        }
        requested = req.header("access-control-request-headers")
        if requested:
            headers["Access-Control-Allow-Headers"] = requested
        return Response(200, b"", headers)
