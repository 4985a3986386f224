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


def iso(ts: str | float) -> str:
    """The listings' ``last_modified``: 2024-01-02T03:04:05.678900."""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


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
