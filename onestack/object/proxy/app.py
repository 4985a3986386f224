"""The proxy: the outer ASGI app (transaction ids, Swift's error bodies, never a traceback),
``/info``, the middleware pipeline and the dispatch to account / container / object
controllers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from starlette.types import Message, Receive, Scope, Send

from onestack.object.proxy import constraints
from onestack.object.proxy.accounts import AccountController
from onestack.object.proxy.containers import ContainerController
from onestack.object.proxy.http import App, HTTPError, Request, Response, trans_id
from onestack.object.proxy.objects import ObjectController

if TYPE_CHECKING:
    from onestack.object.service import ObjectService

LOG = logging.getLogger(__name__)
VERSIONS = (b"v1", b"v1.0")


class RouteName:
    """What the metrics label a request with (a template, never the raw path)."""

    def __init__(self, path: str):
        self.path = path


ROUTES = {
    n: RouteName(p)
    for n, p in (
        (0, "/v1/{account}"),
        (1, "/v1/{account}/{container}"),
        (2, "/v1/{account}/{container}/{object}"),
        (3, "/info"),
        (4, "/auth/v1.0"),
        (5, "s3"),
    )
}


class Dispatcher:
    """The innermost app: path -> controller."""

    def __init__(self, service: ObjectService):
        self.service = service
        self.accounts = AccountController(service)
        self.containers = ContainerController(service)
        self.objects = ObjectController(service)

    def storage_has_container(self, account: str, container: str) -> bool:
        return self.service.storage.container_info(account, container) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        response = await self.route(req)
        await response(scope, receive, send)

    async def route(self, req: Request) -> Response:
        if "s3" in req.environ:
            req.scope["route"] = ROUTES[5]
            from onestack.object.middleware.s3api import S3Controller

            return await S3Controller(self).handle(req)
        parts = req.path.split(b"/", 4)
        if len(parts) < 3 or parts[1] not in VERSIONS or not parts[2]:
            raise HTTPError(404)
        account = constraints.check_utf8(parts[2])
        container = constraints.check_utf8(parts[3]) if len(parts) > 3 else ""
        obj = constraints.check_utf8(parts[4]) if len(parts) > 4 else ""
        if len(parts) > 3 and not container:
            if obj:
                raise HTTPError(404)
            container = ""
        req.scope["route"] = ROUTES[2 if obj else 1 if container else 0]
        if "bulk-delete" in req.params and req.method in ("POST", "DELETE"):
            from onestack.object.middleware import bulk

            return await bulk.bulk_delete(self, req, account)
        if "extract-archive" in req.params and req.method == "PUT":
            from onestack.object.middleware import bulk

            return await bulk.extract_archive(self, req, account, container, obj)
        if container and req.method in ("GET", "HEAD"):
            from onestack.object.middleware import staticweb

            page = await staticweb.maybe_serve(self, req, account, container, obj)
            if page is not None:
                return page
        if obj:
            return await self.objects.handle(req, account, container, obj)
        if container:
            return await self.containers.handle(req, account, container)
        return await self.accounts.handle(req, account)


class ProxyApp:
    """The outermost app: every answer carries X-Trans-Id; errors are Swift's."""

    def __init__(self, service: ObjectService, pipeline: App):
        self.service = service
        self.pipeline = pipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            return
        tx = trans_id()
        req = Request(scope, receive)
        req.environ["trans_id"] = tx
        scope["swift.request"] = req
        started = False
        ids = [(b"x-trans-id", tx.encode()), (b"x-openstack-request-id", tx.encode())]

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *ids]
            await send(message)

        try:
            if req.path in (b"/info", b"/info/"):
                scope["route"] = ROUTES[3]
                response = self.info(req)
                await response(scope, receive, sending)
                return
            await self.pipeline(scope, receive, sending)
        except HTTPError as exc:
            if not started:
                await exc.response()(scope, receive, sending)
        except Exception:
            LOG.exception("object request %s %s failed", req.method, req.path)
            if not started:
                await HTTPError(500).response()(scope, receive, sending)

    def info(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD", "OPTIONS"):
            raise HTTPError(405, headers={"Allow": "GET, HEAD, OPTIONS"})
        body = {
            "swift": {
                "version": "2.38.0",
                **constraints.limits(self.service.conf.storage_policies),
            },
            "tempauth": {"account_acls": True},
            "keystoneauth": {},
            "tempurl": {
                "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
                "incoming_remove_headers": ["x-timestamp"],
                "outgoing_remove_headers": ["x-object-meta-*"],
                "allowed_digests": list(self.service.conf.tempurl_digests),
            },
            "slo": {
                "max_manifest_segments": 1000,
                "max_manifest_size": 8388608,
                "min_segment_size": 1,
                "yield_frequency": 10,
            },
            "dlo": {"max_get_time": 86400},
            "bulk_delete": {"max_deletes_per_request": 10000, "max_failed_deletes": 1000},
            "bulk_upload": {"max_containers_per_extraction": 10000, "max_failed_extractions": 1000},
            "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
            "symlink": {"symlink_loop_limit": 2},
            "container_quotas": {},
            "account_quotas": {},
            "cors": {},
        }
        return Response(200, orjson.dumps(body), content_type="application/json; charset=utf-8")
