"""Domains and projects: the ownership tree every other identity resource hangs from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.models import (
    Assignment,
    Domain,
    Group,
    Project,
    Role,
    User,
)

DEFAULT_DOMAIN_ID = "default"


# -- domains ----------------------------------------------------------------------------------
async def get_domain(session: AsyncSession, domain_id: str) -> Domain:
    domain = await session.get(Domain, domain_id)
    if domain is None:
        raise NotFound(f"Could not find domain: {domain_id}.")
    return domain


async def list_domains(
    session: AsyncSession,
    page: PageRequest,
    *,
    name: str | None = None,
    enabled: bool | None = None,
) -> list[Domain]:
    stmt = select(Domain)
    if name is not None:
        stmt = stmt.where(Domain.name == name)
    if enabled is not None:
        stmt = stmt.where(Domain.enabled.is_(enabled))
    return await paginate(session, stmt, Domain, page)


async def create_domain(
    session: AsyncSession, *, name: str, domain_id: str | None = None, **fields: Any
) -> Domain:
    if (await session.execute(select(Domain.id).where(Domain.name == name))).first():
        raise Conflict(
            f"Conflict occurred attempting to store domain - Duplicate entry "
            f"found with name {name}."
        )
    domain = Domain(id=domain_id or new_id(), name=name, **fields)
    session.add(domain)
    await session.flush()
    return domain


async def update_domain(session: AsyncSession, domain_id: str, changes: dict[str, Any]) -> Domain:
    domain = await get_domain(session, domain_id)
    renamed = "name" in changes and changes["name"] != domain.name
    if (
        renamed
        and (await session.execute(select(Domain.id).where(Domain.name == changes["name"]))).first()
    ):
        raise Conflict(
            f"Conflict occurred attempting to store domain - Duplicate entry "
            f"found with name {changes['name']}."
        )
    if domain.id == DEFAULT_DOMAIN_ID and changes.get("enabled") is False:
        raise Forbidden("The default domain cannot be disabled.")
    for key, value in changes.items():
        setattr(domain, key, value)
    await session.flush()
    return domain


async def delete_domain(session: AsyncSession, domain_id: str) -> None:
    """Delete a disabled domain and everything it owns."""
    domain = await get_domain(session, domain_id)
    if domain.enabled:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    project_ids = list(
        (await session.execute(select(Project.id).where(Project.domain_id == domain_id))).scalars()
    )
    user_ids = list(
        (await session.execute(select(User.id).where(User.domain_id == domain_id))).scalars()
    )
    group_ids = list(
        (await session.execute(select(Group.id).where(Group.domain_id == domain_id))).scalars()
    )
    role_ids = list(
        (await session.execute(select(Role.id).where(Role.domain_id == domain_id))).scalars()
    )
    owned = [domain_id, *project_ids, *user_ids, *group_ids]
    await session.execute(delete(Assignment).where(Assignment.target_id.in_(owned)))
    await session.execute(delete(Assignment).where(Assignment.actor_id.in_(owned)))
    await session.execute(delete(Role).where(Role.id.in_(role_ids)))
    await session.execute(delete(Group).where(Group.id.in_(group_ids)))
    await session.execute(delete(User).where(User.id.in_(user_ids)))
    # children before parents
    while True:
        leaves = list(
            (
                await session.execute(
                    select(Project.id).where(
                        Project.domain_id == domain_id,
                        ~Project.id.in_(
                            select(Project.parent_id).where(Project.parent_id.is_not(None))
                        ),
                    )
                )
            ).scalars()
        )
        if not leaves:
            break
        await session.execute(delete(Project).where(Project.id.in_(leaves)))
    await session.delete(domain)
