"""Policy blobs of the deprecated ``/v3/policies`` API: opaque rules documents with a MIME type.

Keystone only stores them (it never enforces them); neither do we.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.models import PolicyBlob


async def get_policy(session: AsyncSession, policy_id: str) -> PolicyBlob:
    policy = await session.get(PolicyBlob, policy_id)
    if policy is None:
        raise NotFound(f"Could not find policy: {policy_id}.")
    return policy


async def list_policies(
    session: AsyncSession, page: PageRequest, *, type: str | None = None
) -> list[PolicyBlob]:
    stmt = select(PolicyBlob)
    if type is not None:
        stmt = stmt.where(PolicyBlob.type == type)
    return await paginate(session, stmt, PolicyBlob, page)


async def create_policy(
    session: AsyncSession, *, blob: str, type: str, extra: dict[str, Any] | None = None
) -> PolicyBlob:
    policy = PolicyBlob(id=new_id(), blob=blob, type=type, extra=extra or {})
    session.add(policy)
    await session.flush()
    return policy


async def update_policy(
    session: AsyncSession, policy_id: str, changes: dict[str, Any], extra: dict[str, Any]
) -> PolicyBlob:
    """Set ``changes`` (blob, type) and merge ``extra`` into the free attributes."""
    policy = await get_policy(session, policy_id)
    for key, value in changes.items():
        setattr(policy, key, value)
    if extra:
        policy.extra = {**(policy.extra or {}), **extra}
    await session.flush()
    return policy


async def delete_policy(session: AsyncSession, policy_id: str) -> None:
    await session.delete(await get_policy(session, policy_id))
