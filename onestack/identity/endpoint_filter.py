"""OS-EP-FILTER: endpoints and endpoint groups associated with projects.

A project with associated endpoints (directly or through endpoint groups) gets a token catalog
holding only those endpoints; any other project gets the whole catalog.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import BadRequest, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.catalog import get_endpoint
from onestack.identity.models import (
    Endpoint,
    EndpointGroup,
    Project,
    ProjectEndpoint,
    ProjectEndpointGroup,
)
from onestack.identity.resource import get_project

#: The endpoint attributes an endpoint group may filter on.
FILTER_KEYS = ("interface", "service_id", "region_id")


# -- endpoints of a project -------------------------------------------------------------------
async def add_endpoint(session: AsyncSession, project_id: str, endpoint_id: str) -> None:
    """Associate an endpoint with a project (idempotent)."""
    await get_project(session, project_id)
    await get_endpoint(session, endpoint_id)
    await session.merge(ProjectEndpoint(project_id=project_id, endpoint_id=endpoint_id))
    await session.flush()


async def _project_endpoint(
    session: AsyncSession, project_id: str, endpoint_id: str
) -> ProjectEndpoint:
    await get_project(session, project_id)
    await get_endpoint(session, endpoint_id)
    row = await session.get(ProjectEndpoint, (project_id, endpoint_id))
    if row is None:
        raise NotFound(f"Endpoint {endpoint_id} not found in project {project_id}.")
    return row


async def check_endpoint(session: AsyncSession, project_id: str, endpoint_id: str) -> None:
    await _project_endpoint(session, project_id, endpoint_id)


async def remove_endpoint(session: AsyncSession, project_id: str, endpoint_id: str) -> None:
    await session.delete(await _project_endpoint(session, project_id, endpoint_id))


def _matches(filters: dict[str, Any]) -> ColumnElement[bool]:
    """The endpoints an endpoint group's ``filters`` select."""
    return and_(true(), *(getattr(Endpoint, key) == value for key, value in filters.items()))


async def _project_condition(session: AsyncSession, project_id: str) -> ColumnElement[bool]:
    """The endpoints associated with a project, directly or through its endpoint groups."""
    groups = await session.execute(
        select(EndpointGroup.filters)
        .join(ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id)
        .where(ProjectEndpointGroup.project_id == project_id)
    )
    direct = select(ProjectEndpoint.endpoint_id).where(ProjectEndpoint.project_id == project_id)
    return or_(Endpoint.id.in_(direct), *(_matches(f) for f in groups.scalars()), false())


async def list_endpoints(
    session: AsyncSession, project_id: str, page: PageRequest
) -> list[Endpoint]:
    """The endpoints associated with a project, directly or through endpoint groups."""
    await get_project(session, project_id)
    stmt = select(Endpoint).where(await _project_condition(session, project_id))
    return await paginate(session, stmt, Endpoint, page)


async def endpoint_ids(session: AsyncSession, project_id: str) -> set[str]:
    """The ids of the endpoints a token scoped to ``project_id`` may see (empty: no filter)."""
    rows = await session.execute(
        select(Endpoint.id).where(await _project_condition(session, project_id))
    )
    return set(rows.scalars())


async def list_projects(
    session: AsyncSession, endpoint_id: str, page: PageRequest
) -> list[Project]:
    """The projects an endpoint is directly associated with."""
    await get_endpoint(session, endpoint_id)
    direct = select(ProjectEndpoint.project_id).where(ProjectEndpoint.endpoint_id == endpoint_id)
    return await paginate(session, select(Project).where(Project.id.in_(direct)), Project, page)


# -- endpoint groups --------------------------------------------------------------------------
def check_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Endpoint group filters: a mapping of known endpoint attributes to strings (empty, as in
    Keystone: the group selects every endpoint)."""
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            raise BadRequest(
                f"Invalid input for field 'filters': {key} is not a valid filter; "
                f"expected one of {', '.join(FILTER_KEYS)}."
            )
        if not isinstance(value, str):
            raise BadRequest(f"Invalid input for field 'filters': {key} must be a string.")
    return filters


async def get_group(session: AsyncSession, group_id: str) -> EndpointGroup:
    group = await session.get(EndpointGroup, group_id)
    if group is None:
        raise NotFound(f"Could not find endpoint group: {group_id}.")
    return group


async def list_groups(
    session: AsyncSession, page: PageRequest, *, name: str | None = None
) -> list[EndpointGroup]:
    stmt = select(EndpointGroup)
    if name is not None:
        stmt = stmt.where(EndpointGroup.name == name)
    return await paginate(session, stmt, EndpointGroup, page)


async def create_group(
    session: AsyncSession, *, name: str, filters: dict[str, Any], description: str | None = None
) -> EndpointGroup:
    group = EndpointGroup(
        id=new_id(), name=name, description=description, filters=check_filters(filters)
    )
    session.add(group)
    await session.flush()
    return group


async def update_group(
    session: AsyncSession, group_id: str, changes: dict[str, Any]
) -> EndpointGroup:
    group = await get_group(session, group_id)
    if "filters" in changes:
        check_filters(changes["filters"])
    for key, value in changes.items():
        setattr(group, key, value)
    await session.flush()
    return group


async def delete_group(session: AsyncSession, group_id: str) -> None:
    await session.delete(await get_group(session, group_id))


async def group_endpoints(
    session: AsyncSession, group_id: str, page: PageRequest
) -> list[Endpoint]:
    """The endpoints an endpoint group's filters select."""
    group = await get_group(session, group_id)
    return await paginate(session, select(Endpoint).where(_matches(group.filters)), Endpoint, page)


# -- endpoint groups of a project -------------------------------------------------------------
async def add_group(session: AsyncSession, group_id: str, project_id: str) -> None:
    """Associate an endpoint group with a project (idempotent)."""
    await get_group(session, group_id)
    await get_project(session, project_id)
    await session.merge(ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))
    await session.flush()


async def _project_group(
    session: AsyncSession, group_id: str, project_id: str
) -> ProjectEndpointGroup:
    await get_group(session, group_id)
    await get_project(session, project_id)
    row = await session.get(ProjectEndpointGroup, (group_id, project_id))
    if row is None:
        raise NotFound(
            f"Could not find project endpoint group: endpoint group {group_id} "
            f"is not associated with project {project_id}."
        )
    return row


async def group_project(session: AsyncSession, group_id: str, project_id: str) -> Project:
    """The project, if ``group_id`` is associated with it (404 otherwise)."""
    await _project_group(session, group_id, project_id)
    return await get_project(session, project_id)


async def remove_group(session: AsyncSession, group_id: str, project_id: str) -> None:
    await session.delete(await _project_group(session, group_id, project_id))


async def group_projects(session: AsyncSession, group_id: str, page: PageRequest) -> list[Project]:
    """The projects an endpoint group is associated with."""
    await get_group(session, group_id)
    ids = select(ProjectEndpointGroup.project_id).where(
        ProjectEndpointGroup.endpoint_group_id == group_id
    )
    return await paginate(session, select(Project).where(Project.id.in_(ids)), Project, page)


async def project_groups(
    session: AsyncSession, project_id: str, page: PageRequest
) -> list[EndpointGroup]:
    """The endpoint groups associated with a project."""
    await get_project(session, project_id)
    ids = select(ProjectEndpointGroup.endpoint_group_id).where(
        ProjectEndpointGroup.project_id == project_id
    )
    stmt = select(EndpointGroup).where(EndpointGroup.id.in_(ids))
    return await paginate(session, stmt, EndpointGroup, page)
