"""/metrics in Prometheus text format, and the request id in every log line."""

from __future__ import annotations

import logging

import httpx
import orjson
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families

from onestack.common.api import create_app, json
from onestack.common.errors import keystone_format
from onestack.common.logs import JSONFormatter, RequestIdFilter, request_id_var


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    ]


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, demo_headers: dict[str, str]
) -> None:
    def count(text: str) -> float:
        return sum(
            v for labels, v in _samples(text, "onestack_http_requests_total")
            if labels == {"service": "identity", "method": "GET",
                          "route": "/v3/users/{user_id}", "status": "404"}
        )

    before = count((await client.get("/metrics")).text)
    for i in range(3):
        r = await client.get(f"/identity/v3/users/nobody-{i}", headers=demo_headers)
        assert r.status_code in (403, 404)
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    # a demo member may not read other users: 403 for ids that are not its own
    forbidden = sum(
        v for labels, v in _samples(text, "onestack_http_requests_total")
        if labels.get("route") == "/v3/users/{user_id}" and labels["status"] in ("403", "404")
    )
    assert forbidden >= 3
    assert count(text) >= before
    buckets = _samples(text, "onestack_http_request_duration_seconds_count")
    assert any(labels.get("route") == "/v3/users/{user_id}" and v >= 3 for labels, v in buckets)
    # raw ids never become label values
    assert "nobody-0" not in text


def test_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    token = request_id_var.set("req-abc")
    try:
        assert RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = orjson.loads(JSONFormatter().format(record))
    assert line["request_id"] == "req-abc"
    assert line["message"] == "hello you"
    assert line["level"] == "INFO"


async def test_the_request_id_is_in_context_while_a_request_is_handled() -> None:
    router = APIRouter()
    seen: list[str] = []

    @router.get("/probe")
    async def probe() -> object:
        seen.append(request_id_var.get())
        return json({})

    app = create_app(title="t probe", routers=[router], error_format=keystone_format,
                     token_validator=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        resp = await c.get("/probe")
    assert seen == [resp.headers["x-openstack-request-id"]]
