"""The service catalog: regions, services and endpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.models import Endpoint, Region, RegisteredLimit, Service

INTERFACES = ("public", "internal", "admin")


def format_url(url: str, project_id: str | None) -> str | None:
    """An endpoint URL with ``$(project_id)s`` / ``%(tenant_id)s`` substituted, as Keystone
    does; None when the URL needs a project the token has not (left out of the catalog)."""
    if "(" not in url:
        return url
    try:
        return (
            url.replace("$(", "%(") % {"project_id": project_id, "tenant_id": project_id}
            if project_id
            else None
        )
    except (KeyError, ValueError, TypeError):
        return None


async def build_catalog(
    session: AsyncSession, only: set[str] | None = None, project_id: str | None = None
) -> list[dict[str, Any]]:
    """The catalog a token carries: enabled services with their enabled endpoints.

    With ``only`` (OS-EP-FILTER), just those endpoints and the services that have one of them.
    """
    services = (await session.execute(select(Service).where(Service.enabled.is_(True)))).scalars()
    stmt = select(Endpoint).where(Endpoint.enabled.is_(True))
    if only is not None:
        stmt = stmt.where(Endpoint.id.in_(only))
    endpoints = (await session.execute(stmt)).scalars()
    by_service: dict[str, list[dict[str, Any]]] = {}
    for ep in endpoints:
        url = format_url(ep.url, project_id)
        if url is None:
            continue
        by_service.setdefault(ep.service_id, []).append(
            {
                "id": ep.id,
                "interface": ep.interface,
                "region": ep.region_id,
                "region_id": ep.region_id,
                "url": url,
            }
        )
    return [
        {"endpoints": by_service.get(s.id, []), "id": s.id, "type": s.type, "name": s.name or ""}
        for s in services
        if only is None or s.id in by_service
    ]


def _apply(row: Any, changes: dict[str, Any], extra: dict[str, Any] | None) -> None:
    """Set column ``changes`` on ``row`` and merge free attributes into its ``extra``."""
    for key, value in changes.items():
        setattr(row, key, value)
    if extra:
        row.extra = {**(row.extra or {}), **extra}


# -- regions ----------------------------------------------------------------------------------
async def get_region(session: AsyncSession, region_id: str) -> Region:
    region = await session.get(Region, region_id)
    if region is None:
        raise NotFound(f"Could not find region: {region_id}.")
    return region


async def list_regions(
    session: AsyncSession, page: PageRequest, *, parent_region_id: str | None = None
) -> list[Region]:
    stmt = select(Region)
    if parent_region_id is not None:
        stmt = stmt.where(Region.parent_region_id == parent_region_id)
    return await paginate(session, stmt, Region, page)


async def _check_parent(session: AsyncSession, region_id: str, parent_id: str | None) -> None:
    """The parent must exist and must not be ``region_id`` or one of its descendants."""
    seen: set[str] = set()
    current = parent_id
    while current is not None:
        if current == region_id or current in seen:
            raise BadRequest(
                f"Circular reference or a repeated entry found in the region tree: {parent_id}."
            )
        seen.add(current)
        parent = await session.get(Region, current)
        if parent is None:
            raise BadRequest(f"The parent region {current} does not exist.")
        current = parent.parent_region_id


async def create_region(
    session: AsyncSession,
    *,
    region_id: str | None = None,
    parent_region_id: str | None = None,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> Region:
    region_id = region_id or new_id()
    if await session.get(Region, region_id) is not None:
        raise Conflict(f"Conflict occurred attempting to store region - Duplicate ID, {region_id}.")
    await _check_parent(session, region_id, parent_region_id)
    region = Region(id=region_id, parent_region_id=parent_region_id, extra=extra or {}, **fields)
    session.add(region)
    await session.flush()
    return region


async def update_region(
    session: AsyncSession, region_id: str, changes: dict[str, Any], extra: dict[str, Any]
) -> Region:
    region = await get_region(session, region_id)
    if "parent_region_id" in changes:
        await _check_parent(session, region_id, changes["parent_region_id"])
    _apply(region, changes, extra)
    await session.flush()
    return region


async def _subtree(session: AsyncSession, region_id: str) -> list[str]:
    """``region_id`` and all its descendants, parents before children."""
    order = [region_id]
    frontier = [region_id]
    while frontier:
        rows = await session.execute(select(Region.id).where(Region.parent_region_id.in_(frontier)))
        frontier = [r for r in rows.scalars() if r not in order]
        order += frontier
    return order


async def delete_region(session: AsyncSession, region_id: str) -> None:
    """Delete a region and its child regions, unless one of them still has endpoints."""
    await get_region(session, region_id)
    tree = await _subtree(session, region_id)
    used = (await session.execute(select(Endpoint.id).where(Endpoint.region_id.in_(tree)))).first()
    if used:
        raise Forbidden(
            f"Unable to delete region {region_id}: it or one of its child regions "
            "still has endpoints."
        )
    limited = await session.execute(
        select(RegisteredLimit.id).where(RegisteredLimit.region_id.in_(tree))
    )
    if limited.first():
        raise Forbidden(
            f"Unable to delete region {region_id}: registered limits still name it or one of "
            "its child regions; delete them first."
        )
    for rid in reversed(tree):
        await session.execute(delete(Region).where(Region.id == rid))


# -- services ---------------------------------------------------------------------------------
async def get_service(session: AsyncSession, service_id: str) -> Service:
    service = await session.get(Service, service_id)
    if service is None:
        raise NotFound(f"Could not find service: {service_id}.")
    return service


async def list_services(
    session: AsyncSession, page: PageRequest, *, type: str | None = None, name: str | None = None
) -> list[Service]:
    stmt = select(Service)
    if type is not None:
        stmt = stmt.where(Service.type == type)
    if name is not None:
        stmt = stmt.where(Service.name == name)
    return await paginate(session, stmt, Service, page)


async def create_service(
    session: AsyncSession, *, extra: dict[str, Any] | None = None, **fields: Any
) -> Service:
    service = Service(id=new_id(), extra=extra or {}, **fields)
    session.add(service)
    await session.flush()
    return service


async def update_service(
    session: AsyncSession, service_id: str, changes: dict[str, Any], extra: dict[str, Any]
) -> Service:
    service = await get_service(session, service_id)
    _apply(service, changes, extra)
    await session.flush()
    return service


async def delete_service(session: AsyncSession, service_id: str) -> None:
    """Delete a service and every endpoint of it; refused (403) while registered limits name
    it, so no limit disappears behind its owner's back."""
    service = await get_service(session, service_id)
    limited = await session.execute(
        select(RegisteredLimit.id).where(RegisteredLimit.service_id == service_id)
    )
    if limited.first():
        raise Forbidden(
            f"Unable to delete service {service_id}: registered limits still name it; "
            "delete them first."
        )
    await session.execute(delete(Endpoint).where(Endpoint.service_id == service_id))
    await session.delete(service)


