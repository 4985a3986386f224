"""What every resource module shares: standard attributes in views, tags, revision checks,
ownership rules and the notification of every change."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.network.attributes import Resource
from onestack.network.errors import PreconditionFailed, bad_request, forbidden
from onestack.network.models import Tag

_IF_MATCH = re.compile(r"^revision_number=(\d+)$")


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def standard(row: Any, tags: Iterable[str] | None = None) -> dict[str, Any]:
    """id, name, description, project/tenant, timestamps, revision and tags of ``row``."""
    out = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "revision_number": row.revision_number,
    }
    if tags is not None:
        out["tags"] = sorted(tags)
    return out


def timestamps(row: Any) -> dict[str, Any]:
    return {
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "revision_number": row.revision_number,
    }


async def tags_of(session: AsyncSession, ids: Iterable[str]) -> dict[str, list[str]]:
    wanted = list(ids)
    found: dict[str, list[str]] = {i: [] for i in wanted}
    if not wanted:
        return found
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(wanted[start : start + 500]))
        )
        for rid, tag in rows:
            found[rid].append(tag)
    return found


async def drop_tags(session: AsyncSession, resource_id: str) -> None:
    await session.execute(delete(Tag).where(Tag.resource_id == resource_id))


def check_revision(if_match: str | None, row: Any) -> None:
    """``If-Match: revision_number=N``: 412 unless the row is at revision N."""
    if not if_match:
        return
    wanted = []
    for part in if_match.split(","):
        found = _IF_MATCH.match(part.strip())
        if not found:
            raise bad_request(
                f"If-Match header {if_match!r} is not of the form 'revision_number=<int>'."
            )
        wanted.append(int(found[1]))
    if row.revision_number not in wanted:
        raise PreconditionFailed(
            f"Constrained to {if_match}, but current revision is {row.revision_number}."
        )


def bump(row: Any) -> None:
    """A change: the revision number goes up and updated_at moves."""
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


def assign(row: Any, res: Resource, values: Mapping[str, Any]) -> None:
    """Copy the column-backed ``values`` onto ``row``."""
    for name, value in values.items():
        attr = res.attrs.get(name)
        if attr is not None and attr.column is not None and attr.column != "id":
            setattr(row, attr.column, value)


def owner_for(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, or (admins) the one named."""
    wanted = values.pop("project_id", None)
    if wanted and wanted != ctx.project_id:
        if not mgr.is_admin(ctx):
            raise bad_request(
                "Specifying 'project_id' or 'tenant_id' other than the "
                "authenticated project in request requires admin privileges"
            )
        return str(wanted)
    return ctx.project_id or ""


def enforce_attrs(
    mgr: Any,
    ctx: RequestContext,
    action: str,
    member: str,
    values: Mapping[str, Any],
    guarded: Iterable[str],
    target: Mapping[str, Any],
) -> None:
    """Neutron's attribute policies: ``create_network:shared`` when ``shared`` is given."""
    for name in guarded:
        if name in values:
            rule = f"{action}_{member}:{name}"
            if not mgr.check(ctx, rule, target):
                raise forbidden(f"(rule:{rule}) is disallowed by policy")


def event(member: str, action: str) -> str:
    return f"{member}.{action}.end"


async def notify(
    mgr: Any, ctx: RequestContext, member: str, action: str, payload: dict[str, Any]
) -> None:
    await mgr.notify(ctx, event(member, action), payload)
