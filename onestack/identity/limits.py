"""Unified limits: registered limits (a service's resources and their defaults) and project or
domain limits overriding them, in Keystone's flat enforcement model.

A limit always names a registered limit (same service, region and resource name); a registered
limit that limits refer to keeps its service, region and resource name (403 on a change or a
delete). Deleting a service, region, project or domain deletes the limits that name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.models import Domain, Limit, Project, Region, RegisteredLimit, Service

#: ``GET /v3/limits/model``: limits of a project ignore the project hierarchy.
MODEL = {
    "name": "flat",
    "description": "Limit enforcement and validation does not take project hierarchy into "
    "consideration.",
}
#: The identity of a registered limit: limits refer to it by these.
IDENTITY_FIELDS = ("service_id", "region_id", "resource_name")


@dataclass(frozen=True, slots=True)
class LimitFilters:
    """The ``GET /v3/limits`` and ``GET /v3/registered_limits`` filters (None: not filtered)."""

    service_id: str | None = None
    region_id: str | None = None
    resource_name: str | None = None
    project_id: str | None = None
    domain_id: str | None = None


async def _check_refs(session: AsyncSession, fields: dict[str, Any]) -> None:
    """The service, region, project and domain named must exist (400 otherwise, as Keystone)."""
    checks = (
        ("service_id", Service, "service"),
        ("region_id", Region, "region"),
        ("project_id", Project, "project"),
        ("domain_id", Domain, "domain"),
    )
    for key, model, kind in checks:
        value = fields.get(key)
        if value is not None and await session.get(model, value) is None:
            raise BadRequest(f"Invalid {key}: could not find {kind} {value}.")


def _same_identity(fields: dict[str, Any]) -> Any:
    """The condition matching registered limits with ``fields``' service, region and name."""
    region = fields.get("region_id")
    return (
        RegisteredLimit.service_id == fields["service_id"],
        RegisteredLimit.resource_name == fields["resource_name"],
        RegisteredLimit.region_id.is_(None)
        if region is None
        else RegisteredLimit.region_id == region,
    )


# -- registered limits ------------------------------------------------------------------------
async def get_registered_limit(session: AsyncSession, registered_limit_id: str) -> RegisteredLimit:
    row = await session.get(RegisteredLimit, registered_limit_id)
    if row is None:
        raise NotFound(f"Could not find registered limit for {registered_limit_id}.")
    return row


def _registered_filters(stmt: Select[Any], f: LimitFilters) -> Select[Any]:
    if f.service_id is not None:
        stmt = stmt.where(RegisteredLimit.service_id == f.service_id)
    if f.region_id is not None:
        stmt = stmt.where(RegisteredLimit.region_id == f.region_id)
    if f.resource_name is not None:
        stmt = stmt.where(RegisteredLimit.resource_name == f.resource_name)
    return stmt


async def list_registered_limits(
    session: AsyncSession, page: PageRequest, filters: LimitFilters
) -> list[RegisteredLimit]:
    stmt = _registered_filters(select(RegisteredLimit), filters)
    return await paginate(session, stmt, RegisteredLimit, page)


async def _assert_unique(session: AsyncSession, fields: dict[str, Any], skip: str = "") -> None:
    found = await session.execute(
        select(RegisteredLimit.id).where(*_same_identity(fields), RegisteredLimit.id != skip)
    )
    if found.first() is not None:
        raise Conflict(
            "Conflict occurred attempting to store registered_limit - Duplicate entry: "
            f"{fields['resource_name']} of service {fields['service_id']}"
            + (f" in region {fields['region_id']}." if fields.get("region_id") else ".")
        )


async def create_registered_limits(
    session: AsyncSession, items: list[dict[str, Any]]
) -> list[RegisteredLimit]:
    """Create every registered limit of ``items`` or none (409 on a duplicate)."""
    rows = []
    for fields in items:
        await _check_refs(session, fields)
        await _assert_unique(session, fields)
        row = RegisteredLimit(id=new_id(), **fields)
        session.add(row)
        await session.flush()
        rows.append(row)
    return rows


async def _referenced(session: AsyncSession, registered_limit_id: str) -> bool:
    found = await session.execute(
        select(Limit.id).where(Limit.registered_limit_id == registered_limit_id).limit(1)
    )
    return found.first() is not None


def _in_use(registered_limit_id: str) -> Forbidden:
    return Forbidden(
        f"Unable to update or delete registered limit {registered_limit_id} because there are "
        "project limits associated with it."
    )


