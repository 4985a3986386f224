"""Swift's limits (published in ``/info``) and the checks of names and metadata."""

from __future__ import annotations

from onestack.object.proxy.http import HTTPError

MAX_FILE_SIZE = 5 * 1024**3 + 2
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_OBJECT_NAME_LENGTH = 1024
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256
EXTRA_HEADER_COUNT = 0


def limits(policies: list[str] | None = None) -> dict[str, object]:
    return {
        "max_file_size": MAX_FILE_SIZE,
        "max_meta_name_length": MAX_META_NAME_LENGTH,
        "max_meta_value_length": MAX_META_VALUE_LENGTH,
        "max_meta_count": MAX_META_COUNT,
        "max_meta_overall_size": MAX_META_OVERALL_SIZE,
        "max_header_size": MAX_HEADER_SIZE,
        "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
        "container_listing_limit": CONTAINER_LISTING_LIMIT,
        "account_listing_limit": ACCOUNT_LISTING_LIMIT,
        "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
        "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
        "extra_header_count": EXTRA_HEADER_COUNT,
        "valid_api_versions": ["v1", "v1.0"],
        "strict_cors_mode": True,
        "allow_account_management": False,
        "account_autocreate": True,
        "policies": [
            {"name": name, "aliases": name, **({"default": True} if i == 0 else {})}
            for i, name in enumerate(policies or ["Policy-0"])
        ],
    }


def check_utf8(raw: bytes) -> str:
    """The decoded name; invalid UTF-8 or a NUL is 412 as in Swift."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(412, "Invalid UTF8 or contains NULL") from None
    if "\x00" in text:
        raise HTTPError(412, "Invalid UTF8 or contains NULL")
    return text


def check_container_name(name: str) -> None:
    if len(name.encode()) > MAX_CONTAINER_NAME_LENGTH:
        raise HTTPError(
            400,
            f"Container name length of {len(name.encode())} longer than "
            f"{MAX_CONTAINER_NAME_LENGTH}",
        )


def check_object_name(name: str) -> None:
    if len(name.encode()) > MAX_OBJECT_NAME_LENGTH:
        raise HTTPError(
            400, f"Object name length of {len(name.encode())} longer than {MAX_OBJECT_NAME_LENGTH}"
        )


def check_metadata(headers: dict[str, str], kind: str) -> dict[str, str]:
    """The ``X-<Kind>-Meta-*`` headers (names lower-cased), checked against the limits."""
    prefix = f"x-{kind}-meta-"
    meta: dict[str, str] = {}
    size = count = 0
    for name, value in headers.items():
        if not name.startswith(prefix):
            continue
        key = name[len(prefix) :]
        if not key:
            raise HTTPError(400, "Metadata name cannot be empty")
        if len(key) > MAX_META_NAME_LENGTH:
            raise HTTPError(400, f"Metadata name too long: {name}; max {MAX_META_NAME_LENGTH}")
        if len(value) > MAX_META_VALUE_LENGTH:
            raise HTTPError(400, f"Metadata value longer than {MAX_META_VALUE_LENGTH}: {name}")
        count += 1
        size += len(key) + len(value)
        meta[name] = value
    if count > MAX_META_COUNT:
        raise HTTPError(400, f"Too many metadata items; max {MAX_META_COUNT}")
    if size > MAX_META_OVERALL_SIZE:
        raise HTTPError(400, f"Total metadata too large; max {MAX_META_OVERALL_SIZE}")
    return meta


def listing_limit(value: str | None, maximum: int) -> int:
    if value is None or value == "":
        return maximum
    try:
        limit = int(value)
    except ValueError:
        raise HTTPError(412, "Value of limit must be a positive integer") from None
    if limit < 0:
        raise HTTPError(412, "Value of limit must be a positive integer")
    if limit > maximum:
        raise HTTPError(412, f"Maximum limit is {maximum}")
    return limit
