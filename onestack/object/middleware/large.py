"""Large objects: dynamic (DLO, ``X-Object-Manifest: container/prefix``: the segments are
whatever objects have the prefix, in name order) and static (SLO, ``?multipart-manifest=put``
with a JSON list of segments checked at upload; ``get`` and ``delete`` as Swift)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from onestack.object.proxy import constraints
from onestack.object.proxy.base import authorize, container_acls
from onestack.object.proxy.http import HTTPError, Request, Response
from onestack.object.servers import object as disk

if TYPE_CHECKING:
    from onestack.object.proxy.objects import Body, Found, ObjectController
    from onestack.object.servers.container import ContainerInfo

MAX_MANIFEST_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1


def _read_access(ctrl: ObjectController, req: Request, account: str, container: str) -> None:
    info = ctrl.storage.container_info(account, container)
    method = req.method
    req.method = "GET"
    try:
        authorize(req, account, container_acls(info.metadata) if info else None, "object")
    finally:
        req.method = method


async def dlo_body(
    ctrl: ObjectController, req: Request, account: str, found: Found, headers: dict[str, str]
) -> Body:
    from onestack.object.proxy.objects import Body, Segment

    container, _, prefix = unquote(found.metadata["X-Object-Manifest"]).partition("/")
    _read_access(ctrl, req, account, container)
    broker = ctrl.storage.container_broker(account, container)
    segments = []
    digest = hashlib.md5(usedforsecurity=False)
    marker = ""
    while broker is not None:
        rows = broker.list_objects(
            limit=constraints.CONTAINER_LISTING_LIMIT, marker=marker, prefix=prefix
        )
        if not rows:
            break
        for row in rows:
            segments.append(Segment(account, container, row["name"], 0, row["size"]))
            digest.update(row["etag"].encode())
        marker = rows[-1]["name"]
    headers["Etag"] = f'"{digest.hexdigest()}"'
    headers["X-Object-Manifest"] = found.metadata["X-Object-Manifest"]
    return Body(sum(s.end - s.start for s in segments), segments=segments)


def _manifest(found: Found) -> list[dict[str, Any]]:
    data = b"".join(disk.read_range(found.path, 0, min(found.size, MAX_MANIFEST_SIZE + 1)))
    items: list[dict[str, Any]] = orjson.loads(data)
    return items


def _range(text: str | None, size: int) -> tuple[int, int]:
    if not text:
        return 0, size
    first, _, last = text.partition("-")
    if first == "":
        return max(0, size - int(last)), size
    start = int(first)
    end = int(last) + 1 if last else size
    return start, min(end, size)


async def slo_body(
    ctrl: ObjectController,
    req: Request,
    account: str,
    found: Found,
    headers: dict[str, str],
    depth: int = 0,
) -> Body:
    from onestack.object.proxy.objects import Body, Segment

    segments: list[Segment] = []
    checked: set[str] = set()
    for item in _manifest(found):
        container, _, obj = item["name"].lstrip("/").partition("/")
        if container not in checked:
            _read_access(ctrl, req, account, container)
            checked.add(container)
        start, end = _range(item.get("range"), int(item["bytes"]))
        if item.get("sub_slo") and depth < 10:
            sub = ctrl.find(account, container, obj)
            if sub is None:
                raise HTTPError(409, f"Segment {item['name']} is gone")
            inner = await slo_body(ctrl, req, account, sub, {}, depth + 1)
            segments.extend(_slice(inner.segments, start, end))
            continue
        segments.append(Segment(account, container, obj, start, end, item.get("hash", "")))
    headers["Etag"] = f'"{found.metadata.get("X-Object-Sysmeta-Slo-Etag", found.etag)}"'
    headers["X-Static-Large-Object"] = "True"
    return Body(sum(s.end - s.start for s in segments), segments=segments)


def _slice(segments: list[Any], start: int, end: int) -> list[Any]:
    from onestack.object.proxy.objects import Segment

    out = []
    offset = 0
    for seg in segments:
        length = seg.end - seg.start
        lo, hi = max(start, offset), min(end, offset + length)
        if lo < hi:
            out.append(
                Segment(
                    seg.account,
                    seg.container,
                    seg.obj,
                    seg.start + lo - offset,
                    seg.start + hi - offset,
                    seg.etag,
                )
            )
        offset += length
    return out


async def slo_put(
    ctrl: ObjectController,
    req: Request,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
    raw: bytes | None = None,
    extra: dict[str, str] | None = None,
    min_segment: int = MIN_SEGMENT_SIZE,
) -> Response:
    """Check every segment of a manifest and write it; ``raw``, ``extra`` metadata and a
    larger ``min_segment`` serve the S3 API's multipart completion."""
    if raw is None:
        raw = await req.body(MAX_MANIFEST_SIZE)
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPError(400, "Manifest must be valid JSON.\n") from None
    if not isinstance(items, list) or not items:
        raise HTTPError(400, "Manifest must be a list.\n")
    if len(items) > MAX_MANIFEST_SEGMENTS:
        raise HTTPError(413, f"Too many segments; max {MAX_MANIFEST_SEGMENTS}")
    errors: list[tuple[str, str]] = []
    manifest: list[dict[str, Any]] = []
    digest = hashlib.md5(usedforsecurity=False)
    total = 0
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            errors.append((f"Index {index}", "Invalid manifest entry: path is required"))
            continue
        path = unquote(item["path"]).lstrip("/")
        seg_container, _, seg_obj = path.partition("/")
        if not seg_container or not seg_obj:
            errors.append((item["path"], "Invalid path"))
            continue
        try:
            _read_access(ctrl, req, account, seg_container)
        except HTTPError as exc:
            errors.append((item["path"], f"{exc.status} Forbidden"))
            continue
        seg = ctrl.find(account, seg_container, seg_obj)
        if seg is None:
            errors.append((item["path"], "404 Not Found"))
            continue
        is_slo = bool(seg.metadata.get("X-Static-Large-Object"))
        size = int(seg.metadata.get("X-Object-Sysmeta-Slo-Size", seg.size)) if is_slo else seg.size
        etag = seg.metadata.get("X-Object-Sysmeta-Slo-Etag", seg.etag) if is_slo else seg.etag
        want_etag = item.get("etag")
        want_size = item.get("size_bytes")
        if want_etag not in (None, "") and str(want_etag).strip('"') != etag:
            errors.append((item["path"], "Etag Mismatch"))
            continue
        if want_size not in (None, "") and int(want_size) != size:
            errors.append((item["path"], "Size Mismatch"))
            continue
        if size < min_segment and index < len(items) - 1:
            reason = f"Too small; each segment must be at least {min_segment} bytes."
            errors.append((item["path"], reason))
            continue
        entry: dict[str, Any] = {
            "name": f"/{seg_container}/{seg_obj}",
            "bytes": size,
            "hash": etag,
            "content_type": seg.metadata.get("Content-Type", ""),
            "last_modified": seg.timestamp,
        }
        length = size
        if item.get("range"):
            try:
                start, end = _range(str(item["range"]), size)
            except ValueError:
                errors.append((item["path"], "Invalid range"))
                continue
            if start >= end:
                errors.append((item["path"], "Unsatisfiable Range"))
                continue
            entry["range"] = f"{start}-{end - 1}"
            length = end - start
            digest.update(f"{etag}:{start}-{end - 1};".encode())
        else:
            digest.update(etag.encode())
        if is_slo:
            entry["sub_slo"] = True
        manifest.append(entry)
        total += length
    if errors:
        body = "Errors:\n" + "".join(f"{path}, {reason}\n" for path, reason in errors)
        raise HTTPError(400, body)
    slo_etag = digest.hexdigest()
    wanted = (req.header("etag") or "").strip('"')
    if wanted and wanted != slo_etag:
        raise HTTPError(422)
    if total > constraints.MAX_FILE_SIZE * 1000:
        raise HTTPError(413)
    metadata = ctrl.object_metadata(req, obj)
    metadata.update(
        {
            "X-Static-Large-Object": "True",
            "X-Object-Sysmeta-Slo-Etag": slo_etag,
            "X-Object-Sysmeta-Slo-Size": str(total),
        }
    )
    metadata.update(extra or {})
    data = orjson.dumps(manifest)
    await ctrl.before_overwrite(req, account, container, obj, info, metadata)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    _etag, ts = await ctrl.write(
        account, container, obj, chunks(), metadata, length=len(data), req=req
    )
    from onestack.object import timestamps

    return Response(
        201,
        b"",
        {"Etag": f'"{slo_etag}"', "Last-Modified": timestamps.http_date(ts)},
        content_type="text/html; charset=UTF-8",
    )


