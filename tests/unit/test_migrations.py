"""The identity migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onestack.common.db import Database
from onestack.identity.manager import MIGRATIONS
from onestack.identity.models import Base
from tests.conftest import fresh_database


async def test_migrations_match_models(tmp_path: Path) -> None:
    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/m.sqlite", "identity", MIGRATIONS)
        await db.upgrade()
        await db.upgrade()  # idempotent
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        await db.dispose()
    tables = [d for d in diff if not (d[0] == "remove_table"
                                      and d[1].name.startswith("alembic_version"))]
    assert tables == []


def test_head_revision_agrees_with_alembic() -> None:
    """Start-up skips Alembic when the database is at this head, so it must be Alembic's."""
    from alembic.script import ScriptDirectory

    from onestack.common.db import alembic_config, head_revision

    script = ScriptDirectory.from_config(alembic_config(MIGRATIONS, "identity"))
    assert head_revision(MIGRATIONS) == script.get_current_head()


async def test_current_revision(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/r.sqlite", "identity", MIGRATIONS)
    assert await db.current_revision() is None  # no version table yet
    await db.upgrade()
    from onestack.common.db import head_revision

    assert await db.current_revision() == head_revision(MIGRATIONS)
    await db.dispose()


async def test_placement_migrations_match_models(tmp_path: Path) -> None:
    from onestack.placement.manager import MIGRATIONS as PLACEMENT_MIGRATIONS
    from onestack.placement.models import metadata

    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/p.sqlite", "placement",
                      PLACEMENT_MIGRATIONS)
        await db.upgrade()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        await db.dispose()
    tables = [d for d in diff if not (d[0] == "remove_table"
                                      and d[1].name.startswith("alembic_version"))]
    assert tables == []


async def test_network_migrations_match_models(tmp_path: Path) -> None:
    from onestack.network.manager import MIGRATIONS as NETWORK_MIGRATIONS
    from onestack.network.models import Base as NetworkBase

    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/n.sqlite", "network",
                      NETWORK_MIGRATIONS)
        await db.upgrade()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), NetworkBase.metadata))
        await db.dispose()
    tables = [d for d in diff if not (d[0] == "remove_table"
                                      and d[1].name.startswith("alembic_version"))]
    assert tables == []
