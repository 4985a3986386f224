"""Resource class and trait names <-> ids, cached in the process.

Standard resource classes (``os-resource-classes``) keep their index in that list as id;
custom ones (``CUSTOM_*``) get ids from 10000, as upstream numbers them. Standard traits
(``os-traits``) are seeded at start. A name not in the cache is looked up again in the database
(another process may have created it) before it counts as unknown.
"""

from __future__ import annotations

import functools
import re

import os_resource_classes
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.db import utcnow
from onestack.placement.models import resource_classes, traits

CUSTOM_PREFIX = "CUSTOM_"
CUSTOM_RC_MIN_ID = 10000
NAME_RE = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
STANDARD_CLASSES: tuple[str, ...] = tuple(os_resource_classes.STANDARDS)


@functools.cache
def standard_traits() -> frozenset[str]:
    """The os-traits names (imported when first needed: walking the library takes ~50 ms)."""
    import os_traits

    return frozenset(os_traits.get_traits())


class NameCache:
    """One table of names (resource classes or traits): name -> id and id -> name."""

    def __init__(self, table: object):
        self.table = table
        self.by_name: dict[str, int] = {}
        self.by_id: dict[int, str] = {}

    async def reload(self, conn: AsyncConnection) -> None:
        rows = (await conn.execute(select(self.table.c.id, self.table.c.name))).all()  # type: ignore[attr-defined]
        self.by_name = {name: id_ for id_, name in rows}
        self.by_id = {id_: name for id_, name in rows}

    async def id_of(self, conn: AsyncConnection, name: str) -> int | None:
        found = self.by_name.get(name)
        if found is None:
            await self.reload(conn)
            found = self.by_name.get(name)
        return found

    async def ids_of(
        self, conn: AsyncConnection, names: set[str]
    ) -> tuple[dict[str, int], set[str]]:
        """The ids of ``names`` and the names that do not exist."""
        if not names <= self.by_name.keys():
            await self.reload(conn)
        known = {n: self.by_name[n] for n in names if n in self.by_name}
        return known, names - known.keys()

    async def name_of(self, conn: AsyncConnection, id_: int) -> str:
        found = self.by_id.get(id_)
        if found is None:
            await self.reload(conn)
            found = self.by_id.get(id_, f"UNKNOWN_{id_}")
        return found

    def forget(self, name: str) -> None:
        id_ = self.by_name.pop(name, None)
        if id_ is not None:
            self.by_id.pop(id_, None)


async def seed_classes(conn: AsyncConnection) -> None:
    """Insert the standard resource classes that are missing (idempotent)."""
    now = utcnow()
    have = set((await conn.execute(select(resource_classes.c.name))).scalars())
    rows = [
        {"id": i, "name": name, "created_at": now, "updated_at": now}
        for i, name in enumerate(STANDARD_CLASSES)
        if name not in have
    ]
    if rows:
        await conn.execute(insert(resource_classes), rows)


async def seed_traits(conn: AsyncConnection) -> None:
    """Insert the standard traits that are missing (idempotent)."""
    now = utcnow()
    have = set((await conn.execute(select(traits.c.name))).scalars())
    rows = [
        {"name": name, "created_at": now, "updated_at": now}
        for name in sorted(standard_traits() - have)
    ]
    if rows:
        await conn.execute(insert(traits), rows)


async def has_traits(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(traits.c.id).limit(1))).first() is not None


async def next_custom_class_id(conn: AsyncConnection) -> int:
    top = (await conn.execute(select(func.max(resource_classes.c.id)))).scalar() or 0
    return max(CUSTOM_RC_MIN_ID, top + 1)
