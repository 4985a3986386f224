"""Rendering helpers shared by the Identity API views."""

from __future__ import annotations

import datetime as dt


def isotime(value: dt.datetime | None) -> str | None:
    """Keystone's timestamp format: ``2015-11-05T22:00:11.000000Z``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def app_cred_time(value: dt.datetime | None) -> str | None:
    """An application credential's ``expires_at`` as Keystone renders it: naive UTC with
    microseconds and no zone (``2015-11-05T22:00:11.123456``)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_isotime(value: str) -> dt.datetime:
    """Naive UTC from an ISO 8601 string (``Z`` or offset accepted)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
