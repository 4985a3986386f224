"""What the Placement handlers share: the caller, JSON bodies validated by JSON Schema, query
strings, links, version checks and Placement's error codes."""

from __future__ import annotations

import functools
import re
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Depends, Request

from onestack.common import errors
from onestack.common.api import _has_nul
from onestack.common.auth import authenticated
from onestack.common.microversions import Version, microversion

Caller = Depends(authenticated)
MAX_INT = 2147483647
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
UUID_SCHEMA = {"type": "string", "pattern": UUID_RE.pattern}
RC_NAME = r"^[A-Z0-9_]+$"
CONCURRENT = "placement.concurrent_update"


def version(request: Request) -> Version:
    return microversion(request)


def conflict(message: str, code: str | None = CONCURRENT) -> errors.Conflict:
    return errors.Conflict(message, error_code=code)


def not_found(message: str, code: str | None = None) -> errors.NotFound:
    return errors.NotFound(message, error_code=code)


def bad_request(message: str, code: str | None = None) -> errors.BadRequest:
    return errors.BadRequest(message, error_code=code)


def normalize_uuid(value: str) -> str:
    """A UUID in its dashed lowercase form; anything else is a 400."""
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise bad_request(f"Malformed uuid: {value!r}.")
    return str(uuidlib.UUID(value))


def is_uuid(value: str) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    import jsonschema  # ~50 ms of imports: only when the first body comes

    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


