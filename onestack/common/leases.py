"""Leases on in-flight work, so that a crash anywhere is reconciled rather than assumed away.

A process that starts long work on a resource (an image upload, an import; later a boot or a
volume copy) takes a lease on it in the transaction that moves the resource into its
transitional state, renews every lease it holds on a timer, and releases the lease in the
transaction that ends the work. Any process of the service can then find the work whose holder
stopped renewing (crashed, killed, cut off from the database), on whatever host it ran, and end
it as the service decides (an upload: ``killed``). The holder is one process run, never reused,
so a restarted process never mistakes its predecessor's work for its own.

The table is ``<prefix>_leases`` on the service's own metadata (its migration creates it), as
:func:`onestack.common.quota.quota_tables` does for quotas.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Column, Index, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import Database, UTCDateTime, utcnow

LOG = logging.getLogger(__name__)


def lease_table(metadata: MetaData, prefix: str) -> Table:
    """Define ``<prefix>_leases`` (resource_id, kind, holder, expires_at) on ``metadata``."""
    name = f"{prefix}_leases"
    return Table(
        name,
        metadata,
        Column("resource_id", String(64), primary_key=True),
        Column("kind", String(32), nullable=False),
        Column("holder", String(128), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
        Index(f"ix_{name}_holder", "holder"),
        Index(f"ix_{name}_expires_at", "expires_at"),
    )


def new_holder() -> str:
    """The name of this process run: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lapsed:
    """A lease its holder stopped renewing."""

    resource_id: str
    kind: str
    holder: str


class Leases:
    """This process's leases in one service's table, renewed every ``ttl / 3`` seconds."""

    def __init__(self, db: Database, table: Table, *, ttl: float, holder: str | None = None):
        self.db = db
        self.table = table
        self.ttl = dt.timedelta(seconds=ttl)
        self.holder = holder or new_holder()

    async def take(self, session: AsyncSession, resource_id: str, kind: str) -> None:
        """Hold ``resource_id`` for ``kind`` work, in the caller's transaction (whoever held
        it before: the caller has decided, under the resource's row lock, that it may)."""
        await session.execute(delete(self.table).where(self.table.c.resource_id == resource_id))
        await session.execute(
            insert(self.table).values(
                resource_id=resource_id,
                kind=kind,
                holder=self.holder,
                expires_at=utcnow() + self.ttl,
            )
        )

    async def release(self, session: AsyncSession, resource_id: str) -> None:
        """End this process's lease on ``resource_id`` (another holder's stays)."""
        t = self.table
        await session.execute(
            delete(t).where(t.c.resource_id == resource_id, t.c.holder == self.holder)
        )

    async def reclaim(self, session: AsyncSession, lapsed: Lapsed) -> bool:
        """Take over a lapsed lease to reconcile its work, in the caller's transaction: False
        when it is no longer lapsed (renewed, released, or another process got there first)."""
        t = self.table
        result = await session.execute(
            delete(t).where(
                t.c.resource_id == lapsed.resource_id,
                t.c.holder == lapsed.holder,
                t.c.expires_at < utcnow(),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def renew(self) -> int:
        """Push back the expiry of every lease this process holds; how many it holds."""
        t = self.table
        async with self.db.session(write=True) as session:
            result = await session.execute(
                update(t).where(t.c.holder == self.holder).values(expires_at=utcnow() + self.ttl)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def lapsed(self, session: AsyncSession) -> list[Lapsed]:
        """The leases whose holders stopped renewing them."""
        t = self.table
        stmt = select(t.c.resource_id, t.c.kind, t.c.holder).where(t.c.expires_at < utcnow())
        return [Lapsed(*row) for row in (await session.execute(stmt)).all()]

    async def live(self, session: AsyncSession, resource_ids: list[str]) -> set[str]:
        """Which of ``resource_ids`` have work going on (a lease not lapsed, whoever holds it)."""
        t = self.table
        stmt = select(t.c.resource_id).where(
            t.c.resource_id.in_(resource_ids), t.c.expires_at >= utcnow()
        )
        return set((await session.execute(stmt)).scalars())

    async def keep(self, reconcile: Callable[[], Awaitable[object]]) -> None:
        """Run forever (until cancelled): renew this process's leases every ``ttl / 3`` and
        call ``reconcile`` after each renewal; a failure is logged and tried again."""
        interval = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew()
                await reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("renewing leases or reconciling failed; trying again")
