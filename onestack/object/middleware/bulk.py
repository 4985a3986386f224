"""Bulk operations: ``POST ?bulk-delete`` (a list of paths to delete) and
``PUT ?extract-archive=tar|tar.gz|tar.bz2`` (an archive's files become objects)."""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import unquote

from onestack.object.middleware.large import bulk_result
from onestack.object.proxy import constraints
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.app import Dispatcher

MAX_DELETES = 10000
MAX_ARCHIVE = 5 * 1024**3


def _status_line(status: int) -> str:
    from onestack.object.proxy.http import REASONS

    return f"{status} {REASONS.get(status, '')}".strip()


async def bulk_delete(proxy: Dispatcher, req: Request, account: str) -> Response:
    body = await req.body(MAX_DELETES * 2048)
    paths = [
        unquote(line.strip())
        for line in body.decode("utf-8", "replace").splitlines()
        if line.strip()
    ]
    if len(paths) > MAX_DELETES:
        raise HTTPError(413, f"Maximum Bulk Deletes: {MAX_DELETES} per request")
    deleted = not_found = 0
    errors: list[list[str]] = []
    original = req.method
    for path in paths:
        container, _, obj = path.lstrip("/").partition("/")
        req.method = "DELETE"
        try:
            if obj:
                await proxy.objects.handle(req, account, container, obj)
            else:
                await proxy.containers.handle(req, account, container)
            deleted += 1
        except HTTPError as exc:
            if exc.status == 404:
                not_found += 1
            else:
                errors.append([path, _status_line(exc.status)])
    req.method = original
    status = "400 Bad Request" if errors else "200 OK"
    return bulk_result(
        req,
        {
            "Number Deleted": deleted,
            "Number Not Found": not_found,
            "Response Body": "",
            "Response Status": status,
            "Errors": errors,
        },
    )


async def extract_archive(
    proxy: Dispatcher, req: Request, account: str, container: str, obj: str
) -> Response:
    kind = req.param("extract-archive") or ""
    modes = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2"}
    if kind not in modes:
        raise HTTPError(400, "Unsupported archive format")
    prefix = "/".join(p for p in (container, obj) if p)
    fd, spool = tempfile.mkstemp(prefix="onestack-extract-")
    created = errors_count = 0
    errors: list[list[str]] = []
    try:
        size = 0
        with os.fdopen(fd, "wb") as fh:
            async for chunk in req.stream():
                size += len(chunk)
                if size > MAX_ARCHIVE:
                    raise HTTPError(413)
                fh.write(chunk)
        try:
            archive = tarfile.open(spool, modes[kind])  # noqa: SIM115 (closed below)
        except (tarfile.TarError, OSError):
            raise HTTPError(400, "Invalid Tar File: not a valid archive") from None
        with archive:
            for member in archive:
                if not member.isfile():
                    continue
                path = f"{prefix}/{member.name}" if prefix else member.name
                path = (
                    path.lstrip("/").replace("./", "", 1)
                    if path.startswith("./")
                    else path.lstrip("/")
                )
                c, _, o = path.partition("/")
                if not c or not o:
                    errors.append([path, "400 Bad Request"])
                    continue
                try:
                    constraints.check_object_name(o)
                    if proxy.storage_has_container(account, c) is False:
                        req.method = "PUT"
                        await proxy.containers.handle(req, account, c)
                    data = archive.extractfile(member)
                    assert data is not None
                    created += await _put(proxy, req, account, c, o, data, member.size)
                except HTTPError as exc:
                    errors_count += 1
                    errors.append([f"/{c}/{o}", _status_line(exc.status)])
                finally:
                    req.method = "PUT"
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
    status = "400 Bad Request" if errors else "201 Created"
    return bulk_result(
        req,
        {
            "Number Files Created": created,
            "Response Body": "",
            "Response Status": status,
            "Errors": errors,
        },
    )


async def _put(
    proxy: Dispatcher, req: Request, account: str, container: str, obj: str, data: object, size: int
) -> int:
    from onestack.object.proxy.base import authorize, container_acls

    info = proxy.service.storage.container_info(account, container)
    if info is None:
        raise HTTPError(404)
    authorize(req, account, container_acls(info.metadata), "object")

    async def chunks() -> AsyncIterator[bytes]:
        while block := data.read(1 << 16):  # type: ignore[attr-defined]
            yield block

    ctrl = proxy.objects
    ctrl.check_container_quota(info, size)
    import mimetypes

    metadata = {"Content-Type": mimetypes.guess_type(obj)[0] or "application/octet-stream"}
    await ctrl.write(account, container, obj, chunks(), metadata, length=size, info=info)
    return 1