async def slo_delete(
    ctrl: ObjectController, req: Request, account: str, container: str, obj: str, found: Found
) -> Response:
    deleted = not_found = 0
    errors: list[list[str]] = []
    ts = None
    from onestack.object import timestamps

    for item in _manifest(found):
        seg_container, _, seg_obj = item["name"].lstrip("/").partition("/")
        info = ctrl.storage.container_info(account, seg_container)
        try:
            authorize(req, account, container_acls(info.metadata) if info else None, "object")
        except HTTPError as exc:
            errors.append([item["name"], f"{exc.status} Forbidden"])
            continue
        if ctrl.find(account, seg_container, seg_obj) is None:
            not_found += 1
            continue
        ctrl.remove(account, seg_container, seg_obj, timestamps.now())
        deleted += 1
    ts = timestamps.now()
    ctrl.remove(account, container, obj, ts)
    deleted += 1
    status = "400 Bad Request" if errors else "200 OK"
    result = {
        "Number Deleted": deleted,
        "Number Not Found": not_found,
        "Response Body": "",
        "Response Status": status,
        "Errors": errors,
    }
    return bulk_result(req, result)


def bulk_result(req: Request, result: dict[str, Any]) -> Response:
    """A bulk operation's summary in the format the client accepts (JSON or plain)."""
    accept = req.header("accept", "") or ""
    if "json" in accept:
        return Response(200, orjson.dumps(result), content_type="application/json")
    lines = []
    for key, value in result.items():
        if key == "Errors":
            lines.append("Errors:")
            lines.extend(f"{name}, {reason}" for name, reason in value)
        else:
            lines.append(f"{key}: {value}")
    return Response(200, "\n".join(lines) + "\n", content_type="text/plain")