async def update_registered_limit(
    session: AsyncSession, registered_limit_id: str, changes: dict[str, Any]
) -> RegisteredLimit:
    """Change a registered limit; its service, region or resource name only while no limit
    refers to it (403 otherwise)."""
    row = await get_registered_limit(session, registered_limit_id)
    moved = {k: v for k, v in changes.items() if k in IDENTITY_FIELDS and getattr(row, k) != v}
    if moved:
        if await _referenced(session, row.id):
            raise _in_use(row.id)
        await _check_refs(session, moved)
        current = {k: getattr(row, k) for k in IDENTITY_FIELDS}
        await _assert_unique(session, {**current, **moved}, skip=row.id)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row


async def delete_registered_limit(session: AsyncSession, registered_limit_id: str) -> None:
    """Delete a registered limit no limit refers to (403 otherwise)."""
    row = await get_registered_limit(session, registered_limit_id)
    if await _referenced(session, row.id):
        raise _in_use(row.id)
    await session.delete(row)


# -- limits -----------------------------------------------------------------------------------
async def get_limit(session: AsyncSession, limit_id: str) -> Limit:
    row = await session.get(Limit, limit_id)
    if row is None:
        raise NotFound(f"Could not find limit for {limit_id}.")
    return row


async def find_limit(session: AsyncSession, limit_id: str) -> Limit | None:
    return await session.get(Limit, limit_id)


async def list_limits(
    session: AsyncSession,
    page: PageRequest,
    filters: LimitFilters,
    *,
    visible_domain: str | None = None,
    visible_project: str | None = None,
) -> list[Limit]:
    """Limits matching ``filters``; with ``visible_domain`` only that domain's limits and those
    of its projects, with ``visible_project`` only that project's."""
    stmt = select(Limit)
    if filters.service_id or filters.region_id or filters.resource_name:
        registered = _registered_filters(select(RegisteredLimit.id), filters)
        stmt = stmt.where(Limit.registered_limit_id.in_(registered))
    if filters.project_id is not None:
        stmt = stmt.where(Limit.project_id == filters.project_id)
    if filters.domain_id is not None:
        stmt = stmt.where(Limit.domain_id == filters.domain_id)
    if visible_domain is not None:
        projects = select(Project.id).where(Project.domain_id == visible_domain)
        stmt = stmt.where(or_(Limit.domain_id == visible_domain, Limit.project_id.in_(projects)))
    if visible_project is not None:
        stmt = stmt.where(Limit.project_id == visible_project)
    return await paginate(session, stmt, Limit, page)


async def _registered_for(session: AsyncSession, fields: dict[str, Any]) -> RegisteredLimit:
    found = await session.execute(select(RegisteredLimit).where(*_same_identity(fields)))
    row = found.scalar_one_or_none()
    if row is None:
        raise Forbidden(
            "Unable to create a limit that has no corresponding registered limit: "
            f"{fields['resource_name']} of service {fields['service_id']}"
            + (f" in region {fields['region_id']}." if fields.get("region_id") else ".")
        )
    return row


async def create_limits(session: AsyncSession, items: list[dict[str, Any]]) -> list[Limit]:
    """Create every limit of ``items`` or none: each names a project or a domain and the
    service, region and resource of an existing registered limit (403 otherwise)."""
    rows = []
    for fields in items:
        if (fields.get("project_id") is None) == (fields.get("domain_id") is None):
            raise BadRequest("A limit must name exactly one of project_id and domain_id.")
        await _check_refs(session, fields)
        registered = await _registered_for(session, fields)
        owner = (
            Limit.project_id == fields["project_id"]
            if fields.get("project_id")
            else Limit.domain_id == fields["domain_id"]
        )
        taken = await session.execute(
            select(Limit.id).where(Limit.registered_limit_id == registered.id, owner)
        )
        if taken.first() is not None:
            raise Conflict("Conflict occurred attempting to store limit - Duplicate entry.")
        row = Limit(
            id=new_id(),
            registered_limit_id=registered.id,
            project_id=fields.get("project_id"),
            domain_id=fields.get("domain_id"),
            resource_limit=fields["resource_limit"],
            description=fields.get("description"),
        )
        row.registered = registered
        session.add(row)
        await session.flush()
        rows.append(row)
    return rows


async def update_limit(session: AsyncSession, limit_id: str, changes: dict[str, Any]) -> Limit:
    """Change a limit's ``resource_limit`` or ``description``."""
    row = await get_limit(session, limit_id)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row


async def delete_limit(session: AsyncSession, limit_id: str) -> None:
    await session.delete(await get_limit(session, limit_id))


async def project_domain(session: AsyncSession, project_id: str | None) -> str | None:
    """The domain of a limit's project (for policy targets)."""
    if project_id is None:
        return None
    found = await session.execute(select(Project.domain_id).where(Project.id == project_id))
    return found.scalar_one_or_none()
