"""The account server's database: one SQLite file per account replica with a row per
container (counts and bytes as the container last reported them), metadata and stats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onestack.object.servers import db
from onestack.object.servers.listing import list_names

SCHEMA = """
CREATE TABLE IF NOT EXISTS container (
    name TEXT PRIMARY KEY, put_timestamp TEXT NOT NULL, delete_timestamp TEXT NOT NULL,
    object_count INTEGER NOT NULL, bytes_used INTEGER NOT NULL, deleted INTEGER NOT NULL,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_stat (
    account TEXT, created_at TEXT, put_timestamp TEXT DEFAULT '0',
    delete_timestamp TEXT DEFAULT '0', container_count INTEGER DEFAULT 0,
    object_count INTEGER DEFAULT 0, bytes_used INTEGER DEFAULT 0, metadata TEXT DEFAULT '{}',
    status TEXT DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat SET container_count = container_count + (1 - new.deleted),
        object_count = object_count + new.object_count,
        bytes_used = bytes_used + new.bytes_used;
END;
CREATE TRIGGER IF NOT EXISTS container_update AFTER UPDATE ON container BEGIN
    UPDATE account_stat SET
        container_count = container_count - (1 - old.deleted) + (1 - new.deleted),
        object_count = object_count - old.object_count + new.object_count,
        bytes_used = bytes_used - old.bytes_used + new.bytes_used;
END;
"""


@dataclass
class AccountInfo:
    account: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    container_count: int
    object_count: int
    bytes_used: int
    metadata: dict[str, str]
    status: str

    @property
    def deleted(self) -> bool:
        return self.status == "DELETED" or self.delete_timestamp > self.put_timestamp


class AccountBroker:
    def __init__(self, path: Path):
        self.path = path

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def _conn(self, create: bool = False) -> Any:
        return db.connect(self.path, SCHEMA if create else None)

    def initialize(self, account: str, timestamp: str) -> None:
        conn = self._conn(create=True)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT put_timestamp FROM account_stat").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO account_stat (account, created_at, put_timestamp)"
                    " VALUES (?, ?, ?)",
                    (account, timestamp, timestamp),
                )

    def info(self) -> AccountInfo:
        row = self._conn().execute("SELECT * FROM account_stat").fetchone()
        if row is None:
            raise FileNotFoundError(str(self.path))
        return AccountInfo(
            row["account"],
            row["created_at"],
            row["put_timestamp"],
            row["delete_timestamp"],
            row["container_count"],
            row["object_count"],
            row["bytes_used"],
            db.live_metadata(row["metadata"]),
            row["status"],
        )

    def put(self, timestamp: str, metadata: dict[str, list[Any]]) -> None:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT put_timestamp, metadata FROM account_stat").fetchone()
            if timestamp > row["put_timestamp"]:
                conn.execute("UPDATE account_stat SET put_timestamp = ?, status = ''", (timestamp,))
            if metadata:
                conn.execute(
                    "UPDATE account_stat SET metadata = ?",
                    (db.merge_metadata(row["metadata"], metadata),),
                )

    def update_metadata(self, metadata: dict[str, list[Any]]) -> None:
        self.put("0", metadata)

    def delete(self, timestamp: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE account_stat SET delete_timestamp = ?, status = 'DELETED'", (timestamp,)
            )

    def put_container(
        self, name: str, put_ts: str, delete_ts: str, count: int, used: int, policy_index: int = 0
    ) -> None:
        """What a container reports; the newer of put/delete decides whether it is listed."""
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT * FROM container WHERE name = ?", (name,)).fetchone()
            if row is not None:
                put_ts = max(put_ts, row["put_timestamp"])
                delete_ts = max(delete_ts, row["delete_timestamp"])
            deleted = int(delete_ts > put_ts and count == 0)
            if deleted:
                count = used = 0
            values = (put_ts, delete_ts, count, used, deleted, policy_index, name)
            if row is None:
                conn.execute(
                    "INSERT INTO container (put_timestamp, delete_timestamp, object_count,"
                    " bytes_used, deleted, storage_policy_index, name)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            else:
                conn.execute(
                    "UPDATE container SET put_timestamp = ?, delete_timestamp = ?,"
                    " object_count = ?, bytes_used = ?, deleted = ?, storage_policy_index = ?"
                    " WHERE name = ?",
                    values,
                )

    def policy_stats(self) -> dict[int, tuple[int, int, int]]:
        """policy index -> (containers, objects, bytes)."""
        rows = (
            self._conn()
            .execute(
                "SELECT storage_policy_index, count(*), sum(object_count), sum(bytes_used)"
                " FROM container WHERE deleted = 0 GROUP BY storage_policy_index"
            )
            .fetchall()
        )
        return {r[0]: (r[1], r[2] or 0, r[3] or 0) for r in rows}

    def list_containers(self, **query: Any) -> list[dict[str, Any]]:
        return list_names(
            self._conn(), "container", "name, object_count, bytes_used, put_timestamp", **query
        )
