"""Static websites from a container (``X-Container-Meta-Web-Index``, ``-Web-Error``,
``-Web-Listings``, ``-Web-Listings-CSS``), served to anonymous requests (or with
``X-Web-Mode: true``) the container's read ACL lets in, as Swift's staticweb does."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

from onestack.object import timestamps
from onestack.object.proxy.base import authorize, container_acls
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.app import Dispatcher


def _web_mode(req: Request) -> bool:
    identity = req.environ.get("identity")
    explicit = (req.header("x-web-mode") or "").lower() in ("true", "1", "yes", "on")
    return explicit or identity is None or identity.anonymous


async def maybe_serve(
    proxy: Dispatcher, req: Request, account: str, container: str, obj: str
) -> Response | None:
    if req.method not in ("GET", "HEAD") or not _web_mode(req):
        return None
    info = proxy.service.storage.cached_info(account, container)
    if info is None:
        return None
    meta = info.metadata
    index = meta.get("x-container-meta-web-index")
    listings = meta.get("x-container-meta-web-listings", "").lower() in ("true", "1", "yes")
    if not index and not listings:
        return None
    base = req.scope.get("root_path", "") + f"/v1/{quote(account)}/{quote(container)}"
    if not obj or obj.endswith("/"):
        if not obj and not req.path.endswith(b"/"):
            return Response(301, b"", {"Location": base + "/"})
        authorize(req, account, container_acls(meta), "object")
        if index and proxy.objects.find(account, container, obj + index) is not None:
            return await proxy.objects.get(req, account, container, obj + index)
        if listings:
            req.method, method = "GET", req.method
            try:
                authorize(req, account, container_acls(meta), "container")
            finally:
                req.method = method
            return _listing(proxy, account, container, obj, meta, base)
        return await _error(proxy, req, account, container, meta, 404)
    found = proxy.objects.find(account, container, obj)
    if found is None:
        if index and proxy.objects.find(account, container, f"{obj}/{index}") is not None:
            return Response(301, b"", {"Location": f"{base}/{quote(obj)}/"})
        authorize(req, account, container_acls(meta), "object")
        return await _error(proxy, req, account, container, meta, 404)
    return None


async def _error(
    proxy: Dispatcher, req: Request, account: str, container: str, meta: dict[str, str], status: int
) -> Response:
    page = meta.get("x-container-meta-web-error")
    if page:
        found = proxy.objects.find(account, container, f"{status}{page}")
        if found is not None:
            response = await proxy.objects.get(req, account, container, f"{status}{page}")
            response.status = status
            return response
    raise HTTPError(status)


def _listing(
    proxy: Dispatcher, account: str, container: str, prefix: str, meta: dict[str, str], base: str
) -> Response:
    broker = proxy.service.storage.container_broker(account, container)
    rows = broker.list_objects(limit=10000, prefix=prefix, delimiter="/") if broker else []
    css = meta.get("x-container-meta-web-listings-css")
    style = f'<link rel="stylesheet" type="text/css" href="{escape(css)}" />' if css else ""
    title = escape(f"Listing of /{account}/{container}/{prefix}")
    lines = [
        f"<!DOCTYPE html><html><head><title>{title}</title>{style}</head><body>",
        f'<h1 id="title">{title}</h1><table id="listing"><tr><th>Name</th>'
        "<th>Size</th><th>Date</th></tr>",
    ]
    if prefix:
        lines.append('<tr id="parent"><td><a href="../">../</a></td><td></td><td></td></tr>')
    for row in rows:
        if "subdir" in row:
            name = row["subdir"][len(prefix) :]
            lines.append(
                f'<tr><td><a href="{quote(name)}">{escape(name)}</a></td><td></td><td></td></tr>'
            )
            continue
        name = row["name"][len(prefix) :]
        lines.append(
            f'<tr><td><a href="{quote(name)}">{escape(name)}</a></td>'
            f"<td>{row['size']}</td><td>{timestamps.iso(row['created_at'])[:19]}</td>"
            "</tr>"
        )
    lines.append("</table></body></html>")
    del base
    return Response(200, "".join(lines), content_type="text/html; charset=UTF-8")
