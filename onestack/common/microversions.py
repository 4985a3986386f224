"""Microversion negotiation shared by the services that have them (Placement, Compute, ...).

A service declares a :class:`MicroversionSpec` (service type, minimum, maximum, optional legacy
header) and adds :func:`middleware` to its app. Every request is then negotiated from
``OpenStack-API-Version: <service-type> X.Y`` (or the legacy header), ``latest`` meaning the
maximum and no header meaning the minimum; a malformed value is 400, a version outside
[min, max] is 406, both in the service's error format. Every response carries
``OpenStack-API-Version`` (and the legacy header) with the negotiated version, and ``Vary``.

Handlers read the negotiated version from ``request.state.microversion`` (a :class:`Version`,
comparable with tuples, strings and other versions), and declare a route's range with
``dependencies=[Depends(since("1.14"))]``; a request below it answers 404 (or 405).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any

import microversion_parse
from fastapi import Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onestack.common import errors

STANDARD_HEADER = "OpenStack-API-Version"
_VERSION_RE = re.compile(r"^\s*(\d{1,5})\.(\d{1,5})\s*$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A microversion ``major.minor``; compares with other versions, tuples and ``"X.Y"``."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """``"1.36"`` -> ``Version(1, 36)``; anything else raises :class:`ValueError`."""
        match = _VERSION_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid version string: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, value: Version | tuple[int, int] | str) -> Version:
        if isinstance(value, Version):
            return value
        if isinstance(value, str):
            return _parsed(value)
        major, minor = value
        return cls(int(major), int(minor))

    def as_tuple(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __eq__(self, other: object) -> bool:
        try:
            return self.as_tuple() == Version.of(other).as_tuple()  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return NotImplemented

    def __lt__(self, other: Any) -> bool:
        try:
            return self.as_tuple() < Version.of(other).as_tuple()
        except (TypeError, ValueError):
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def between(self, low: Any = None, high: Any = None) -> bool:
        """Whether ``low <= self <= high`` (a missing bound is open)."""
        return (low is None or self >= low) and (high is None or self <= high)


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> Version:
    """Version literals in code (``v >= "1.14"``) are parsed once."""
    return Version.parse(text)


@dataclass(frozen=True)
class MicroversionSpec:
    """One service's microversions: ``service_type`` as in the header, the range it serves,
    and its legacy header (``X-OpenStack-Nova-API-Version`` for compute) if it has one."""

    service_type: str
    min_version: Version
    max_version: Version
    legacy_header: str | None = None
    #: paths (relative to the service root) answered without negotiation, e.g. discovery
    exempt: Callable[[str], bool] | None = field(default=None, compare=False)
    #: how a 406 message reads, given the requested version and the spec
    not_acceptable_message: Callable[[str, MicroversionSpec], str] | None = field(
        default=None, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_version", Version.of(self.min_version))
        object.__setattr__(self, "max_version", Version.of(self.max_version))

    @property
    def header_names(self) -> list[str]:
        return [STANDARD_HEADER] + ([self.legacy_header] if self.legacy_header else [])

    def negotiate(self, headers: Iterable[tuple[str, str]] | dict[str, str]) -> Version:
        """The version a request asks for; :class:`errors.BadRequest` for a malformed value,
        :class:`errors.NotAcceptable` for one outside [min, max]."""
        legacy = [self.legacy_header] if self.legacy_header else None
        requested = microversion_parse.get_version(headers, self.service_type, legacy)
        if requested is None:
            return self.min_version
        requested = requested.strip()
        if requested.lower() == "latest":
            return self.max_version
        try:
            version = Version.parse(requested)
        except ValueError:
            raise errors.BadRequest(f"invalid version string: {requested}") from None
        if not version.between(self.min_version, self.max_version):
            raise errors.NotAcceptable(self._not_acceptable(requested))
        return version

    def _not_acceptable(self, requested: str) -> str:
        if self.not_acceptable_message is not None:
            return self.not_acceptable_message(requested, self)
        return (
            f"Version {requested} is not supported by the API. Minimum is "
            f"{self.min_version} and maximum is {self.max_version}."
        )

    def response_headers(self, version: Version | None) -> list[tuple[bytes, bytes]]:
        """The headers every response carries: the version (when one was negotiated), Vary."""
        headers = []
        if version is not None:
            headers.append(
                (STANDARD_HEADER.lower().encode(), f"{self.service_type} {version}".encode())
            )
            if self.legacy_header:
                headers.append((self.legacy_header.lower().encode(), str(version).encode()))
        headers.append((b"vary", ", ".join(self.header_names).encode()))
        return headers


class MicroversionMiddleware:
    """Negotiates each request's microversion into ``scope["state"]["microversion"]`` and
    adds the version headers to every response (errors included)."""

    def __init__(self, app: ASGIApp, spec: MicroversionSpec, formatter: errors.ErrorFormatter):
        self.app = app
        self.spec = spec
        self.formatter = formatter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        spec = self.spec
        if spec.exempt is not None and spec.exempt(_relative_path(scope)):
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        try:
            version: Version | None = spec.negotiate(headers)
        except errors.APIError as error:
            version = None
            failure: errors.APIError | None = error
        else:
            failure = None
            scope.setdefault("state", {})["microversion"] = version
        extra = spec.response_headers(version)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in extra if h[0] not in present),
                ]
            await send(message)

        if failure is not None:
            from onestack.common.api import error_response  # the app factory imports us

            await error_response(failure, self.formatter)(scope, receive, send_with_version)
            return
        await self.app(scope, receive, send_with_version)


def _relative_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def middleware(spec: MicroversionSpec, formatter: errors.ErrorFormatter) -> Middleware:
    """The negotiation middleware for ``create_app(middleware=[...])``."""
    return Middleware(MicroversionMiddleware, spec=spec, formatter=formatter)


def microversion(request: Request) -> Version:
    """The request's negotiated version (a FastAPI dependency too)."""
    version = getattr(request.state, "microversion", None)
    if version is None:
        raise RuntimeError("no microversion negotiated: is the microversion middleware on?")
    return version


def since(
    low: Version | tuple[int, int] | str,
    high: Version | tuple[int, int] | str | None = None,
    *,
    status: int = 404,
) -> Callable[[Request], Version]:
    """A FastAPI dependency: the route exists only for versions in [low, high]; outside it the
    request answers ``status`` (404 as for a route not yet existing, or 405)."""
    low_v = Version.of(low)
    high_v = Version.of(high) if high is not None else None

    def _check(request: Request) -> Version:
        version = microversion(request)
        if version.between(low_v, high_v):
            return version
        if status == 405:
            raise errors.MethodNotAllowed("The method is not allowed for this resource.")
        raise errors.NotFound("The resource could not be found.")

    return _check


def is_at_least(request: Request, version: Version | tuple[int, int] | str) -> bool:
    """Whether the request's negotiated version is ``version`` or later."""
    return microversion(request) >= version
