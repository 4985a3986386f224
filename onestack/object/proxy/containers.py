"""Container requests: PUT / HEAD / GET (object listing) / POST / DELETE, with metadata, ACLs,
quotas, versioning locations and the storage policy."""

from __future__ import annotations

from typing import Any

from onestack.object import timestamps
from onestack.object.middleware import object_versioning
from onestack.object.middleware.acl import clean_acl
from onestack.object.proxy import constraints, listings
from onestack.object.proxy.base import (
    Controller,
    authorize,
    check_quota_headers,
    container_acls,
    meta_updates,
    request_timestamp,
    title,
)
from onestack.object.proxy.http import HTTPError, Request, Response
from onestack.object.servers.container import ContainerInfo

SYSTEM_HEADERS = (
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
    "x-versions-enabled",
)
OWNER_ONLY = (
    "x-container-read",
    "x-container-write",
    "x-container-sync-key",
    "x-container-sync-to",
    "x-container-meta-temp-url-key",
    "x-container-meta-temp-url-key-2",
)


class ContainerController(Controller):
    async def handle(self, req: Request, account: str, container: str) -> Response:
        constraints.check_container_name(container)
        info = self.storage.container_info(account, container)
        acls = container_acls(info.metadata) if info is not None else None
        authorize(req, account, acls, "container")
        method = req.method
        if method in ("GET", "HEAD"):
            if info is None:
                raise HTTPError(404)
            return self.get(req, account, container, info)
        if method == "PUT":
            return self.put(req, account, container, info)
        if method == "POST":
            if info is None:
                raise HTTPError(404)
            return self.post(req, account, container, info)
        if method == "DELETE":
            return self.delete(req, account, container, info)
        raise HTTPError(405, headers={"Allow": "DELETE, GET, HEAD, POST, PUT"})

    def _updates(
        self, req: Request, ts: str, info: ContainerInfo | None = None
    ) -> dict[str, list[Any]]:
        constraints.check_metadata(req.headers, "container")
        object_versioning.check_container_update(req, info)
        sync_to = (req.header("x-container-sync-to") or "").strip()
        if sync_to:
            from onestack.object.daemons import realms, sync

            if sync.resolve(sync_to, realms(self.service)) is None:
                raise HTTPError(400, f"Invalid X-Container-Sync-To: {sync_to}")
        enabled = object_versioning.parse_enabled(req)
        if enabled is not None:
            req.headers["x-versions-enabled"] = enabled
        check_quota_headers(req, "container")
        for name in OWNER_ONLY:
            if (
                name in req.headers or name.replace("x-", "x-remove-", 1) in req.headers
            ) and not req.environ.get("owner"):
                raise HTTPError(403)
        for name in ("x-container-read", "x-container-write"):
            if name in req.headers:
                req.headers[name] = clean_acl(name, req.headers[name])
        if "x-versions-location" in req.headers and "x-history-location" in req.headers:
            raise HTTPError(
                400, "Only one of X-Versions-Location or X-History-Location may be specified"
            )
        for name in ("x-versions-location", "x-history-location"):
            value = req.headers.get(name)
            if value:
                if "/" in value.strip("/"):
                    raise HTTPError(412, f"{title(name)} header must be a container name")
                req.headers[name] = value.strip("/")
        updates = meta_updates(req.headers, "container", ts, SYSTEM_HEADERS)
        # one versioning mode at a time: setting one clears the other
        if "x-versions-location" in req.headers:
            updates["x-history-location"] = ["", ts]
        elif "x-history-location" in req.headers:
            updates["x-versions-location"] = ["", ts]
        return updates

    def put(
        self, req: Request, account: str, container: str, info: ContainerInfo | None
    ) -> Response:
        if not container or "/" in container:
            raise HTTPError(400, "Container name cannot contain a slash")
        ts = request_timestamp(req)
        policy = req.header("x-storage-policy")
        index = 0
        if policy is not None:
            names = [p.lower() for p in self.service.conf.storage_policies]
            if policy.strip().lower() not in names:
                raise HTTPError(400, f'Invalid X-Storage-Policy "{policy}"')
            index = names.index(policy.strip().lower())
            if info is not None and info.storage_policy_index != index:
                raise HTTPError(409, "Container already exists with a different storage policy")
        updates = self._updates(req, ts, info)
        if self.storage.account_info(account) is None:
            self.storage.put_account(account, ts)
        done, created = self.storage.put_container(account, container, ts, updates, index)
        if done == 0:
            raise HTTPError(503)
        if "x-versions-enabled" in updates:
            object_versioning.ensure_versions_container(self.storage, account, container, ts, index)
        return Response(
            201 if created or info is None else 202, content_type="text/html; charset=UTF-8"
        )

    def post(self, req: Request, account: str, container: str, info: ContainerInfo) -> Response:
        ts = request_timestamp(req)
        updates = self._updates(req, ts, info)
        if updates:
            self.storage.post_container(account, container, updates)
        if "x-versions-enabled" in updates:
            object_versioning.ensure_versions_container(
                self.storage, account, container, ts, info.storage_policy_index
            )
        return Response(204, content_type="text/html; charset=UTF-8")

    def delete(
        self, req: Request, account: str, container: str, info: ContainerInfo | None
    ) -> Response:
        if info is None:
            raise HTTPError(404)
        if info.object_count > 0:
            raise HTTPError(409)
        broker = self.storage.container_broker(account, container)
        if broker is not None and broker.object_count() > 0:
            raise HTTPError(409)
        hidden = object_versioning.versions_container(container)
        versions = self.storage.container_info(account, hidden)
        if versions is not None and versions.object_count > 0:
            raise HTTPError(409, "The container still holds versions of objects")
        ts = request_timestamp(req)
        if versions is not None:
            self.storage.delete_container(account, hidden, ts)
        self.storage.delete_container(account, container, ts)
        return Response(204, content_type="text/html; charset=UTF-8")

    def headers(self, req: Request, info: ContainerInfo) -> dict[str, str]:
        headers = {
            "X-Container-Object-Count": str(info.object_count),
            "X-Container-Bytes-Used": str(info.bytes_used),
            "X-Timestamp": info.created_at,
            "X-Put-Timestamp": info.put_timestamp,
            "Last-Modified": timestamps.http_date(info.put_timestamp),
            "X-Storage-Policy": self._policy_name(info.storage_policy_index),
            "Accept-Ranges": "bytes",
        }
        owner = req.environ.get("owner")
        for key, value in info.metadata.items():
            if key in OWNER_ONLY and not owner:
                continue
            if key.startswith("x-container-sysmeta-"):
                continue  # system metadata (S3 tags, lifecycle) is never shown
            headers[title(key)] = value
        return headers

    def _policy_name(self, index: int) -> str:
        policies = self.service.conf.storage_policies
        return policies[index] if index < len(policies) else policies[0]

    def get(self, req: Request, account: str, container: str, info: ContainerInfo) -> Response:
        headers = self.headers(req, info)
        fmt = listings.wanted_format(req)
        if req.method == "HEAD":
            return Response(204, b"", headers, content_type=listings.TYPES[fmt])
        query = listings.listing_query(req, constraints.CONTAINER_LISTING_LIMIT)
        if "versions" in req.params:
            if object_versioning.state(info) is None:
                raise HTTPError(400, "versions listing requires a versioned container")
            entries = object_versioning.list_versions(
                self.storage, account, container, query, req.param("version_marker")
            )
            if not entries and fmt == "plain":
                return Response(204, b"", headers, content_type=listings.TYPES[fmt])
            body = listings.render(fmt, "container", container, entries)
            return Response(200, body, headers, content_type=listings.TYPES[fmt])
        broker = self.storage.container_broker(account, container)
        if fmt == "json" and broker is not None:
            rendered = broker.listing_json(**query)
            if rendered is not None:
                return Response(200, rendered, headers, content_type=listings.TYPES[fmt])
        rows = broker.list_objects(**query) if broker is not None else []
        entries = [listings.object_entry(r) for r in rows]
        if not entries and fmt == "plain":
            return Response(204, b"", headers, content_type=listings.TYPES[fmt])
        body = listings.render(fmt, "container", container, entries)
        return Response(200, body, headers, content_type=listings.TYPES[fmt])
