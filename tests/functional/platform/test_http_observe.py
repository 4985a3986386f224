"""What every service's app does with every request: 5xx counted and logged once with the
traceback, one access log line, a client gone mid-body is no error, a stalled body gets 408."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, Request
from prometheus_client.parser import text_string_to_metric_families

from onestack.common import errors
from onestack.common.api import create_app, json
from onestack.common.errors import glance_format, keystone_format
from onestack.common.logs import JSONFormatter, RequestIdFilter, setup_logging
from onestack.common.metrics import REGISTRY, generate_latest
from onestack.common.observe import BodyTimeoutMiddleware
from onestack.server import Cloud


@pytest.fixture(autouse=True)
def _request_ids_in_caplog(caplog: pytest.LogCaptureFixture) -> None:
    """caplog's records carry the request id as the real log handler's do."""
    caplog.handler.addFilter(RequestIdFilter())


def requests_counted(service: str, route: str, status: str) -> float:
    text = generate_latest(REGISTRY).decode()
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "onestack_http_requests_total"
        and s.labels == {"service": service, "method": s.labels.get("method"), "route": route,
                         "status": status}
    )


def probe_app(service: str) -> Any:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> object:
        raise RuntimeError("the handler broke")

    @router.get("/unavailable")
    async def unavailable() -> object:
        raise errors.ServiceUnavailable("The backend is away.")

    @router.post("/echo")
    async def echo(request: Request) -> object:
        return json({"size": len(await request.body())})

    return create_app(title=f"t {service}", routers=[router], error_format=glance_format,
                      token_validator=None, service=service)


async def test_an_escaping_exception_is_a_counted_500_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = probe_app("probe5xx")
    before = requests_counted("probe5xx", "/boom", "500")
    caplog.set_level(logging.INFO)
    # raise_app_exceptions: the exception must not escape to the server (it would log it again)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await c.get("/boom")
    assert r.status_code == 500
    assert r.json()["code"] == "500 Internal Server Error"  # the service's own format
    assert "the handler broke" not in r.text and "Traceback" not in r.text
    request_id = r.headers["x-openstack-request-id"]
    assert requests_counted("probe5xx", "/boom", "500") == before + 1
    tracebacks = [rec for rec in caplog.records if rec.exc_info]
    assert len(tracebacks) == 1
    assert tracebacks[0].request_id == request_id  # type: ignore[attr-defined]
    assert "the handler broke" in caplog.text
    access = [rec for rec in caplog.records if rec.name == "onestack.access"]
    assert len(access) == 1 and " 500 " in access[0].getMessage()


async def test_a_5xx_api_error_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = probe_app("probe503")
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await c.get("/unavailable")
    assert r.status_code == 503 and r.json()["message"] == "The backend is away."
    assert requests_counted("probe503", "/unavailable", "503") == 1
    errors_logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors_logged) == 1 and errors_logged[0].exc_info
    assert errors_logged[0].request_id == r.headers["x-openstack-request-id"]  # type: ignore[attr-defined]


async def test_access_log_line_names_the_caller(
    client: httpx.AsyncClient, demo_headers: dict[str, str], cloud: Cloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="onestack.access")
    r = await client.get("/identity/v3/auth/projects", headers=demo_headers)
    assert r.status_code == 200
    token = (await client.get("/identity/v3/auth/tokens",
                              headers={**demo_headers,
                                       "X-Subject-Token": demo_headers["X-Auth-Token"]})).json()
    user_id, project_id = token["token"]["user"]["id"], token["token"]["project"]["id"]
    lines = [rec for rec in caplog.records if rec.name == "onestack.access"]
    first = lines[0]
    assert first.levelno == logging.INFO
    message = first.getMessage()
    assert message.startswith("GET /identity/v3/auth/projects 200 ")
    assert f"user={user_id}" in message and f"project={project_id}" in message
    assert first.request_id == r.headers["x-openstack-request-id"]  # type: ignore[attr-defined]
    # JSON lines carry the same as fields
    entry = orjson.loads(JSONFormatter().format(first))
    assert entry["method"] == "GET" and entry["status"] == 200
    assert entry["user_id"] == user_id and entry["project_id"] == project_id
    assert entry["duration_ms"] >= 0 and entry["request_id"].startswith("req-")
    # an anonymous request is logged too
    caplog.clear()
    await client.get("/identity/v3")
    assert "user=- project=-" in caplog.records[-1].getMessage()


def test_the_access_log_is_on_by_default_and_switchable_off() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", "text")
        assert logging.getLogger("onestack.access").isEnabledFor(logging.INFO)
        setup_logging("INFO", "text", access_log=False)
        assert not logging.getLogger("onestack.access").isEnabledFor(logging.INFO)
        assert logging.getLogger("onestack.image").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("onestack.access").setLevel(logging.NOTSET)
        root.handlers[:], level = saved
        root.setLevel(level)


async def call(app: Any, method: str, path: str, messages: list[dict[str, Any]],
               headers: list[tuple[bytes, bytes]] | None = None,
               hang: bool = False) -> list[dict[str, Any]]:
    """Drive ``app`` as a server would: ``messages`` from the client, then a hang (a stalled
    body) or a disconnect; what the app sent back."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        if hang:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    return sent


