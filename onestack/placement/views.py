"""The wire shapes of Placement resources, per microversion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

from fastapi import Request

from onestack.common.db import utcnow
from onestack.common.microversions import Version
from onestack.placement.api.common import path_to
from onestack.placement.providers import Provider


def provider_view(request: Request, rp: Provider, v: Version) -> dict[str, Any]:
    return provider_renderer(request, v)(rp)


def provider_renderer(request: Request, v: Version) -> Callable[[Provider], dict[str, Any]]:
    """A function that renders a provider at ``v``: the version's links and fields worked out
    once for a whole list."""
    rels = [("self", ""), ("inventories", "/inventories"), ("usages", "/usages")]
    if v >= "1.1":
        rels.append(("aggregates", "/aggregates"))
    if v >= "1.6":
        rels.append(("traits", "/traits"))
    if v >= "1.11":
        rels.append(("allocations", "/allocations"))
    prefix = path_to(request, "/resource_providers/")
    with_tree = v >= "1.14"

    def render(rp: Provider) -> dict[str, Any]:
        base = prefix + rp.uuid
        body: dict[str, Any] = {
            "uuid": rp.uuid,
            "name": rp.name,
            "generation": rp.generation,
            "links": [{"rel": rel, "href": base + tail} for rel, tail in rels],
        }
        if with_tree:
            body["parent_provider_uuid"] = rp.parent_uuid
            body["root_provider_uuid"] = rp.root_uuid
        return body

    return render


def cache_headers(v: Version, last_modified: dt.datetime | None = None) -> dict[str, str]:
    """From 1.15 every GET says when its content last changed and that it must not be
    cached."""
    if v < "1.15":
        return {}
    when = (last_modified or utcnow()).replace(tzinfo=dt.UTC, microsecond=0)
    return {"last-modified": format_datetime(when, usegmt=True), "cache-control": "no-cache"}
