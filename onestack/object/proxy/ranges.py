"""Range and conditional (If-*) request headers, as Swift answers them."""

from __future__ import annotations

from onestack.object import timestamps
from onestack.object.proxy.http import HTTPError

MAX_RANGES = 100


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """Byte ranges as (start, end-exclusive); None means the whole object (no or an invalid
    Range header, which Swift ignores); 416 if none of the ranges overlaps the object."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    ranges: list[tuple[int, int]] = []
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > MAX_RANGES:
        return None
    for part in parts:
        first, dash, last = part.partition("-")
        if not dash:
            return None
        try:
            if first == "":
                if last == "":
                    return None
                suffix = int(last)
                if suffix < 0:
                    return None
                if suffix == 0:
                    continue
                ranges.append((max(0, size - suffix), size))
                continue
            start = int(first)
            end = int(last) + 1 if last else size
        except ValueError:
            return None
        if start < 0 or (last and end <= start):
            return None
        if start >= size:
            continue
        ranges.append((start, min(end, size)))
    if not ranges:
        raise HTTPError(416, headers={"Content-Range": f"bytes */{size}"})
    return ranges


def _etags(value: str) -> list[str]:
    return [t.strip().strip('"') for t in value.split(",") if t.strip()]


def check_conditions(
    headers: dict[str, str], etag: str, timestamp: str, response_headers: dict[str, str]
) -> int | None:
    """304 / 412 for If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since; None to
    answer normally."""
    last_modified = int(float(timestamp)) + (0 if float(timestamp).is_integer() else 1)
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    if_none = headers.get("if-none-match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304
    since = headers.get("if-modified-since")
    if since and if_none is None:
        when = timestamps.parse_http_date(since)
        if when is not None and last_modified <= when:
            return 304
    until = headers.get("if-unmodified-since")
    if until and if_match is None:
        when = timestamps.parse_http_date(until)
        if when is not None and last_modified > when:
            return 412
    del response_headers
    return None
