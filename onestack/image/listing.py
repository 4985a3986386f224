"""GET /v2/images: visibility, filters, sorting and marker pagination, as Glance lists.

A caller sees public images, community images (only its own unless it asks for
``visibility=community`` or ``all``), its own images, and shared images its project is a member
of with the requested ``member_status`` (default accepted). Admins see every image. Killed
images are never listed; hidden ones only with ``os_hidden=true``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.image.models import Image, ImageMember, ImageProperty, ImageTag, table
from onestack.image.records import COLUMNS, Record, attach_extras, is_member, visible
from onestack.image.schemas import VISIBILITIES

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
TIME_OPS = {"gt", "gte", "lt", "lte", "eq", "neq"}
LIST_OPS = ("name", "id", "status", "container_format", "disk_format")
#: Each property filter is a subquery the database plans jointly with the others: bounded.
MAX_PROPERTY_FILTERS = 32
NOT_FILTERS = {"limit", "marker", "sort_key", "sort_dir", "sort", "member_status", "tag"}
#: Columns compared by equality when named as a filter.
COLUMN_FILTERS = (
    "owner",
    "checksum",
    "os_hash_value",
    "min_ram",
    "min_disk",
    "virtual_size",
    "os_hash_algo",
)
_NULL_DEFAULT: dict[str, Any] = {"name": "", "container_format": "", "disk_format": "", "size": 0}


@dataclass
class Query:
    limit: int
    marker: str | None
    sort: list[tuple[str, str]]
    member_status: str
    visibility: str | None
    conditions: list[ColumnElement[bool]]


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise BadRequest(
            f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'."
        )
    return lowered == "true"


def _split_op(value: str) -> tuple[str, str]:
    op, sep, rest = value.partition(":")
    if sep and op in TIME_OPS | {"in"}:
        return op, rest
    return "eq", value


def _quoted_list(value: str) -> list[str]:
    """``a,"b,c",d`` -> ["a", "b,c", "d"]."""
    try:
        row = next(csv.reader([value], skipinitialspace=True), [])
    except csv.Error:
        raise BadRequest(f"Invalid list of values: {value[:80]!r}") from None
    return [item.strip() for item in row]


#: Integer filters compare with BIGINT columns: a value beyond them matches no backend.
_BIGINT = 2**63


def _integer(name: str, value: str, message: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(message) from None
    if not -_BIGINT <= number < _BIGINT:
        raise BadRequest(f"Invalid value for '{name}' filter: out of range.")
    return number


def _parse_time(name: str, value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f'Bad "{name}" query filter format. Use ISO 8601 DateTime notation.'
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
        "eq": column == value,
        "neq": column != value,
    }[op]


def _sorting(params: Any) -> list[tuple[str, str]]:
    keys: list[str] = []
    dirs: list[str] = []
    if "sort" in params:
        if "sort_key" in params or "sort_dir" in params:
            raise BadRequest("Old and new sorting syntax cannot be combined")
        for part in params["sort"].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(key.strip())
            dirs.append((direction or "desc").strip())
    else:
        keys = [k.strip() for k in params.getlist("sort_key")]
        dirs = [d.strip() for d in params.getlist("sort_dir")]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise BadRequest("Number of sort dirs does not match the number of sort keys")
    for key in keys:
        if key not in SORT_KEYS:
            raise BadRequest(
                f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}."
            )
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}")
    if not keys:
        keys = ["created_at"]
    default_dir = dirs[0] if len(dirs) == 1 else "desc"
    if len(dirs) <= 1:
        dirs = [default_dir] * len(keys)
    sort = list(zip(keys, dirs, strict=True))
    for key in ("created_at", "id"):
        if key not in keys:
            sort.append((key, default_dir))
    return sort


def parse(mgr: ImageManager, params: Any) -> Query:
    """Read the query string of GET /v2/images (``params``: a Starlette QueryParams)."""
    limit = mgr.conf.limit_param_default
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest("limit param must be an integer") from None
        if limit < 0:
            raise BadRequest("limit param must be positive")
    limit = min(limit, mgr.conf.api_limit_max)
    member_status = params.get("member_status", "accepted")
    if member_status not in MEMBER_STATUSES:
        raise BadRequest(f"Invalid status: {member_status}")
    visibility = params.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise BadRequest(f"Invalid visibility value: {visibility}")
    if "changes-since" in params:
        raise BadRequest('The "changes-since" filter is no longer available on v2.')

    c = table(Image).c
    conditions: list[ColumnElement[bool]] = [c.status != "killed"]
    conditions.append(c.os_hidden == _bool("os_hidden", params.get("os_hidden", "false")))
    free_filters = 0
    for name, value in params.multi_items():
        if name in NOT_FILTERS or name in ("visibility", "os_hidden", "changes-since"):
            continue
        if name == "protected":
            conditions.append(c.protected == _bool("protected", value))
        elif name in ("size_min", "size_max"):
            number = _integer(name, value, "Unable to filter on a range with a non-numeric value.")
            conditions.append(c.size >= number if name == "size_min" else c.size <= number)
        elif name in ("created_at", "updated_at"):
            op, raw = _split_op(value)
            if op == "in":
                raise BadRequest(f"Unable to filter by unknown operator '{op}'.")
            conditions.append(_compare(c[name], op, _parse_time(name, raw)))
        elif name in LIST_OPS:
            op, raw = _split_op(value)
            if op == "in":
                conditions.append(c[name].in_(_quoted_list(raw)))
            elif op == "eq":
                conditions.append(c[name] == raw)
            else:
                raise BadRequest(f"Unable to filter by unknown operator '{op}'.")
        elif name in COLUMN_FILTERS:
            column = c[name]
            if name in ("min_ram", "min_disk", "virtual_size"):
                message = f"Invalid value '{value[:80]}' for '{name}' filter."
                conditions.append(column == _integer(name, value, message))
            else:
                conditions.append(column == value)
        else:
            free_filters += 1
            if free_filters > MAX_PROPERTY_FILTERS:
                raise BadRequest(f"At most {MAX_PROPERTY_FILTERS} property filters are allowed.")
            conditions.append(
                exists().where(
                    ImageProperty.image_id == c.id,
                    ImageProperty.name == name,
                    ImageProperty.value == value,
                )
            )
    tags = {tag.strip() for tag in params.getlist("tag")}
    if tags:  # one grouped subquery for any number of tags (a join each is exponential)
        having_all = (
            select(ImageTag.image_id)
            .where(ImageTag.value.in_(tags))
            .group_by(ImageTag.image_id)
            .having(func.count() == len(tags))
        )
        conditions.append(c.id.in_(having_all))
    return Query(
        limit, params.get("marker"), _sorting(params), member_status, visibility, conditions
    )


def _access(mgr: ImageManager, ctx: RequestContext, q: Query) -> list[ColumnElement[bool]]:
    c = table(Image).c
    project = ctx.project_id
    out: list[ColumnElement[bool]] = []
    if not mgr.is_admin(ctx):
        member_cond = [ImageMember.image_id == c.id, ImageMember.member == project]
        if q.member_status != "all":
            member_cond.append(ImageMember.status == q.member_status)
        shared = and_(c.visibility == "shared", exists().where(*member_cond))
        allowed = [c.visibility.in_(("public", "community")), shared]
        if project is not None:
            allowed.append(c.owner == project)
        out.append(or_(*allowed) if project is not None else or_(*allowed[:1]))
    if q.visibility is not None:
        if q.visibility != "all":
            out.append(c.visibility == q.visibility)
    elif project is None:
        out.append(c.visibility != "community")
    else:
        out.append(or_(c.owner == project, c.visibility != "community"))
    return out


def _sort_column(key: str) -> Any:
    column = table(Image).c[key]
    if key in _NULL_DEFAULT:
        return case((column.is_(None), literal(_NULL_DEFAULT[key])), else_=column)
    return column


def _after(marker: Any, sort: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """Rows strictly after the marker row in the (key, direction) order."""
    clauses = []
    for i, (key, direction) in enumerate(sort):
        equal = []
        for prev, _ in sort[:i]:
            value = getattr(marker, prev)
            equal.append(
                _sort_column(prev) == (_NULL_DEFAULT.get(prev) if value is None else value)
            )
        value = getattr(marker, key)
        if value is None:
            value = _NULL_DEFAULT.get(key)
        column = _sort_column(key)
        clauses.append(and_(*equal, column < value if direction == "desc" else column > value))
    return or_(*clauses) if clauses else true()


async def list_images(
    mgr: ImageManager, session: AsyncSession, ctx: RequestContext, q: Query
) -> tuple[list[Record], bool]:
    """One page of images (with extras) and whether a next page may exist."""
    stmt = select(*COLUMNS).where(*q.conditions, *_access(mgr, ctx, q))
    if q.marker is not None:
        marker = (
            await session.execute(select(*COLUMNS).where(table(Image).c.id == q.marker))
        ).first()
        member = marker is not None and await is_member(session, q.marker, ctx.project_id)
        if marker is None or not visible(mgr, ctx, marker, member):
            raise BadRequest(f"No image found with ID {q.marker}")
        stmt = stmt.where(_after(marker, q.sort))
    order = [_sort_column(k).desc() if d == "desc" else _sort_column(k).asc() for k, d in q.sort]
    stmt = stmt.order_by(*order).limit(q.limit)
    if q.limit == 0:
        stmt = stmt.where(false())
    rows = (await session.execute(stmt)).all()
    found = [Record(row) for row in rows]
    await attach_extras(session, found)
    full_page = bool(found) and len(found) == q.limit
    records = _policy_filter(mgr, ctx, found)
    return records, full_page


def _policy_filter(mgr: ImageManager, ctx: RequestContext, found: list[Record]) -> list[Record]:
    """Keep the images ``get_image`` allows (one decision per owner/visibility kind)."""
    decisions: dict[tuple[Any, str, bool], bool] = {}
    kept = []
    project = ctx.project_id
    for record in found:
        row = record.row
        member = row.visibility == "shared" and row.owner != project
        record.is_member = member
        key = (row.owner, row.visibility, member)
        allowed = decisions.get(key)
        if allowed is None:
            tgt = {
                "project_id": row.owner,
                "owner": row.owner,
                "visibility": row.visibility,
                "member_id": project if member else None,
            }
            allowed = decisions[key] = mgr.policy.check(ctx, "get_image", tgt)
        if allowed:
            kept.append(record)
    return kept


def links(params: Any, records: Sequence[Record], full_page: bool) -> dict[str, str]:
    """``first``, ``schema`` and (after a full page) ``next``, relative as Glance writes them."""
    items = [(k, v) for k, v in params.multi_items() if k != "marker"]
    query = urlencode(items)
    out = {
        "first": f"/v2/images?{query}" if query else "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if full_page and records:
        out["next"] = "/v2/images?" + urlencode([*items, ("marker", records[-1].id)])
    return out
