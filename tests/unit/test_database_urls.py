"""Database URLs as users write them map to the async drivers onestack ships."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from onestack.common.config import ConfigError, async_database_url, load_settings
from onestack.common.db import Database


@pytest.mark.parametrize(
    ("written", "dialect", "driver"),
    [
        ("postgresql://onestack:pw@db.example/onestack", "postgresql", "asyncpg"),
        ("postgres://onestack@db.example/onestack", "postgresql", "asyncpg"),
        ("postgresql+psycopg2://onestack@db.example/onestack", "postgresql", "asyncpg"),
        ("postgresql+asyncpg://onestack@db.example/onestack", "postgresql", "asyncpg"),
        ("mysql://root@db.example/onestack", "mysql", "aiomysql"),
        ("mysql+pymysql://root@db.example/onestack?charset=utf8mb4", "mysql", "aiomysql"),
        ("mariadb://root@db.example/onestack", "mariadb", "aiomysql"),
        ("sqlite:///{tmp}/x.sqlite", "sqlite", "aiosqlite"),
    ],
)
async def test_written_urls_get_the_shipped_async_driver(
    written: str, dialect: str, driver: str, tmp_path: Path
) -> None:
    db = Database(written.format(tmp=tmp_path), "probe")  # no connection is made
    try:
        assert (db.engine.dialect.name, db.engine.dialect.driver) == (dialect, driver)
    finally:
        await db.dispose()


def test_settings_take_written_urls_and_keep_them_async() -> None:
    settings = load_settings(database_url="postgres://u:secret@db/onestack?sslmode=require",
                             image={"database_url": "mysql://root@db/images"})
    assert settings.database_url == "postgresql+asyncpg://u:secret@db/onestack?ssl=require"
    assert settings.database_url_for("identity") == settings.database_url
    assert settings.database_url_for("image") == "mysql+aiomysql://root@db/images"


@pytest.mark.parametrize("url", ["oracle://scott@db/orcl", "db.example/onestack", "mssql+pyodbc://x"])
def test_an_unsupported_url_is_a_clear_configuration_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported database URL .*postgresql://"):
        async_database_url(url)
    with pytest.raises(ConfigError, match=r"database_url \(\$ONESTACK_DATABASE_URL\)"):
        load_settings(database_url=url)


def test_a_password_never_appears_in_the_error() -> None:
    with pytest.raises(ValueError) as caught:
        async_database_url("oracle://scott:tiger@db/orcl")
    assert "tiger" not in str(caught.value)


@pytest.mark.skipif(not os.environ.get("ONESTACK_TEST_DATABASE_URL"),
                    reason="needs a database server (ONESTACK_TEST_DATABASE_URL)")
async def test_a_plain_server_url_connects() -> None:
    from sqlalchemy import text

    url = os.environ["ONESTACK_TEST_DATABASE_URL"]
    plain = url.split("://", 1)[1]
    scheme = "postgresql" if url.startswith("postgres") else "mysql"
    db = Database(f"{scheme}://{plain}", "probe")
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.dispose()
