"""Trusts (OS-TRUST): a trustor delegates roles on a project to a trustee.

Using a trust (scoping a token with it) lives in ``auth`` and ``tokens``; this module creates,
lists and deletes them. Redelegation (a trust made from a trust-scoped token) is not supported.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id, utcnow
from onestack.common.errors import Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity import revoke
from onestack.identity.delegation import held_role_ids, roles_by_ids
from onestack.identity.models import Project, Role, Trust, TrustRole, User


async def get_trust(session: AsyncSession, trust_id: str) -> Trust:
    """A live trust (not deleted, not expired, uses left), else 404 as Keystone answers."""
    trust = await session.get(Trust, trust_id)
    if (
        trust is None
        or trust.deleted_at is not None
        or (trust.expires_at is not None and trust.expires_at <= utcnow())
        or (trust.remaining_uses is not None and trust.remaining_uses <= 0)
    ):
        raise NotFound(f"Could not find trust: {trust_id}.")
    return trust


async def list_trusts(
    session: AsyncSession,
    page: PageRequest,
    *,
    trustor_user_id: str | None = None,
    trustee_user_id: str | None = None,
) -> list[Trust]:
    stmt = select(Trust).where(Trust.deleted_at.is_(None))
    if trustor_user_id is not None:
        stmt = stmt.where(Trust.trustor_user_id == trustor_user_id)
    if trustee_user_id is not None:
        stmt = stmt.where(Trust.trustee_user_id == trustee_user_id)
    return await paginate(session, stmt, Trust, page)


async def roles_of(session: AsyncSession, trust: Trust) -> list[Role]:
    rows = await session.execute(select(TrustRole.role_id).where(TrustRole.trust_id == trust.id))
    return await roles_by_ids(session, rows.scalars())


async def create_trust(
    session: AsyncSession,
    *,
    trustor_user_id: str,
    trustee_user_id: str,
    project_id: str | None,
    roles: list[Role],
    impersonation: bool,
    expires_at: dt.datetime | None = None,
    remaining_uses: int | None = None,
    allow_redelegation: bool = False,
) -> Trust:
    if await session.get(User, trustee_user_id) is None:
        raise NotFound(f"Could not find user: {trustee_user_id}.")
    if project_id is not None:
        if await session.get(Project, project_id) is None:
            raise NotFound(f"Could not find project: {project_id}.")
        if not roles:
            raise Forbidden("At least one role should be specified.")
    held = await held_role_ids(session, trustor_user_id, project_id)
    for role in roles:
        if role.id not in held:
            raise NotFound(f"Could not find role: {role.id}.")
    trust = Trust(
        id=new_id(),
        trustor_user_id=trustor_user_id,
        trustee_user_id=trustee_user_id,
        project_id=project_id,
        impersonation=impersonation,
        expires_at=expires_at,
        remaining_uses=remaining_uses,
        allow_redelegation=allow_redelegation,
        redelegation_count=None,
        extra={},
    )
    session.add(trust)
    await session.flush()
    for role in roles:
        session.add(TrustRole(trust_id=trust.id, role_id=role.id))
    await session.flush()
    return trust


async def delete_trust(session: AsyncSession, trust: Trust) -> None:
    """Soft-delete it and revoke every token scoped with it."""
    trust.deleted_at = utcnow()
    await revoke.revoke(session, trust_id=trust.id)
    await session.flush()