async def json_body(request: Request, schema: dict[str, Any]) -> Any:
    """The JSON body validated against ``schema``; any problem is a 400 as Placement says."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    if raw and "json" not in ctype.lower():
        raise errors.UnsupportedMediaType(
            f"The media type {ctype or 'None'} is not supported, use application/json"
        )
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Malformed JSON: {exc}") from None
    if raw and _has_nul(data):
        raise bad_request("JSON does not validate: strings must not contain NUL characters.")
    validate(data, schema)
    return data


def validate(data: Any, schema: dict[str, Any]) -> None:
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        suffix = f" (at {where})" if where else ""
        raise bad_request(f"JSON does not validate: {error.message}{suffix}")


def query(request: Request, allowed: Iterable[str], *, patterns: Iterable[str] = ()) -> None:
    """400 for a query parameter the route (at this version) does not take, or a repeated one
    (``patterns`` are regexes of parameter names taken, e.g. granular ``resources_X``)."""
    allowed = set(allowed)
    compiled = [re.compile(p) for p in patterns]
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key not in allowed and not any(p.fullmatch(key) for p in compiled):
            raise bad_request(
                f"Invalid query string parameters: Additional properties are not allowed "
                f"('{key}' was unexpected)",
                "placement.query.bad_value",
            )
        if (
            key in seen
            and key not in ("member_of", "required")
            and not key.startswith(("member_of", "required"))
        ):
            raise bad_request(
                f"Invalid query string parameters: '{key}' given more than once",
                "placement.query.duplicate_key",
            )
        seen.add(key)


def path_to(request: Request, path: str) -> str:
    """A link as Placement writes them: the path from the host (mount prefix included)."""
    return request.scope.get("root_path", "").rstrip("/") + path


def location_to(request: Request, path: str) -> str:
    """A Location header: absolute, as webob makes it upstream (clients follow it as is)."""
    from onestack.common.api import base_url

    return base_url(request) + path


def parse_resources(text: str, param: str = "resources") -> dict[str, int]:
    """``VCPU:2,MEMORY_MB:512`` -> ``{"VCPU": 2, "MEMORY_MB": 512}``."""
    result: dict[str, int] = {}
    for part in text.split(","):
        name, sep, amount = part.strip().partition(":")
        name = name.strip()
        if not sep or not name or not re.match(RC_NAME, name):
            raise bad_request(
                f"Badly formed resources parameter. Expected resources query string parameter "
                f"in form: ?{param}=VCPU:2,MEMORY_MB:1024. Got: {text}.",
                "placement.query.bad_value",
            )
        try:
            value = int(amount.strip())
        except ValueError:
            value = -1
        if value < 1 or value > MAX_INT:
            raise bad_request(
                f"Requested resource {name} expected positive integer amount. Got: {amount}.",
                "placement.query.bad_value",
            )
        if name in result:
            raise bad_request(
                f"Resource class {name} given more than once in {param}.",
                "placement.query.duplicate_key",
            )
        result[name] = value
    return result


def parse_traits(
    values: list[str], at: Version, param: str = "required"
) -> tuple[list[frozenset[str]], set[str]]:
    """``required`` values -> (any-of groups that must all be met, forbidden names).

    ``A,B`` requires both, ``!C`` forbids (1.22), ``in:D,E`` requires one of them (1.39);
    each repeated parameter adds to the conjunction."""
    required: list[frozenset[str]] = []
    forbidden: set[str] = set()
    for value in values:
        text = value.strip()
        if text.startswith("in:"):
            if at < "1.39":
                raise bad_request(
                    f"Invalid trait name(s) in {param}: 'in:' is supported from 1.39.",
                    "placement.query.bad_value",
                )
            names = [n.strip() for n in text[3:].split(",")]
            if not all(names) or any(n.startswith("!") for n in names):
                raise bad_request(
                    f"Invalid {param} parameter: {value}", "placement.query.bad_value"
                )
            required.append(frozenset(names))
            continue
        parts = [n.strip() for n in text.split(",")]
        if not all(parts):
            raise bad_request(
                f"Invalid query string parameters: Expected '{param}' "
                f"parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. "
                f"Got: {value}",
                "placement.query.bad_value",
            )
        for name in parts:
            if name.startswith("!"):
                if at < "1.22":
                    raise bad_request(
                        f"Invalid query string parameters: Expected '{param}' "
                        f"parameter value of the form: HW_CPU_X86_VMX,"
                        f"CUSTOM_MAGIC. Got: {value}",
                        "placement.query.bad_value",
                    )
                forbidden.add(name[1:])
            else:
                required.append(frozenset([name]))
    clash = {n for group in required if len(group) == 1 for n in group} & forbidden
    if clash:
        raise bad_request(
            f"Conflicting required and forbidden traits found in the following traits "
            f"keys: {param}: ({', '.join(sorted(clash))})",
            "placement.query.bad_value",
        )
    return required, forbidden


def parse_member_of(
    values: list[str], at: Version, param: str = "member_of"
) -> tuple[list[frozenset[str]], set[str]]:
    """``member_of`` values -> (any-of aggregate sets that must all hold, forbidden ones).

    ``in:a,b`` (or a single uuid) is one any-of set; several parameters AND (1.24); ``!a`` and
    ``!in:a,b`` forbid (1.32)."""
    if len(values) > 1 and at < "1.24":
        raise bad_request(
            "Multiple member_of parameters are not supported.", "placement.query.duplicate_key"
        )
    required: list[frozenset[str]] = []
    forbidden: set[str] = set()
    for value in values:
        text = value.strip()
        negative = text.startswith("!")
        if negative:
            if at < "1.32":
                raise bad_request(
                    f"Invalid query string parameters: Expected '{param}' "
                    f"parameter to contain valid UUID(s). Got: {value}",
                    "placement.query.bad_value",
                )
            text = text[1:]
        if text.startswith("in:"):
            text = text[3:]
        elif "," in text:
            raise bad_request(
                f"Invalid query string parameters: Expected '{param}' parameter to contain "
                f"valid UUID(s). Got: {value}",
                "placement.query.bad_value",
            )
        uuids = [u.strip() for u in text.split(",")]
        if not uuids or not all(is_uuid(u) for u in uuids):
            raise bad_request(
                f"Invalid query string parameters: Expected '{param}' parameter to contain "
                f"valid UUID(s). Got: {value}",
                "placement.query.bad_value",
            )
        normalized = frozenset(str(uuidlib.UUID(u)) for u in uuids)
        if negative:
            if (
                len(normalized) > 1
                and value.strip().startswith("!")
                and not value.strip()[1:].startswith("in:")
            ):
                raise bad_request(
                    f"Invalid query string parameters: {value}", "placement.query.bad_value"
                )
            forbidden |= normalized
        else:
            required.append(normalized)
    return required, forbidden
