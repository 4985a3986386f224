"""Symlinks: an object PUT with ``X-Symlink-Target: container/object`` (and optionally
``X-Symlink-Target-Account``); a GET or HEAD follows it, ``?symlink=get`` reads the link."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from onestack.object.proxy.base import authorize, container_acls
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.objects import Found, ObjectController

MAX_HOPS = 2


def check_target(req: Request, account: str) -> None:
    target = unquote(req.header("x-symlink-target") or "").lstrip("/")
    container, _, obj = target.partition("/")
    if not container or not obj:
        raise HTTPError(
            412, "X-Symlink-Target header must be of the form <container name>/<object name>"
        )
    if req.header("content-length") not in ("0", None) or req.header("x-copy-from"):
        raise HTTPError(400, "Symlink requests require a zero byte body")
    req.headers["x-symlink-target"] = f"{container}/{obj}"


async def follow(ctrl: ObjectController, req: Request, account: str, found: Found) -> Response:
    hops = req.environ.get("symlink_hops", 0)
    if hops >= MAX_HOPS:
        raise HTTPError(409, f"Too many levels of symbolic links, maximum allowed is {MAX_HOPS}")
    req.environ["symlink_hops"] = hops + 1
    target_account = found.metadata.get("X-Symlink-Target-Account") or account
    container, _, obj = found.metadata["X-Symlink-Target"].partition("/")
    info = ctrl.storage.container_info(target_account, container)
    authorize(req, target_account, container_acls(info.metadata) if info else None, "object")
    response = await ctrl.get(req, target_account, container, obj)
    response.headers["Content-Location"] = f"/v1/{target_account}/{container}/{obj}"
    return response
