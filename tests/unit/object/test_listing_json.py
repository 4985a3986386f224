"""The JSON container listing rendered by SQLite equals the one rendered row by row in Python
(the format every other listing path uses), for every query a client can send."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from onestack.object import timestamps
from onestack.object.proxy.listings import object_entry
from onestack.object.servers.container import SCHEMA, ContainerBroker

NAMES = ["a", "a/b", "a/c", "b", "b-1", "ü/é", "z" * 200, 'x"quote\\', "tab\tname", "日本"]


@pytest.fixture
def broker(tmp_path: Path) -> ContainerBroker:
    db = ContainerBroker(tmp_path / "c.db")
    db.initialize("AUTH_t", "c", timestamps.now(), 0)
    rng = random.Random(7)
    rows = []
    for i, name in enumerate(NAMES + [f"obj-{n:04d}" for n in range(300)]):
        ts = timestamps.normalize(rng.uniform(0, 2_000_000_000))
        extra = orjson.dumps({"symlink_path": "/v1/x/y"}).decode() if i % 7 == 0 else "{}"
        rows.append(
            (
                name,
                ts,
                rng.randint(0, 10**12),
                'text/plain;x="1"',
                f"{i:032x}",
                int(i % 11 == 5),
                extra,
            )
        )
    db.merge_rows(rows)
    return db


def python_listing(db: ContainerBroker, **query: object) -> list[object]:
    return [object_entry(r) for r in db.list_objects(delimiter="", **query)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 10000},
        {"limit": 5},
        {"limit": 50, "marker": "b"},
        {"limit": 50, "end_marker": "obj-0100"},
        {"limit": 50, "prefix": "obj-01"},
        {"limit": 50, "prefix": "a"},
        {"limit": 20, "reverse": True},
        {"limit": 20, "reverse": True, "marker": "obj-0200", "end_marker": "obj-0100"},
        {"limit": 20, "prefix": "nothing-here"},
    ],
)
def test_sql_listing_equals_python_listing(broker: ContainerBroker, query: dict) -> None:
    full = {"marker": "", "end_marker": "", "prefix": "", "reverse": False, **query}
    sql = broker.listing_json(delimiter="", **full)
    assert sql is not None
    assert orjson.loads(sql) == python_listing(broker, **full)


def test_delimiter_is_left_to_python(broker: ContainerBroker) -> None:
    assert broker.listing_json(limit=10, delimiter="/") is None


def test_rows_written_before_the_entry_column_render_the_same(broker: ContainerBroker) -> None:
    stored = broker.listing_json(limit=10000)
    broker._conn().execute("UPDATE object SET entry = NULL")  # as rows of an older database
    assert broker.listing_json(limit=10000) == stored
    assert orjson.loads(stored) == python_listing(broker, limit=10000)


def test_a_database_without_the_entry_column_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = SCHEMA.replace(", entry TEXT", "")
    assert old != SCHEMA
    conn = sqlite3.connect(path)
    conn.executescript(old)
    conn.execute("INSERT INTO container_stat (account, container, created_at) "
                 "VALUES ('AUTH_t', 'c', '1.00000')")
    conn.execute("INSERT INTO object VALUES ('old', '1700000000.00000', 3, 'text/plain', "
                 "'e', 0, '{}')")
    conn.commit()
    conn.close()
    db = ContainerBroker(path)
    db.put_object("new", "1700000001.00000", 4, "text/plain", "f")
    listed = orjson.loads(db.listing_json(limit=10) or b"")
    assert [e["name"] for e in listed] == ["new", "old"]
    assert listed == python_listing(db, limit=10)
    assert db.rows_since("", 10)[0] == ("new", "1700000001.00000", 4, "text/plain", "f", 0, "{}")
