"""Account requests: HEAD / GET (container listing) / POST, and PUT / DELETE for a reseller
admin (accounts are created on first use, as with ``account_autocreate``)."""

from __future__ import annotations

from onestack.object import timestamps
from onestack.object.middleware.object_versioning import HIDDEN_END
from onestack.object.proxy import constraints, listings
from onestack.object.proxy.base import (
    Controller,
    authorize,
    check_quota_headers,
    meta_updates,
    request_timestamp,
    title,
)
from onestack.object.proxy.http import HTTPError, Request, Response

ACCOUNT_EXTRA = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")


class AccountController(Controller):
    async def handle(self, req: Request, account: str) -> Response:
        if len(account.encode()) > constraints.MAX_ACCOUNT_NAME_LENGTH:
            raise HTTPError(
                400,
                f"Account name length of {len(account.encode())} longer than "
                f"{constraints.MAX_ACCOUNT_NAME_LENGTH}",
            )
        method = req.method
        authorize(req, account, None, "account")
        if method in ("GET", "HEAD"):
            return self.get(req, account)
        if method == "POST":
            return self.post(req, account)
        if method in ("PUT", "DELETE"):
            if not req.environ["identity"].reseller:
                raise HTTPError(405, headers={"Allow": "GET, HEAD, POST"})
            ts = request_timestamp(req)
            if method == "PUT":
                existed = self.storage.account_info(account) is not None
                self.storage.put_account(account, ts, self._metadata(req, ts))
                return Response(202 if existed else 201)
            if self.storage.delete_account(account, ts) == 0:
                raise HTTPError(404)
            return Response(204)
        raise HTTPError(405, headers={"Allow": "GET, HEAD, POST"})

    def _metadata(self, req: Request, ts: str) -> dict[str, list[object]]:
        constraints.check_metadata(req.headers, "account")
        check_quota_headers(req, "account")
        return meta_updates(req.headers, "account", ts)

    def headers(self, account: str) -> dict[str, str]:
        info = self.storage.account_info(account)
        if info is None or info.deleted:
            now = timestamps.now()
            return {
                "X-Account-Container-Count": "0",
                "X-Account-Object-Count": "0",
                "X-Account-Bytes-Used": "0",
                "X-Timestamp": now,
                "X-Put-Timestamp": now,
            }
        headers = {
            "X-Account-Container-Count": str(info.container_count),
            "X-Account-Object-Count": str(info.object_count),
            "X-Account-Bytes-Used": str(info.bytes_used),
            "X-Timestamp": info.created_at,
            "X-Put-Timestamp": info.put_timestamp,
            "Last-Modified": timestamps.http_date(info.put_timestamp),
        }
        broker = self.storage.account_broker(account)
        policies = self.service.conf.storage_policies
        for index, (containers, objects, used) in (
            broker.policy_stats().items() if broker is not None else ()
        ):
            name = policies[index] if index < len(policies) else f"Policy-{index}"
            prefix = f"X-Account-Storage-Policy-{name}-"
            headers[prefix + "Container-Count"] = str(containers)
            headers[prefix + "Object-Count"] = str(objects)
            headers[prefix + "Bytes-Used"] = str(used)
        for key, value in info.metadata.items():
            headers[title(key)] = value
        return headers

    def get(self, req: Request, account: str) -> Response:
        headers = self.headers(account)
        if not req.environ.get("owner"):
            for key in [k for k in headers if k.lower().startswith(ACCOUNT_EXTRA)]:
                del headers[key]
        fmt = listings.wanted_format(req)
        query = listings.listing_query(req, constraints.ACCOUNT_LISTING_LIMIT)
        # hidden containers (versions: "\x00versions\x00<name>") sort first; never listed
        bound = "end_marker" if query["reverse"] else "marker"
        query[bound] = max(query[bound], HIDDEN_END)
        broker = self.storage.account_broker(account)
        rows = broker.list_containers(**query) if broker is not None else []
        entries = [listings.container_entry(r) for r in rows]
        if req.method == "HEAD":
            return Response(204, b"", headers, content_type=listings.TYPES[fmt])
        if not entries and fmt == "plain":
            return Response(204, b"", headers, content_type=listings.TYPES[fmt])
        body = listings.render(fmt, "account", account, entries)
        return Response(200, body, headers, content_type=listings.TYPES[fmt])

    def post(self, req: Request, account: str) -> Response:
        ts = request_timestamp(req)
        updates = self._metadata(req, ts)
        if self.storage.account_info(account) is None:
            self.storage.put_account(account, ts, updates)
        elif updates:
            self.storage.post_account(account, updates)
        return Response(204)
