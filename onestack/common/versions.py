"""Version discovery documents."""

from __future__ import annotations

from typing import Any


def version_entry(
    version_id: str,
    href: str,
    *,
    status: str = "stable",
    updated: str,
    media_type: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of a ``versions`` list / the body of a ``version`` document."""
    entry: dict[str, Any] = {
        "id": version_id,
        "status": status,
        "updated": updated,
        "links": [{"rel": "self", "href": href}],
        "media-types": [{"base": "application/json", "type": media_type}],
    }
    entry.update(extra or {})
    return entry
