"""limit/marker pagination and sorting, the way OpenStack list APIs do it.

``paginate`` orders a query by the requested sort keys plus the id (so the order is total) and
resumes after the marker row; ``page_links`` renders the ``links`` a list response carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.errors import BadRequest, NotFound


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int | None
    marker: str | None
    sort: tuple[tuple[str, str], ...]  # (key, "asc"|"desc")


def page_request(
    params: Mapping[str, str],
    *,
    max_limit: int,
    sortable: Sequence[str] = (),
    default_sort: tuple[tuple[str, str], ...] = (),
) -> PageRequest:
    """Read ``limit``, ``marker``, ``sort_key``/``sort_dir`` (or ``sort=k:dir,...``)."""
    limit: int | None = None
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest("limit must be an integer.") from None
        if limit < 0:
            raise BadRequest("limit must be a non-negative integer.")
    limit = min(limit, max_limit) if limit is not None else max_limit
    sort: list[tuple[str, str]] = []
    if params.get("sort"):
        for part in params["sort"].split(","):
            key, _, direction = part.partition(":")
            sort.append((key.strip(), (direction or "asc").strip()))
    elif params.get("sort_key"):
        keys = params["sort_key"].split(",")
        dirs = (params.get("sort_dir") or "asc").split(",")
        sort = [
            (k.strip(), (dirs[i] if i < len(dirs) else dirs[-1]).strip())
            for i, k in enumerate(keys)
        ]
    for key, direction in sort:
        if key not in sortable:
            raise BadRequest(f"Invalid sort key {key!r}; valid keys are {', '.join(sortable)}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}; use asc or desc.")
    return PageRequest(limit, params.get("marker") or None, tuple(sort) or default_sort)


async def paginate(
    session: AsyncSession, stmt: Select[Any], model: Any, page: PageRequest
) -> list[Any]:
    """Run ``stmt`` (selecting ``model``) ordered, after the marker, up to the limit."""
    keys = [(getattr(model, k), d) for k, d in page.sort if k != "id"]
    id_dir = next((d for k, d in page.sort if k == "id"), "asc")
    keys.append((model.id, id_dir))
    if page.marker:
        marker = (await session.execute(select(model).where(model.id == page.marker))).scalar()
        if marker is None:
            raise NotFound(f"Marker {page.marker} could not be found.")
        stmt = stmt.where(_after(marker, keys))
    stmt = stmt.order_by(*[c.desc() if d == "desc" else c.asc() for c, d in keys])
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    return list((await session.execute(stmt)).scalars())


def _after(marker: Any, keys: list[tuple[Any, str]]) -> Any:
    """Rows strictly after ``marker`` in the (key, direction) order."""
    clauses = []
    for i, (column, direction) in enumerate(keys):
        value = getattr(marker, column.key)
        equal = [c == getattr(marker, c.key) for c, _ in keys[:i]]
        beyond = column < value if direction == "desc" else column > value
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def page_links(request: Request, items: Sequence[Any], page: PageRequest) -> dict[str, Any]:
    """``{"self", "previous", "next"}``: next resumes after the last item of a full page."""
    self_url = str(request.url)
    next_url = None
    if page.limit and len(items) >= page.limit and items:
        params = dict(request.query_params)
        last = items[-1]
        params["marker"] = last["id"] if isinstance(last, Mapping) else last.id
        next_url = f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"
    return {"self": self_url, "previous": None, "next": next_url}
