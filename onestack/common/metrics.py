"""Prometheus metrics of one process: HTTP requests per service and route, RPC per topic and
method. ``GET /metrics`` on the all-in-one server (and on ``onestack serve``) exposes them in the
Prometheus text format. HTTP requests are recorded by
:class:`onestack.common.observe.ObserveMiddleware`, which every service's app has."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

REGISTRY = CollectorRegistry()
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    "onestack_http_requests",
    "HTTP requests answered, by service, method, route template and status code.",
    ("service", "method", "route", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "onestack_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response starts), by service and route.",
    ("service", "method", "route"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
RPC_MESSAGES = Counter(
    "onestack_rpc_messages",
    "RPC messages by kind (call, cast, fanout; client side, or handled on the server side), "
    "topic, method and outcome.",
    ("side", "kind", "topic", "method", "outcome"),
    registry=REGISTRY,
)
RPC_LATENCY = Histogram(
    "onestack_rpc_duration_seconds",
    "RPC latency: a call's round trip on the client side, handling time on the server side.",
    ("side", "kind", "topic", "method"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)


async def endpoint(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def observe_rpc(side: str, kind: str, topic: str, method: str, seconds: float, ok: bool) -> None:
    """Record one RPC message (the transport's observer hook)."""
    topic = topic.split(".", 1)[0]  # per-host topics (compute.<host>) count under their topic
    RPC_MESSAGES.labels(side, kind, topic, method, "ok" if ok else "error").inc()
    RPC_LATENCY.labels(side, kind, topic, method).observe(seconds)


def observe_transport(transport: Any) -> None:
    """Have ``transport`` report every RPC message to :func:`observe_rpc`."""
    if hasattr(transport, "observers"):
        transport.observers.append(observe_rpc)