# -- endpoints --------------------------------------------------------------------------------
async def get_endpoint(session: AsyncSession, endpoint_id: str) -> Endpoint:
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"Could not find endpoint: {endpoint_id}.")
    return endpoint


async def list_endpoints(
    session: AsyncSession,
    page: PageRequest,
    *,
    service_id: str | None = None,
    interface: str | None = None,
    region_id: str | None = None,
) -> list[Endpoint]:
    stmt = select(Endpoint)
    if service_id is not None:
        stmt = stmt.where(Endpoint.service_id == service_id)
    if interface is not None:
        stmt = stmt.where(Endpoint.interface == interface)
    if region_id is not None:
        stmt = stmt.where(Endpoint.region_id == region_id)
    return await paginate(session, stmt, Endpoint, page)


async def _check_endpoint_refs(session: AsyncSession, fields: dict[str, Any]) -> None:
    """The service and region an endpoint names must exist (400 otherwise, as Keystone)."""
    if "service_id" in fields and await session.get(Service, fields["service_id"]) is None:
        raise BadRequest(f"Invalid service_id: could not find service {fields['service_id']}.")
    region_id = fields.get("region_id")
    if region_id is not None and await session.get(Region, region_id) is None:
        raise BadRequest(f"Invalid region_id: could not find region {region_id}.")


async def _ensure_region(session: AsyncSession, fields: dict[str, Any]) -> None:
    """For the legacy ``region`` field: create the named region if it does not exist."""
    if (
        fields.pop("ensure_region", False)
        and await session.get(Region, fields["region_id"]) is None
    ):
        await create_region(session, region_id=fields["region_id"])


async def create_endpoint(
    session: AsyncSession, *, extra: dict[str, Any] | None = None, **fields: Any
) -> Endpoint:
    await _ensure_region(session, fields)
    await _check_endpoint_refs(session, fields)
    endpoint = Endpoint(id=new_id(), extra=extra or {}, **fields)
    session.add(endpoint)
    await session.flush()
    return endpoint


async def update_endpoint(
    session: AsyncSession, endpoint_id: str, changes: dict[str, Any], extra: dict[str, Any]
) -> Endpoint:
    endpoint = await get_endpoint(session, endpoint_id)
    await _ensure_region(session, changes)
    await _check_endpoint_refs(session, changes)
    _apply(endpoint, changes, extra)
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    await session.delete(await get_endpoint(session, endpoint_id))
