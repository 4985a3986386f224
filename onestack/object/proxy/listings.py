"""Account and container listings rendered as JSON, XML or plain text."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from onestack.object import timestamps
from onestack.object.proxy.http import HTTPError, Request

TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "plain": "text/plain; charset=utf-8",
}


def wanted_format(req: Request) -> str:
    fmt = (req.param("format") or "").lower()
    if fmt:
        if fmt in ("json", "xml", "plain"):
            return fmt
        if fmt in ("application/json",):
            return "json"
        if fmt in ("application/xml", "text/xml"):
            return "xml"
        return "plain"
    accept = req.header("accept", "") or ""
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "plain"


def listing_query(req: Request, maximum: int) -> dict[str, Any]:
    from onestack.object.proxy.constraints import check_utf8, listing_limit

    query: dict[str, Any] = {"limit": listing_limit(req.param("limit"), maximum)}
    for key in ("marker", "end_marker", "prefix", "delimiter"):
        value = req.param(key) or ""
        check_utf8(value.encode("utf-8", "surrogateescape"))
        query[key] = value
    if len(query["delimiter"]) > 1:
        raise HTTPError(412, "Bad delimiter")
    query["reverse"] = (req.param("reverse") or "").lower() in ("1", "true", "yes", "on", "t")
    return query


def object_entry(row: dict[str, Any]) -> dict[str, Any]:
    if "subdir" in row:
        return {"subdir": row["subdir"]}
    entry = {
        "hash": row["etag"],
        "last_modified": timestamps.iso(row["created_at"]),
        "bytes": row["size"],
        "name": row["name"],
        "content_type": row["content_type"],
    }
    extra = row.get("extra")
    if extra and extra != "{}":
        entry.update(orjson.loads(extra))
    return entry


def container_entry(row: dict[str, Any]) -> dict[str, Any]:
    if "subdir" in row:
        return {"subdir": row["subdir"]}
    return {
        "name": row["name"],
        "count": row["object_count"],
        "bytes": row["bytes_used"],
        "last_modified": timestamps.iso(row["put_timestamp"]),
    }


def render(fmt: str, kind: str, name: str, entries: list[dict[str, Any]]) -> bytes:
    if fmt == "json":
        return orjson.dumps(entries)
    if fmt == "plain":
        return "".join((e.get("subdir") or e["name"]) + "\n" for e in entries).encode()
    item = "object" if kind == "container" else "container"
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{kind} name={quoteattr(name)}>"]
    for entry in entries:
        if "subdir" in entry:
            sub = escape(entry["subdir"])
            parts.append(f"<subdir name={quoteattr(entry['subdir'])}><name>{sub}</name></subdir>")
            continue
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in entry.items())
        parts.append(f"<{item}>{fields}</{item}>")
    parts.append(f"</{kind}>")
    return "".join(parts).encode()
