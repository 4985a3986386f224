"""Checks of image attributes as Glance applies them (its image schema and domain rules)."""

from __future__ import annotations

import re
from typing import Any

from onestack.common.config import ImageSettings
from onestack.common.errors import BadRequest, Forbidden, PayloadTooLarge
from onestack.image.schemas import UUID_PATTERN, VISIBILITIES

#: Attributes a client may never send (403 "read-only").
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
#: Attributes only the service sets.
READONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
)
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_PREFIX = "os_glance"
#: Core attributes a client may set.
WRITABLE_CORE = (
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "tags",
    "owner",
)
CORE = (*WRITABLE_CORE, *READONLY, "locations")
_UUID = re.compile(UUID_PATTERN)
MAX_PROPERTY_VALUE = 65535


def schema_error(message: str) -> BadRequest:
    return BadRequest(f"Provided object does not match schema 'image': {message}")


def read_only(name: str) -> Forbidden:
    return Forbidden(f"Attribute '{name}' is read-only.")


def reserved(name: str) -> Forbidden:
    return Forbidden(f"Attribute '{name}' is reserved.")


def is_reserved(name: str) -> bool:
    return name in RESERVED or name.startswith(RESERVED_PREFIX)


def _string(name: str, value: Any, *, nullable: bool, max_length: int = 255) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str):
        raise schema_error(f"{value!r} is not of type 'string' ({name})")
    if len(value) > max_length:
        raise schema_error(f"{name} is too long (at most {max_length} characters)")


def _integer(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise schema_error(f"{value!r} is not of type 'integer' ({name})")
    if value < 0:
        raise BadRequest(f"{name} must be a non-negative integer.")
    if value > 2**31 - 1:
        raise BadRequest(f"{name} is too large.")


def check_core(conf: ImageSettings, name: str, value: Any) -> Any:
    """Validate one writable core attribute; returns the value to store."""
    if name in ("name", "owner"):
        _string(name, value, nullable=True)
    elif name == "visibility":
        if value not in VISIBILITIES:
            raise schema_error(f"{value!r} is not one of {VISIBILITIES} (visibility)")
    elif name in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise schema_error(f"{value!r} is not of type 'boolean' ({name})")
    elif name in ("container_format", "disk_format"):
        allowed = conf.container_formats if name == "container_format" else conf.disk_formats
        if value is not None and value not in allowed:
            raise schema_error(f"{value!r} is not one of {[None, *allowed]} ({name})")
    elif name in ("min_disk", "min_ram"):
        _integer(name, value)
    elif name == "tags":
        if not isinstance(value, list):
            raise schema_error(f"{value!r} is not of type 'array' (tags)")
        for tag in value:
            check_tag(tag)
        return list(dict.fromkeys(value))
    return value


def check_tag(tag: Any) -> None:
    if not isinstance(tag, str):
        raise schema_error(f"{tag!r} is not of type 'string' (tags)")
    if len(tag) > 255:
        raise schema_error("a tag is too long (at most 255 characters)")
    if not tag:
        raise BadRequest("A tag must not be empty.")


def check_property(name: str, value: Any) -> None:
    """A free property: a string name of at most 255 characters and a string value."""
    if len(name) > 255:
        raise BadRequest("Custom property should not be greater than 255 characters.")
    if not name:
        raise BadRequest("A property name must not be empty.")
    if not isinstance(value, str):
        raise schema_error(f"{value!r} is not of type 'string' ({name})")
    if len(value) > MAX_PROPERTY_VALUE:
        raise BadRequest(f"Property {name} is too long (at most {MAX_PROPERTY_VALUE} chars).")


def check_image_id(value: Any) -> str:
    if not isinstance(value, str) or not _UUID.match(value):
        raise schema_error(f"{value!r} does not match the UUID pattern (id)")
    return value.lower()


def check_count(what: str, attempted: int, maximum: int) -> None:
    """Glance's per-image limits (properties, tags, members): 413 beyond them."""
    if maximum >= 0 and attempted > maximum:
        raise PayloadTooLarge(
            f"Maximum number of {what} exceeded. Attempted: {attempted}, Maximum: {maximum}"
        )
