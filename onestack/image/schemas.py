"""The JSON schemas Glance publishes under ``/v2/schemas`` (image, member, task and lists).

Field names, types and enums are Glance's wire contract; clients such as python-glanceclient
read them to learn which attributes are core and which are free properties.
"""

from __future__ import annotations

from typing import Any

from onestack.common.config import ImageSettings

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
IMAGE_STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
]
VISIBILITIES = ["community", "public", "private", "shared"]
MEMBER_STATUSES = ["pending", "accepted", "rejected"]
TASK_STATUSES = ["pending", "processing", "success", "failure"]


def _ro(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description, **extra}


def image_properties(conf: ImageSettings) -> dict[str, Any]:
    return {
        "id": {"type": "string", "description": "The image's UUID.", "pattern": UUID_PATTERN},
        "name": {"type": ["null", "string"], "description": "Image name.", "maxLength": 255},
        "status": _ro("string", "Lifecycle state of the image.", enum=IMAGE_STATUSES),
        "visibility": {
            "type": "string",
            "description": "Who may see and use the image.",
            "enum": VISIBILITIES,
        },
        "protected": {"type": "boolean", "description": "A protected image cannot be deleted."},
        "os_hidden": {
            "type": "boolean",
            "description": "Hidden images are left out of default image lists.",
        },
        "checksum": _ro(["null", "string"], "MD5 of the image data.", maxLength=32),
        "os_hash_algo": _ro(["null", "string"], "Algorithm of os_hash_value.", maxLength=64),
        "os_hash_value": _ro(["null", "string"], "Hex digest of the image data.", maxLength=128),
        "owner": {"type": ["null", "string"], "description": "Owning project.", "maxLength": 255},
        "size": _ro(["null", "integer"], "Bytes of image data."),
        "virtual_size": _ro(["null", "integer"], "Size of the disk the image holds, bytes."),
        "container_format": {
            "type": ["null", "string"],
            "description": "Container format of the image data.",
            "enum": [None, *conf.container_formats],
        },
        "disk_format": {
            "type": ["null", "string"],
            "description": "Disk format of the image data.",
            "enum": [None, *conf.disk_formats],
        },
        "created_at": _ro("string", "Creation time."),
        "updated_at": _ro("string", "Time of the last change."),
        "tags": {
            "type": "array",
            "description": "Free-form labels.",
            "items": {"type": "string", "maxLength": 255},
        },
        "direct_url": _ro("string", "Store URL of the image data (when shown)."),
        "min_ram": {"type": "integer", "description": "RAM (MiB) needed to boot the image."},
        "min_disk": {"type": "integer", "description": "Disk (GiB) needed to boot the image."},
        "self": _ro("string", "URL of this image."),
        "file": _ro("string", "URL of the image data."),
        "stores": _ro("string", "Comma-separated ids of the stores holding the data."),
        "schema": _ro("string", "URL of this schema."),
        "locations": {
            "type": "array",
            "description": "Store locations of the image data (when shown).",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                },
                "required": ["url", "metadata"],
            },
        },
    }


def image_schema(conf: ImageSettings) -> dict[str, Any]:
    return {
        "name": "image",
        "properties": image_properties(conf),
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


MEMBER_SCHEMA: dict[str, Any] = {
    "name": "member",
    "properties": {
        "member_id": {"type": "string", "description": "The project the image is shared with."},
        "image_id": {"type": "string", "description": "The image.", "pattern": UUID_PATTERN},
        "created_at": {"type": "string", "description": "When the member was added."},
        "updated_at": {"type": "string", "description": "When the member last changed."},
        "status": {
            "type": "string",
            "description": "Whether the member accepted the image.",
            "enum": MEMBER_STATUSES,
        },
        "schema": {"type": "string", "readOnly": True},
    },
}

TASK_SCHEMA: dict[str, Any] = {
    "name": "task",
    "properties": {
        "id": {"type": "string", "description": "The task's UUID.", "pattern": UUID_PATTERN},
        "type": {"type": "string", "description": "Kind of task.", "enum": ["import"]},
        "status": {"type": "string", "description": "Task state.", "enum": TASK_STATUSES},
        "input": {"type": ["null", "object"], "description": "What the task was asked to do."},
        "result": {"type": ["null", "object"], "description": "What the task produced."},
        "owner": {"type": "string", "description": "Owning project."},
        "message": {"type": "string", "description": "Human-readable outcome."},
        "image_id": {"type": "string", "description": "The image the task works on."},
        "request_id": {"type": "string", "description": "Request that created the task."},
        "user_id": {"type": "string", "description": "User who created the task."},
        "expires_at": {"type": ["null", "string"], "description": "When the task is purged."},
        "created_at": {"type": "string", "description": "Creation time."},
        "updated_at": {"type": "string", "description": "Time of the last change."},
        "self": {"type": "string"},
        "schema": {"type": "string"},
    },
    "links": [
        {"rel": "self", "href": "{self}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}


def schemas(conf: ImageSettings) -> dict[str, dict[str, Any]]:
    """Every published schema by name."""
    image = image_schema(conf)
    members = collection("members", MEMBER_SCHEMA)
    members.pop("links")
    members["properties"].pop("first")
    members["properties"].pop("next")
    return {
        "image": image,
        "images": collection("images", image),
        "member": MEMBER_SCHEMA,
        "members": members,
        "task": TASK_SCHEMA,
        "tasks": collection("tasks", TASK_SCHEMA),
    }
