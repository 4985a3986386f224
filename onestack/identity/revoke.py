"""Revocation events: the record of which tokens stopped being valid before they expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.identity.models import RevocationEvent


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What revocation events are matched against."""

    user_ids: tuple[str, ...]
    project_id: str | None
    domain_ids: tuple[str, ...]
    role_ids: tuple[str, ...]
    trust_id: str | None
    audit_id: str
    audit_chain_id: str
    issued_at: dt.datetime  # naive UTC
    consumer_id: str | None = None
    access_token_id: str | None = None


def matches(event: RevocationEvent, t: TokenFacts) -> bool:
    return (
        t.issued_at <= event.issued_before
        and (event.user_id is None or event.user_id in t.user_ids)
        and (event.project_id is None or event.project_id == t.project_id)
        and (event.domain_id is None or event.domain_id in t.domain_ids)
        and (event.role_id is None or event.role_id in t.role_ids)
        and (event.trust_id is None or event.trust_id == t.trust_id)
        and (event.audit_id is None or event.audit_id == t.audit_id)
        and (event.audit_chain_id is None or event.audit_chain_id == t.audit_chain_id)
        and (event.consumer_id is None or event.consumer_id == t.consumer_id)
        and (event.access_token_id is None or event.access_token_id == t.access_token_id)
    )


def is_revoked(events: Sequence[RevocationEvent], facts: TokenFacts) -> bool:
    return any(matches(e, facts) for e in events)


async def revoke(session: AsyncSession, **fields: str | None) -> None:
    """Record that tokens matching ``fields`` and issued until now are revoked."""
    session.add(RevocationEvent(issued_before=utcnow(), **fields))


async def load_events(session: AsyncSession, max_token_age: dt.timedelta) -> list[RevocationEvent]:
    """Events young enough to matter (older ones can only match expired tokens), pruned."""
    horizon = utcnow() - max_token_age
    rows = await session.execute(
        select(RevocationEvent).where(RevocationEvent.revoked_at >= horizon)
    )
    return list(rows.scalars())


async def prune(session: AsyncSession, max_token_age: dt.timedelta) -> None:
    horizon = utcnow() - max_token_age
    await session.execute(delete(RevocationEvent).where(RevocationEvent.revoked_at < horizon))


async def list_events(
    session: AsyncSession, since: dt.datetime | None = None
) -> list[RevocationEvent]:
    """The recorded events, oldest first; with ``since``, those revoked after it."""
    stmt = select(RevocationEvent).order_by(RevocationEvent.revoked_at, RevocationEvent.id)
    if since is not None:
        stmt = stmt.where(RevocationEvent.revoked_at > since)
    return list((await session.execute(stmt)).scalars())
