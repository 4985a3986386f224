"""Fast row fetching for the big reads (allocation candidates, summaries, usages).

SQLAlchemy's result objects cost several microseconds per row; thousands of inventory rows per
request make that the larger part of an allocation candidates query. On SQLite the statement,
compiled by SQLAlchemy for the dialect, runs on the transaction's own driver connection and
returns plain tuples; other databases go through SQLAlchemy as usual. Only for columns whose
values the driver already returns as Python wants them (integers, floats, strings).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def fetch_all(conn: AsyncConnection, statement: Any) -> list[tuple[Any, ...]]:
    if conn.dialect.name != "sqlite":
        return [tuple(row) for row in await conn.execute(statement)]
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup or ()]
    raw = await conn.get_raw_connection()
    rows = await raw.driver_connection.execute_fetchall(compiled.string, args)
    return list(rows)
