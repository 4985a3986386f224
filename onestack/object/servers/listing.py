"""Listing queries shared by account and container databases: prefix, marker, end_marker,
limit, delimiter (with ``subdir`` rows) and reverse."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from onestack.object import timestamps


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _bounds(
    marker: str, end_marker: str, prefix: str, reverse: bool
) -> tuple[list[str], list[Any]]:
    where = ["deleted = 0"]
    args: list[Any] = []
    if reverse:  # walking down: the marker is the upper bound
        marker, end_marker = end_marker, marker
    if marker:
        where.append("name > ?")
        args.append(marker)
    if end_marker:
        where.append("name < ?")
        args.append(end_marker)
    if prefix:
        where += ["name >= ?", "name < ?"]
        args += [prefix, _upper_bound(prefix)]
    return where, args


#: one object row as its JSON listing entry, rendered by SQLite: ``last_modified`` from the
#: normalized timestamp text (``%016.05f``: whole seconds, then five digits of fraction)
OBJECT_ENTRY_SQL = """json_object(
    'hash', etag,
    'last_modified', strftime('%Y-%m-%dT%H:%M:%S', CAST(created_at AS INTEGER), 'unixepoch')
        || '.' || substr(created_at, instr(created_at, '.') + 1, 5) || '0',
    'bytes', size, 'name', name, 'content_type', content_type)"""


def listing_entry(row: tuple[Any, ...]) -> str | None:
    """The JSON listing entry of an object row ``(name, created_at, size, content_type, etag,
    deleted, extra)``, stored with the row so a listing only joins texts; None for a deleted
    row (never listed)."""
    name, created_at, size, content_type, etag, deleted, extra = row[:7]
    if deleted:
        return None
    entry = {
        "hash": etag,
        "last_modified": timestamps.iso(created_at),
        "bytes": size,
        "name": name,
        "content_type": content_type,
    }
    if extra and extra != "{}":
        entry.update(orjson.loads(extra))
    return orjson.dumps(entry).decode()


def object_listing_json(
    conn: sqlite3.Connection,
    *,
    limit: int,
    marker: str = "",
    end_marker: str = "",
    prefix: str = "",
    reverse: bool = False,
) -> bytes:
    """A container's JSON listing (no delimiter) straight from SQLite: each row's entry was
    rendered when it was written (rows older than that column are rendered by the query), so
    thousands of rows never become Python dicts."""
    where, args = _bounds(marker, end_marker, prefix, reverse)
    order = "DESC" if reverse else "ASC"
    entry = (
        f"CAST(coalesce(entry, CASE extra WHEN '{{}}' THEN {OBJECT_ENTRY_SQL} ELSE"
        f" json_patch({OBJECT_ENTRY_SQL}, extra) END) AS BLOB)"
    )  # bytes as stored: no UTF-8 decoding of each entry, nor encoding of the whole
    cursor = conn.cursor()
    cursor.row_factory = None
    entries = [
        row[0]
        for row in cursor.execute(
            f"SELECT {entry} FROM object WHERE {' AND '.join(where)} ORDER BY name {order} LIMIT ?",
            [*args, limit],
        )
    ]
    return b"[" + b",".join(entries) + b"]"


def list_names(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    *,
    limit: int,
    marker: str = "",
    end_marker: str = "",
    prefix: str = "",
    delimiter: str = "",
    reverse: bool = False,
) -> list[dict[str, Any]]:
    """Rows (as dicts) and ``{"subdir": ...}`` entries, in name order (or reversed)."""
    results: list[dict[str, Any]] = []
    if reverse:
        marker, end_marker = end_marker, marker
    lower, upper = marker, end_marker
    lower_op = ">"
    names = [c.strip() for c in columns.split(",")]
    while len(results) < limit:
        where = ["deleted = 0"]
        args: list[Any] = []
        if lower:
            where.append(f"name {lower_op} ?")
            args.append(lower)
        if upper:
            where.append("name < ?")
            args.append(upper)
        if prefix:
            where.append("name >= ?")
            args.append(prefix)
            where.append("name < ?")
            args.append(_upper_bound(prefix))
        order = "DESC" if reverse else "ASC"
        wanted = limit - len(results)
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: a listing reads thousands of rows
        rows = [
            dict(zip(names, row, strict=True))
            for row in cursor.execute(
                f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
                f"ORDER BY name {order} LIMIT ?",
                [*args, wanted],
            )
        ]
        if not rows:
            break
        jumped = False
        for row in rows:
            name: str = row["name"]
            if delimiter:
                end = name.find(delimiter, len(prefix))
                if end >= 0:
                    subdir = name[: end + len(delimiter)]
                    results.append({"subdir": subdir})
                    # skip every name under this subdir
                    if reverse:
                        upper = subdir
                    else:
                        lower, lower_op = _upper_bound(subdir), ">="
                    jumped = True
                    break
            results.append(row)
            if len(results) >= limit:
                break
        if not jumped:
            last = rows[-1]["name"]
            if reverse:
                upper = last
            else:
                lower, lower_op = last, ">"
            if len(rows) < wanted:
                # the page ended short: nothing more matched
                break
    return results[:limit]
