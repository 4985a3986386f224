"""The SQLite database behind one account or one container (as Swift keeps them): a file in
the hashed partition directory of its device, WAL mode, connections kept open per file."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

#: (file, thread) -> connection: the daemons run in threads, and a connection (with its
#: transaction) must not be shared between the event loop and a daemon pass
_CONNECTIONS: OrderedDict[tuple[str, int], sqlite3.Connection] = OrderedDict()
_LOCK = threading.Lock()
_MAX_OPEN = 256


def connect(path: Path, schema: str | None = None) -> sqlite3.Connection:
    """The open connection to ``path``; created with ``schema`` if the file is new."""
    key = (str(path), threading.get_ident())
    with _LOCK:
        conn = _CONNECTIONS.get(key)
        if conn is not None:
            if path.exists():
                _CONNECTIONS.move_to_end(key)
                return conn
            conn.close()
            del _CONNECTIONS[key]
    if schema is None and not path.exists():
        raise FileNotFoundError(key[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(key[0], isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if schema is not None:
        conn.executescript(schema)
    with _LOCK:
        _CONNECTIONS[key] = conn
        while len(_CONNECTIONS) > _MAX_OPEN:
            _, old = _CONNECTIONS.popitem(last=False)
            old.close()
    return conn


def forget(path: Path) -> None:
    """Close every connection to ``path`` (the file is about to go)."""
    with _LOCK:
        for key in [k for k in _CONNECTIONS if k[0] == str(path)]:
            _CONNECTIONS.pop(key).close()


def close_all() -> None:
    with _LOCK:
        while _CONNECTIONS:
            _, conn = _CONNECTIONS.popitem()
            conn.close()


def merge_metadata(current: str, updates: dict[str, list[Any]]) -> str:
    """Metadata as ``{name: [value, timestamp]}``; a newer timestamp wins, "" removes later."""
    meta: dict[str, list[Any]] = orjson.loads(current or "{}")
    for key, (value, ts) in updates.items():
        if key not in meta or meta[key][1] < ts:
            meta[key] = [value, ts]
    return orjson.dumps(meta).decode()


def live_metadata(current: str) -> dict[str, str]:
    return {k: v for k, (v, _ts) in orjson.loads(current or "{}").items() if v != ""}
