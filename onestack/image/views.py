"""Wire formats: images, members and tasks as Glance renders them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from onestack.image.models import ImageMember, Task

#: Core attributes (columns) of an image; everything else is a free property.
CORE_COLUMNS = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "size",
    "virtual_size",
    "status",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
)


def iso(value: dt.datetime | None) -> str | None:
    """Glance's timestamps: seconds precision, UTC, ``Z``."""
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def image_view(
    img: Any,
    properties: Mapping[str, str] | None = None,
    tags: Iterable[str] = (),
    stores: Iterable[str] = (),
) -> dict[str, Any]:
    """One image: free properties at the top level, then the core attributes."""
    image_id = img.id
    view: dict[str, Any] = dict(properties) if properties else {}
    view["name"] = img.name
    view["disk_format"] = img.disk_format
    view["container_format"] = img.container_format
    view["visibility"] = img.visibility
    view["size"] = img.size
    view["virtual_size"] = img.virtual_size
    view["status"] = img.status
    view["checksum"] = img.checksum
    view["protected"] = img.protected
    view["min_ram"] = img.min_ram
    view["min_disk"] = img.min_disk
    view["owner"] = img.owner
    view["os_hidden"] = img.os_hidden
    view["os_hash_algo"] = img.os_hash_algo
    view["os_hash_value"] = img.os_hash_value
    view["id"] = image_id
    view["created_at"] = iso(img.created_at)
    view["updated_at"] = iso(img.updated_at)
    view["tags"] = list(tags)
    view["self"] = f"/v2/images/{image_id}"
    view["file"] = f"/v2/images/{image_id}/file"
    view["schema"] = "/v2/schemas/image"
    stores = list(stores)
    if stores:
        view["stores"] = ",".join(stores)
    return view


def notification_payload(
    img: Any, properties: Mapping[str, str], tags: Iterable[str], *, deleted: bool = False
) -> dict[str, Any]:
    """The ``payload`` of image.* notifications (Glance's layout)."""
    return {
        "id": img.id,
        "name": img.name,
        "status": "deleted" if deleted else img.status,
        "created_at": iso(img.created_at),
        "updated_at": iso(img.updated_at),
        "min_disk": img.min_disk,
        "min_ram": img.min_ram,
        "protected": img.protected,
        "checksum": img.checksum,
        "os_hash_algo": img.os_hash_algo,
        "os_hash_value": img.os_hash_value,
        "owner": img.owner,
        "disk_format": img.disk_format,
        "container_format": img.container_format,
        "size": img.size,
        "virtual_size": img.virtual_size,
        "is_public": img.visibility == "public",
        "visibility": img.visibility,
        "os_hidden": img.os_hidden,
        "properties": dict(properties),
        "tags": list(tags),
        "deleted": deleted,
        "deleted_at": iso(dt.datetime.now(dt.UTC)) if deleted else None,
    }


def member_view(m: ImageMember) -> dict[str, Any]:
    return {
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "image_id": m.image_id,
        "member_id": m.member,
        "schema": "/v2/schemas/member",
        "status": m.status,
    }


def task_view(t: Task, *, detail: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "owner": t.owner,
        "expires_at": iso(t.expires_at),
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "self": f"/v2/tasks/{t.id}",
        "schema": "/v2/schemas/task",
    }
    if detail:
        view.update(
            input=t.input,
            result=t.result,
            message=t.message,
            image_id=t.image_id,
            request_id=t.request_id,
            user_id=t.user_id,
        )
    return view
