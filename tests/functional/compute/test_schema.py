"""The Compute migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onestack.common.db import Database, head_revision
from onestack.compute.core import MIGRATIONS
from onestack.compute.models import Base
from tests.conftest import fresh_database


async def test_migrations_match_models(tmp_path: Path) -> None:
    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/c.sqlite", "compute", MIGRATIONS)
        await db.upgrade()
        await db.upgrade()  # idempotent
        assert await db.current_revision() == head_revision(MIGRATIONS)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        await db.dispose()
    diff = [
        d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))
    ]
    assert diff == []
