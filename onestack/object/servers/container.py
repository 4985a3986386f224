"""The container server's database: one SQLite file per container replica with its object
rows (deleted rows kept as tombstones with their timestamps), stats kept by triggers, metadata
and what it last reported to its account."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from onestack.object.servers import db
from onestack.object.servers.listing import list_names, listing_entry, object_listing_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS object (
    name TEXT PRIMARY KEY, created_at TEXT NOT NULL, size INTEGER NOT NULL,
    content_type TEXT NOT NULL, etag TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}', entry TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS container_stat (
    account TEXT, container TEXT, created_at TEXT, put_timestamp TEXT DEFAULT '0',
    delete_timestamp TEXT DEFAULT '0', object_count INTEGER DEFAULT 0,
    bytes_used INTEGER DEFAULT 0, reported_put_timestamp TEXT DEFAULT '0',
    reported_delete_timestamp TEXT DEFAULT '0', reported_object_count INTEGER DEFAULT 0,
    reported_bytes_used INTEGER DEFAULT 0, metadata TEXT DEFAULT '{}',
    storage_policy_index INTEGER DEFAULT 0, status_changed_at TEXT DEFAULT '0'
);
CREATE TRIGGER IF NOT EXISTS object_insert AFTER INSERT ON object BEGIN
    UPDATE container_stat SET object_count = object_count + (1 - new.deleted),
        bytes_used = bytes_used + CASE new.deleted WHEN 0 THEN new.size ELSE 0 END;
END;
CREATE TRIGGER IF NOT EXISTS object_update AFTER UPDATE ON object BEGIN
    UPDATE container_stat SET
        object_count = object_count - (1 - old.deleted) + (1 - new.deleted),
        bytes_used = bytes_used - CASE old.deleted WHEN 0 THEN old.size ELSE 0 END
                                + CASE new.deleted WHEN 0 THEN new.size ELSE 0 END;
END;
"""

#: an object row as replication, sync and merges pass it on
ROW_COLUMNS = "name, created_at, size, content_type, etag, deleted, extra"
_UPGRADED: set[str] = set()


