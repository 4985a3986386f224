"""Listing queries shared by account and container databases: prefix, marker, end_marker,
limit, delimiter (with ``subdir`` rows) and reverse."""

from __future__ import annotations

import sqlite3
from typing import Any


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


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
