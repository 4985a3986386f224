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


PROPERTY_DEF: dict[str, Any] = {
    "type": "object",
    "required": ["title", "type"],
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "type": {
            "type": "string",
            "enum": ["array", "boolean", "integer", "number", "object", "string", None],
        },
        "default": {},
        "readonly": {"type": "boolean"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "pattern": {"type": "string", "format": "regex"},
        "minLength": {"type": "integer", "minimum": 0},
        "maxLength": {"type": "integer", "minimum": 0},
        "enum": {"type": "array"},
        "items": {"type": "object"},
        "uniqueItems": {"type": "boolean"},
        "minItems": {"type": "integer", "minimum": 0},
        "maxItems": {"type": "integer", "minimum": 0},
        "additionalItems": {"type": "boolean"},
    },
}
_STAMPS: dict[str, Any] = {
    "created_at": {"type": "string", "readOnly": True, "format": "date-time"},
    "updated_at": {"type": "string", "readOnly": True, "format": "date-time"},
}


def metadef_schemas() -> dict[str, dict[str, Any]]:
    """The ``/v2/schemas/metadefs/*`` documents."""
    namespace = {
        "name": "namespace",
        "required": ["namespace"],
        "additionalProperties": False,
        "properties": {
            "namespace": {"type": "string", "maxLength": 80},
            "display_name": {"type": "string", "maxLength": 80},
            "description": {"type": "string", "maxLength": 500},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "protected": {"type": "boolean"},
            "owner": {"type": "string", "maxLength": 255},
            "resource_type_associations": {"type": "array", "items": {"type": "object"}},
            "properties": {"type": "object", "additionalProperties": PROPERTY_DEF},
            "objects": {"type": "array", "items": {"type": "object"}},
            "tags": {"type": "array", "items": {"type": "object"}},
            "schema": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
            **_STAMPS,
        },
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }
    obj = {
        "name": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"type": "array", "items": {"type": "string"}},
            "properties": {"type": "object", "additionalProperties": PROPERTY_DEF},
            "schema": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
            **_STAMPS,
        },
    }
    prop = {"name": "property", **PROPERTY_DEF, "required": ["name", "title", "type"]}
    tag = {
        "name": "tag",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 80}, **_STAMPS},
    }
    rtype = {
        "name": "resource_type_association",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "prefix": {"type": "string", "maxLength": 80},
            "properties_target": {"type": "string", "maxLength": 80},
            **_STAMPS,
        },
    }
    properties = {
        "name": "properties",
        "properties": {"properties": {"type": "object", "additionalProperties": PROPERTY_DEF}},
    }
    return {
        "namespace": namespace,
        "namespaces": collection("namespaces", namespace),
        "object": obj,
        "objects": collection("objects", obj),
        "property": prop,
        "properties": properties,
        "tag": tag,
        "tags": collection("tags", tag),
        "resource_type": rtype,
        "resource_types": collection("resource_type_associations", rtype),
    }