async def test_a_client_gone_mid_body_is_no_unexpected_error(
    cloud: Cloud, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    before = requests_counted("identity", "/v3/auth/tokens", "499")
    sent = await call(
        cloud.app, "POST", "/identity/v3/auth/tokens",
        [{"type": "http.request", "body": b'{"auth": {"ident', "more_body": True}],
        headers=[(b"content-type", b"application/json"), (b"content-length", b"500")],
    )
    assert not any(m["type"] == "http.response.start" and m["status"] >= 500 for m in sent)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING], caplog.text
    assert "unexpected" not in caplog.text
    assert requests_counted("identity", "/v3/auth/tokens", "499") == before + 1
    access = [rec.getMessage() for rec in caplog.records if rec.name == "onestack.access"]
    assert access and access[-1].startswith("POST /identity/v3/auth/tokens 499 ")


@pytest.mark.parametrize("path", ["/identity/v3/auth/tokens", "/image/v2/images"])
async def test_a_stalled_body_gets_408_and_the_connection_closed(
    cloud: Cloud, path: str, caplog: pytest.LogCaptureFixture, admin_headers: dict[str, str],
) -> None:
    app = BodyTimeoutMiddleware(cloud.app, timeout=0.2)
    caplog.set_level(logging.INFO)
    started = asyncio.get_running_loop().time()
    sent = await call(
        app, "POST", path,
        [{"type": "http.request", "body": b'{"a', "more_body": True}],
        headers=[(b"content-type", b"application/json"), (b"content-length", b"500"),
                 (b"x-auth-token", admin_headers["X-Auth-Token"].encode())],
        hang=True,
    )
    assert asyncio.get_running_loop().time() - started < 5
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    headers = {k.lower(): v for k, v in start["headers"]}
    assert headers[b"connection"] == b"close"
    body = orjson.loads(b"".join(m.get("body", b"") for m in sent if m["type"] ==
                                 "http.response.body"))
    if path.startswith("/identity"):
        assert body == keystone_format(errors.RequestTimeout(body["error"]["message"]))
    else:
        assert body["code"] == "408 Request Timeout"
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


async def test_a_body_that_keeps_coming_is_not_timed_out() -> None:
    """The timeout is between two reads, not for the whole body (large uploads stream)."""
    app = BodyTimeoutMiddleware(probe_app("probeslow"), timeout=0.3)

    async def chunks() -> Any:
        for _ in range(6):
            await asyncio.sleep(0.1)
            yield b"x" * 10

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await c.post("/echo", content=chunks())
    assert r.status_code == 200 and r.json() == {"size": 60}