def _upgrade(conn: Any) -> None:
    """Databases made before the ``entry`` column (each row's JSON listing entry, rendered
    once when the row is written) get it; their old rows are rendered by the query."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(object)")}
    if columns and "entry" not in columns:
        try:
            conn.execute("ALTER TABLE object ADD COLUMN entry TEXT")
        except Exception as exc:  # another connection added it first
            if "duplicate column" not in str(exc):
                raise


@dataclass
class ContainerInfo:
    account: str
    container: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    object_count: int
    bytes_used: int
    metadata: dict[str, str]
    storage_policy_index: int
    reported: tuple[str, str, int, int]

    @property
    def deleted(self) -> bool:
        return self.delete_timestamp > self.put_timestamp and self.object_count == 0


class ContainerBroker:
    def __init__(self, path: Path):
        self.path = path

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def _conn(self, create: bool = False) -> Any:
        conn = db.connect(self.path, SCHEMA if create else None)
        key = str(self.path)
        if key not in _UPGRADED:
            _upgrade(conn)
            _UPGRADED.add(key)
        return conn

    def initialize(
        self, account: str, container: str, timestamp: str, policy_index: int = 0
    ) -> None:
        conn = self._conn(create=True)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM container_stat").fetchone() is None:
                conn.execute(
                    "INSERT INTO container_stat (account, container, created_at, put_timestamp,"
                    " storage_policy_index, status_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (account, container, timestamp, timestamp, policy_index, timestamp),
                )

    def info(self) -> ContainerInfo:
        row = self._conn().execute("SELECT * FROM container_stat").fetchone()
        if row is None:
            raise FileNotFoundError(str(self.path))
        return ContainerInfo(
            row["account"],
            row["container"],
            row["created_at"],
            row["put_timestamp"],
            row["delete_timestamp"],
            row["object_count"],
            row["bytes_used"],
            db.live_metadata(row["metadata"]),
            row["storage_policy_index"],
            (
                row["reported_put_timestamp"],
                row["reported_delete_timestamp"],
                row["reported_object_count"],
                row["reported_bytes_used"],
            ),
        )

    def is_deleted(self) -> bool:
        try:
            return self.info().deleted
        except FileNotFoundError:
            return True

    def put(self, timestamp: str, metadata: dict[str, list[Any]]) -> bool:
        """A container PUT on an existing database; True if it had been deleted (re-created)."""
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT put_timestamp, delete_timestamp, metadata FROM container_stat"
            ).fetchone()
            recreated = row["delete_timestamp"] > row["put_timestamp"]
            if timestamp > row["put_timestamp"]:
                conn.execute(
                    "UPDATE container_stat SET put_timestamp = ?, status_changed_at = ?",
                    (timestamp, timestamp if recreated else row["put_timestamp"]),
                )
            if metadata:
                conn.execute(
                    "UPDATE container_stat SET metadata = ?",
                    (db.merge_metadata(row["metadata"], metadata),),
                )
        return recreated

    def update_metadata(self, metadata: dict[str, list[Any]]) -> None:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT metadata FROM container_stat").fetchone()
            conn.execute(
                "UPDATE container_stat SET metadata = ?",
                (db.merge_metadata(row["metadata"], metadata),),
            )

    def delete(self, timestamp: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE container_stat SET delete_timestamp = ?, status_changed_at = ?,"
                " metadata = '{}'",
                (timestamp, timestamp),
            )

    def put_object(
        self,
        name: str,
        timestamp: str,
        size: int,
        content_type: str,
        etag: str,
        deleted: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Record an object version; an older one than the row holds changes nothing."""
        self.merge_rows(
            [
                (
                    name,
                    timestamp,
                    size,
                    content_type,
                    etag,
                    int(deleted),
                    orjson.dumps(extra or {}).decode(),
                )
            ]
        )

    def merge_rows(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for row in rows:
                current = conn.execute(
                    "SELECT created_at FROM object WHERE name = ?", (row[0],)
                ).fetchone()
                if current is None:
                    conn.execute(
                        "INSERT INTO object VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*row[:7], listing_entry(row)),
                    )
                elif current["created_at"] < row[1] or (
                    current["created_at"] == row[1] and not row[5]
                ):
                    conn.execute(
                        "UPDATE object SET created_at = ?, size = ?, content_type = ?, etag = ?,"
                        " deleted = ?, extra = ?, entry = ? WHERE name = ?",
                        (*row[1:7], listing_entry(row), row[0]),
                    )

    def rows_since(self, marker: str, limit: int) -> list[tuple[Any, ...]]:
        """Every object row (deleted ones too) after ``marker``: for replication."""
        return [
            tuple(r)
            for r in self._conn().execute(
                f"SELECT {ROW_COLUMNS} FROM object WHERE name > ? ORDER BY name LIMIT ?",
                (marker, limit),
            )
        ]

    def list_objects(self, **query: Any) -> list[dict[str, Any]]:
        return list_names(
            self._conn(), "object", "name, created_at, size, content_type, etag, extra", **query
        )

    def listing_json(self, **query: Any) -> bytes | None:
        """The JSON listing rendered by SQLite, or None where rows need Python (a
        delimiter's ``subdir`` entries)."""
        if query.get("delimiter"):
            return None
        query.pop("delimiter", None)
        return object_listing_json(self._conn(), **query)

    def object_count(self) -> int:
        return int(
            self._conn().execute("SELECT count(*) FROM object WHERE deleted = 0").fetchone()[0]
        )

    def reported(self, put_ts: str, delete_ts: str, count: int, used: int) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "UPDATE container_stat SET reported_put_timestamp = ?,"
                " reported_delete_timestamp = ?, reported_object_count = ?,"
                " reported_bytes_used = ?",
                (put_ts, delete_ts, count, used),
            )
