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

from onestack.common.perf import gc_paused

__all__ = ["capacity_expr", "fetch_all", "gc_paused", "used_expr"]

#: Compiled statements by SQLAlchemy cache key (the statement's shape, not its values):
#: compiling the candidates query costs more than running it on a small database.
_compiled: dict[Any, Any] = {}
_MAX_COMPILED = 256


async def fetch_all(conn: AsyncConnection, statement: Any) -> list[tuple[Any, ...]]:
    if conn.dialect.name != "sqlite":
        return [tuple(row) for row in await conn.execute(statement)]
    key = statement._generate_cache_key()
    compiled = _compiled.get(key.key) if key is not None else None
    if compiled is None:
        compiled = statement.compile(dialect=conn.dialect, cache_key=key)
        if key is not None:
            if len(_compiled) >= _MAX_COMPILED:
                _compiled.clear()
            _compiled[key.key] = compiled
    params = compiled.construct_params(
        extracted_parameters=key.bindparams if key is not None else None
    )
    expanded = compiled.construct_expanded_state(params)
    raw = await conn.get_raw_connection()
    rows = await raw.driver_connection.execute_fetchall(
        expanded.statement, expanded.positional_parameters
    )
    return list(rows)


def capacity_expr(dialect: str) -> Any:
    """``int((total - reserved) * allocation_ratio)`` as the database computes it."""
    from sqlalchemy import BigInteger, cast, func

    from onestack.placement.models import inventories as inv

    raw = (inv.c.total - inv.c.reserved) * inv.c.allocation_ratio
    if dialect == "sqlite":  # CAST truncates, like int() (capacities are never negative)
        return cast(raw, BigInteger)
    return cast(func.floor(raw), BigInteger)


def used_expr() -> Any:
    """What is allocated of the inventory row's provider and class (a correlated subquery)."""
    from sqlalchemy import func, select

    from onestack.placement.models import allocations, inventories

    return (
        select(func.coalesce(func.sum(allocations.c.used), 0))
        .where(
            allocations.c.resource_provider_id == inventories.c.resource_provider_id,
            allocations.c.resource_class_id == inventories.c.resource_class_id,
        )
        .scalar_subquery()
    )
