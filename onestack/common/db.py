"""Async database access: one engine and schema per service, Alembic migrations.

SQLite (the default) runs in WAL mode with foreign keys on; write transactions take the write
lock up front (``BEGIN IMMEDIATE``) so concurrent writers wait instead of failing. PostgreSQL and
MySQL/MariaDB work by URL, written as users do (``postgresql://``, ``mysql://``): each is mapped to
the async driver onestack ships (:func:`onestack.common.config.async_database_url`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from onestack.common import errors
from onestack.common.config import async_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A service's own metadata (tables prefixed with the service name by convention)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    """The id format OpenStack services use: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Naive UTC in the database, aware-free naive UTC in Python, on every backend."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql  # its backend only

            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value


def json_loads(text: str | bytes) -> Any:
    """JSON columns decoded with orjson (5-10x the standard library on wide listings); what
    orjson refuses (NaN, integers beyond 64 bits) falls back to :func:`json.loads`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        import json

        return json.loads(text)


class Database:
    """Engine, sessions and migrations of one service."""

    def __init__(self, url: str, service: str, migrations: Path | None = None, echo: bool = False):
        url = async_database_url(url)  # postgresql://, mysql://, sqlite:/// as users write them
        self.url = url
        self.service = service
        self.migrations = migrations
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": json_loads}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_pre_ping=True, pool_recycle=3600)
            if url.startswith(("mysql", "mariadb")):
                # each statement sees what is committed (as on PostgreSQL): a count taken after a
                # lock sees the rows of the transaction that held it before
                kwargs["isolation_level"] = "READ COMMITTED"
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _setup_sqlite(self.engine)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )
        #: On SQLite, this process's writers queue here in order instead of in SQLite's busy
        #: handler, which sleeps and retries (unfair, long tails); None elsewhere.
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error.

        Integrity errors (duplicate names, dangling references) surface as 409 Conflict.
        """
        maker = self._writer if write else self._reader
        async with maker() as session:
            try:
                async with session.begin():
                    yield session
            except IntegrityError as exc:
                raise errors.Conflict(_integrity_message(exc)) from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, queued behind this process's other writers on SQLite."""
        if self.write_lock is None:
            async with self.session(write=True) as session:
                yield session
            return
        async with self.write_lock, self.session(write=True) as session:
            yield session

    async def upgrade(self) -> None:
        """Apply this service's Alembic migrations up to head.

        A database already at head is recognised without loading Alembic (half a second of
        imports), so a warm start stays fast; anything else goes through Alembic.
        """
        if self.migrations is None:
            return
        if await self.current_revision() == head_revision(self.migrations):
            return
        cfg = alembic_config(self.migrations, self.service)
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, cfg)

    async def current_revision(self) -> str | None:
        """The revision recorded in the database, None if there is none (or no table)."""
        try:
            async with self.engine.connect() as conn:
                rows = await conn.execute(text(f"SELECT version_num FROM {self.version_table}"))
                versions = [r[0] for r in rows]
        except DBAPIError:
            return None
        return versions[0] if len(versions) == 1 else None

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"

    async def dispose(self) -> None:
        await self.engine.dispose()


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?(\w+)['\"]?", re.M)


def head_revision(migrations: Path) -> str | None:
    """The single head of the migration scripts, read from their ``revision`` lines;
    None when it cannot be told for sure (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations / "versions").glob("*.py"):
        found: dict[str, str] = {m[1]: m[2] for m in _REVISION.finditer(script.read_text())}
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        if found.get("down_revision") not in (None, "None"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def alembic_config(migrations: Path, service: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["service"] = service
    return cfg


def _run_upgrade(conn: Connection, cfg: Any) -> None:
    from alembic import command

    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def run_migrations_online(target_metadata: MetaData) -> None:
    """The body of every service's Alembic ``env.py``."""
    from alembic import context

    cfg = context.config
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        version_table=f"alembic_version_{cfg.attributes['service']}",
    )
    with context.begin_transaction():
        context.run_migrations()


def _setup_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _integrity_message(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "Conflict occurred attempting to store the resource: a duplicate entry exists."
    if "foreign key" in text:
        return "Conflict occurred attempting to store the resource: a referenced entity is missing."
    return "Conflict occurred attempting to store the resource."
