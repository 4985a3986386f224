"""Neutron's list conventions: a filter on every attribute (repeat a key for "any of"), tag
filters, ``fields=``, ``sort_key``/``sort_dir`` pairs, ``limit``/``marker`` with
``<collection>_links``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Select, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.errors import APIError, BadRequest
from onestack.network.attributes import Resource, boolean
from onestack.network.errors import not_found
from onestack.network.models import Tag

_PAGING = {"limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields"}
_TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


@dataclass(slots=True)
class ListQuery:
    filters: dict[str, list[str]]
    fields: list[str]
    sort: list[tuple[str, str]]
    limit: int | None
    marker: str | None
    page_reverse: bool


def parse(res: Resource, request: Request, max_limit: int) -> ListQuery:
    params = request.query_params
    filters: dict[str, list[str]] = {}
    for key in params:
        if key in _PAGING:
            continue
        filters[key] = params.getlist(key)
    fields = [f for raw in params.getlist("fields") for f in raw.split(",") if f]
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise BadRequest("The number of sort_keys and sort_dirs must be same")
    sort: list[tuple[str, str]] = []
    for i, key in enumerate(keys):
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise BadRequest(
                f"{direction} is an invalid value for sort_dir, valid values are 'asc' and 'desc'"
            )
        attr = res.attrs.get(key)
        if attr is None or attr.column is None or not attr.sort:
            raise BadRequest(f"{key} is an invalid attribute for sort_keys")
        sort.append((attr.column, direction))
    limit: int | None = None
    if params.get("limit"):
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest(
                f"Limit must be an integer 0 or greater and not '{params['limit']}'"
            ) from None
        if limit < 0:
            raise BadRequest(f"Limit must be an integer 0 or greater and not '{limit}'")
        limit = (min(limit, max_limit) if max_limit > 0 else limit) if limit else None
    elif max_limit > 0:
        limit = max_limit
    reverse = boolean(params.get("page_reverse", "false")) if params.get("page_reverse") else False
    return ListQuery(filters, fields, sort, limit, params.get("marker") or None, reverse)


def apply_filters(
    res: Resource,
    stmt: Select[Any],
    filters: Mapping[str, Sequence[str]],
    special: Mapping[str, Callable[[Select[Any], Sequence[str]], Select[Any]]] | None = None,
) -> Select[Any]:
    """``?name=a&name=b&admin_state_up=true&tags=x,y``: each known attribute an IN filter;
    unknown keys are ignored, as Neutron does without filter validation."""
    model = res.model
    for key, raw_values in filters.items():
        if special and key in special:
            stmt = special[key](stmt, raw_values)
            continue
        if key in _TAG_FILTERS and res.tags:
            stmt = _tag_filter(model, stmt, key, raw_values)
            continue
        attr = res.attrs.get(key)
        if attr is None or attr.column is None or not attr.filter:
            continue
        column = getattr(model, attr.column)
        values = [_coerce(column, v) for v in raw_values]
        if any(v is None for v in values):
            stmt = stmt.where(
                or_(column.is_(None), column.in_([v for v in values if v is not None]))
            )
        else:
            stmt = stmt.where(column.in_(values))
    return stmt


def _coerce(column: Any, value: str) -> Any:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        try:
            return boolean(value)
        except APIError:
            raise BadRequest(f"'{value}' cannot be converted to boolean") from None
    if kind is int:
        if value in ("", "None"):
            return None
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"'{value}' is not an integer") from None
    if value == "" and column.nullable:
        return None
    return value


def _tag_filter(model: Any, stmt: Select[Any], key: str, raw: Sequence[str]) -> Select[Any]:
    tags = [t for value in raw for t in value.split(",") if t]
    if not tags:
        return stmt
    has = select(Tag.resource_id).where(Tag.tag.in_(tags))
    if key in ("tags", "not-tags"):
        has = has.group_by(Tag.resource_id).having(func.count() == len(set(tags)))
    clause = model.id.in_(has)
    return stmt.where(clause if not key.startswith("not-") else not_(clause))


async def paginate(
    session: AsyncSession, res: Resource, stmt: Select[Any], query: ListQuery
) -> list[Any]:
    """Order by the sort keys plus id, resume after the marker, up to the limit."""
    model = res.model
    sort = [(c, d) for c, d in query.sort if c != "id"]
    id_dir = next((d for c, d in query.sort if c == "id"), "asc")
    keys = [(getattr(model, c), d) for c, d in sort] + [(model.id, id_dir)]
    if query.page_reverse:
        keys = [(c, "desc" if d == "asc" else "asc") for c, d in keys]
    if query.marker:
        marker = (await session.execute(select(model).where(model.id == query.marker))).scalar()
        if marker is None:
            raise not_found("NotFound", "Marker", query.marker)
        clauses = []
        for i, (column, direction) in enumerate(keys):
            value = getattr(marker, column.key)
            equal = [c == getattr(marker, c.key) for c, _ in keys[:i]]
            beyond = column < value if direction == "desc" else column > value
            clauses.append(and_(*equal, beyond))
        stmt = stmt.where(or_(*clauses))
    stmt = stmt.order_by(*[c.desc() if d == "desc" else c.asc() for c, d in keys])
    if query.limit:
        stmt = stmt.limit(query.limit)
    rows = list((await session.execute(stmt)).scalars())
    if query.page_reverse:
        rows.reverse()
    return rows


def links(request: Request, res: Resource, rows: Sequence[Any], query: ListQuery) -> dict[str, Any]:
    """``<collection>_links``: next after a full page, previous before a page after a marker."""
    if not query.limit or not rows:
        return {}
    base = str(request.url).split("?", 1)[0]
    params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")
    ]
    out = []
    if len(rows) >= query.limit:
        out.append(
            {"rel": "next", "href": f"{base}?{urlencode([*params, ('marker', rows[-1].id)])}"}
        )
    if query.marker:
        prev = [*params, ("marker", rows[0].id), ("page_reverse", "True")]
        out.append({"rel": "previous", "href": f"{base}?{urlencode(prev)}"})
    return {f"{res.collection}_links": out} if out else {}


def select_fields(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    wanted = list(fields)
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted}
