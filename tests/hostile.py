"""Hostile values the services' input sweeps send (tests/functional/*/test_*input.py)."""

from __future__ import annotations

from typing import Any

HUGE = "x" * 100_000
#: Values no field of an API accepts as a short string, a boolean or a small integer.
WRONG: dict[str, Any] = {
    "int": 12345,
    "float": 1.5,
    "true": True,
    "list": ["a"],
    "object": {"a": 1},
    "huge-int": 10**30,
    "negative": -1,
    "huge-string": HUGE,
    "nul": "a\x00b",
    "deep": {"a": [{"b": [{"c": [1]}]}]},
}
#: Request bodies that are not a JSON object.
RAW: dict[str, bytes] = {
    "not-json": b"{not json",
    "empty": b"",
    "array": b"[1, 2]",
    "null": b"null",
    "string": b'"body"',
    "number": b"42",
    "nested-too-deep": b"[" * 5000 + b"]" * 5000,
    "bad-utf8": b'{"a": "\xff\xfe"}',
}
