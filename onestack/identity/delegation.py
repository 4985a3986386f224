"""What application credentials and trusts share: delegated roles and expiry dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Forbidden, NotFound
from onestack.identity import assignment
from onestack.identity.models import GLOBAL_ROLE_DOMAIN, ApplicationCredential, Project, Role


class RoleRef(BaseModel):
    """A role named in a request body, by id or by name."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=255)


async def resolve_roles(session: AsyncSession, refs: Iterable[RoleRef]) -> list[Role]:
    """The roles ``refs`` name (each by id or by name), without duplicates; 404 if unknown."""
    found: dict[str, Role] = {}
    for ref in refs:
        if ref.id:
            role = await session.get(Role, ref.id)
            missing = ref.id
        elif ref.name:
            role = (
                await session.execute(
                    select(Role).where(Role.name == ref.name, Role.domain_id == GLOBAL_ROLE_DOMAIN)
                )
            ).scalar()
            missing = ref.name
        else:
            raise BadRequest("A role needs an id or a name.")
        if role is None:
            raise NotFound(f"Could not find role: {missing}.")
        found.setdefault(role.id, role)
    return list(found.values())


async def roles_by_ids(session: AsyncSession, role_ids: Iterable[str]) -> list[Role]:
    ids = list(role_ids)
    if not ids:
        return []
    rows = await session.execute(select(Role).where(Role.id.in_(ids)).order_by(Role.name))
    return list(rows.scalars())


async def held_role_ids(session: AsyncSession, user_id: str, project_id: str | None) -> set[str]:
    """The roles (implied ones included) ``user_id`` holds on the project now."""
    project = await session.get(Project, project_id) if project_id else None
    if project is None:
        return set()
    return {r.id for r in await assignment.effective_roles(session, user_id, project=project)}


def role_ref(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "domain_id": None if role.domain_id == GLOBAL_ROLE_DOMAIN else role.domain_id,
    }


def future_expiry(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as naive UTC; 400 if it is already past (as Keystone refuses)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    if value <= utcnow():
        raise BadRequest("The 'expires_at' must not be before now.")
    return value


async def require_unrestricted(session: AsyncSession, app_cred_id: str | None, what: str) -> None:
    """403 if the caller's token comes from a restricted application credential."""
    if app_cred_id is None:
        return
    cred = await session.get(ApplicationCredential, app_cred_id)
    if cred is None or not cred.unrestricted:
        raise Forbidden(
            f"Using method 'application_credential' is not allowed for managing {what}."
        )
