"""Swift timestamps: seconds since the epoch as ``%016.05f`` (sortable as text)."""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC, datetime


def normalize(value: float | str) -> str:
    return f"{float(value):016.05f}"


def now() -> str:
    return normalize(time.time())


def valid(text: str) -> str | None:
    """The normalized form of an X-Timestamp header, or None if it is not one."""
    try:
        value = float(text.split("_", 1)[0])
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0 or value >= 10**10:
        return None
    return normalize(value)


def http_date(ts: str | float) -> str:
    """Last-Modified: the timestamp rounded up to the second, as Swift."""
    return email.utils.formatdate(math.ceil(float(ts)), usegmt=True)


_SECONDS: dict[int, str] = {}


def iso(ts: str | float) -> str:
    """The listings' ``last_modified``: 2024-01-02T03:04:05.678900 (the seconds part of
    recent values is remembered: a listing formats thousands of close timestamps)."""
    value = float(ts)
    whole = int(value)
    micro = round((value - whole) * 1_000_000)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    text = _SECONDS.get(whole)
    if text is None:
        if len(_SECONDS) > 65536:
            _SECONDS.clear()
        text = _SECONDS[whole] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{micro:06d}"


def parse_http_date(text: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
