"""The API app factory every service uses, and small response helpers.

It gives each service: X-OpenStack-Request-ID on every response, a request body cap, errors
rendered in the service's own format (never a traceback), every request counted in /metrics and
access-logged (:mod:`onestack.common.observe`), fast orjson responses, and the token validator
and policy on ``app.state``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onestack.common import errors
from onestack.common.auth import TokenValidator
from onestack.common.logs import request_id_var
from onestack.common.observe import ObserveMiddleware
from onestack.common.policy import Policy

LOG = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
REQUEST_ID_HEADER = b"x-openstack-request-id"


class JSON(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSON:
    return JSON(body, status_code=status, headers=dict(headers) if headers else None)


def no_content(headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=dict(headers) if headers else None)


class RequestIdMiddleware:
    """Gives every request an id (``req-<uuid>``) and returns it as X-OpenStack-Request-ID."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


class NulGuardMiddleware:
    """Refuses a NUL character in the URL path or query with 400: no database stores it in
    text (PostgreSQL raises), so an id or filter holding one can only be a bad request."""

    def __init__(self, app: ASGIApp, formatter: errors.ErrorFormatter):
        self.app = app
        self.formatter = formatter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "")
            or b"%00" in scope.get("query_string", b"").lower()
            or b"\x00" in scope.get("query_string", b"")
        ):
            error = errors.BadRequest("The URL must not contain NUL characters.")
            await error_response(error, self.formatter)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int, formatter: errors.ErrorFormatter):
        self.app = app
        self.limit = limit
        self.formatter = formatter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("onestack.unlimited_body"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise errors.PayloadTooLarge()
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(errors.PayloadTooLarge(), self.formatter)
        await response(scope, receive, send)


def error_response(error: errors.APIError, formatter: errors.ErrorFormatter) -> JSON:
    return JSON(formatter(error), status_code=error.code, headers=error.headers or None)


def describe_errors(errs: Sequence[Any]) -> str:
    """A human-readable summary of pydantic/FastAPI validation errors (the first three)."""
    parts = []
    for err in errs[:3]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        if err.get("type") == "json_invalid":
            return "Malformed request body: the body is not valid JSON."
        msg = err.get("msg", "invalid value")
        parts.append(f"Invalid input for field '{where}': {msg}" if where else msg)
    return "; ".join(parts) or "Invalid request."


async def body_as(request: Request, model: type[M]) -> M:
    """Parse and validate the JSON object body into ``model``; any problem is a clear 400."""
    raw = await request.body()
    if not raw:
        raise errors.BadRequest("The request body is empty; a JSON object is required.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BadRequest("Malformed request body: the body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    if _has_nul(data):
        # no database stores NUL in text (PostgreSQL refuses it): a clear 400, not a 500
        raise errors.ValidationError("Invalid input: strings must not contain NUL characters.")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise errors.ValidationError(describe_errors(exc.errors())) from None


def _has_nul(document: Any) -> bool:
    """Whether any string (key or value) of a parsed JSON document holds a NUL character.
    Iterative: orjson accepts nesting deeper than Python's recursion limit."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def create_app(
    *,
    title: str,
    routers: Iterable[APIRouter],
    error_format: errors.ErrorFormatter,
    token_validator: TokenValidator | None,
    policy: Policy | None = None,
    max_body: int = 1024 * 1024,
    state: Mapping[str, Any] | None = None,
    lifespan: Callable[..., Any] | None = None,
    service: str | None = None,
    redirect_slashes: bool = True,
    middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """Build one service's ASGI app with the shared middleware and error handling;
    ``redirect_slashes=False`` answers a path with a stray trailing slash 404 (as Glance does)
    instead of redirecting it; ``middleware`` (e.g. microversion negotiation) runs inside the
    shared ones."""
    app = FastAPI(
        title=title,
        redirect_slashes=redirect_slashes,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=JSON,
    )
    app.state.token_validator = token_validator
    app.state.policy = policy
    app.state.error_format = error_format
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    for router in routers:
        _answer_head_like_get(router)
        app.include_router(router)

    @app.exception_handler(errors.APIError)
    async def _api_error(request: Request, exc: errors.APIError) -> Response:
        if exc.code >= 500:
            LOG.error("%s on %s %s", exc.code, request.method, request.url.path, exc_info=exc)
        return error_response(exc, error_format)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(errors.ValidationError(describe_errors(exc.errors())), error_format)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        known = {
            404: errors.NotFound,
            405: errors.MethodNotAllowed,
            400: errors.BadRequest,
            413: errors.PayloadTooLarge,
        }
        cls = known.get(exc.status_code, errors.BadRequest)
        err = cls()
        if exc.status_code == 404:
            err = errors.NotFound("The resource could not be found.")
        return error_response(err, error_format)

    for extra in reversed(middleware):  # the first listed runs first, inside the shared ones
        app.add_middleware(extra.cls, *extra.args, **extra.kwargs)
    # outermost last: the request id is set before anything logs; every answer, an
    # unexpected error's 500 included, is counted and logged by ObserveMiddleware
    app.add_middleware(BodyLimitMiddleware, limit=max_body, formatter=error_format)
    app.add_middleware(NulGuardMiddleware, formatter=error_format)
    app.add_middleware(
        ObserveMiddleware, service=service or title.rsplit(" ", 1)[-1], formatter=error_format
    )
    app.add_middleware(RequestIdMiddleware)
    return app


class LazyApp:
    """A service's app built on its first request (or :meth:`build`), not when the service
    is made: importing its API modules and letting FastAPI inspect every route costs tens
    of milliseconds a service, which ``onestack up`` spends after its APIs answer.
    Attributes (``routes``, ``state``...) are the built app's."""

    def __init__(self, build: Callable[[], ASGIApp]):
        self._build = build
        self._app: ASGIApp | None = None

    @property
    def built(self) -> bool:
        return self._app is not None

    def build(self) -> ASGIApp:
        if self._app is None:
            self._app = self._build()  # synchronous: two first requests cannot both build
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self._app or self.build())(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.build(), name)


def _answer_head_like_get(router: APIRouter) -> None:
    """HEAD on any GET resource answers like GET without the body (as the OpenStack APIs do),
    unless the path has a HEAD route of its own."""
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    explicit = {r.path for r in routes if "HEAD" in (r.methods or ())}
    for route in routes:
        if route.methods and "GET" in route.methods and route.path not in explicit:
            route.methods.add("HEAD")


def base_url(request: Request) -> str:
    """The service's own public root as the client reached it (mount prefix included)."""
    cached = request.scope.get("onestack.base_url")
    if cached is None:
        root = request.scope.get("root_path", "")
        cached = str(request.url.replace(path=root, query="", fragment="")).rstrip("/")
        request.scope["onestack.base_url"] = cached
    return cached


def link_to(request: Request, path: str) -> str:
    return base_url(request) + path
