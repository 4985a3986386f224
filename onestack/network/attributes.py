"""Neutron's attribute maps: each resource declares its attributes once (wire name, column,
who may set it, default, converter), and request parsing, filters, sorting and ``fields=`` all
follow from that declaration."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from onestack.network.errors import bad_request, invalid_input

MISSING: Any = object()
#: The attribute stays out of the parsed values unless the request gives it.
ABSENT: Any = object()
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
MAC_RE = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of a resource."""

    name: str
    column: str | None = None  # model attribute; None: computed by the resource module
    post: bool = True
    put: bool = False
    default: Any = MISSING  # MISSING: required on create (when ``post``)
    convert: Callable[[Any], Any] | None = None
    filter: bool = True
    sort: bool = True


@dataclass(slots=True)
class Resource:
    member: str  # "network"
    collection: str  # "networks"
    model: Any
    attrs: dict[str, Attr] = field(default_factory=dict)
    #: standard attributes on the model (name, description, project_id, timestamps, revision)
    standard: bool = True
    tags: bool = True

    def column(self, name: str) -> Any | None:
        attr = self.attrs.get(name)
        if attr is None or attr.column is None:
            return None
        return getattr(self.model, attr.column)


def resource(
    member: str,
    collection: str,
    model: Any,
    *attrs: Attr,
    standard: bool = True,
    tags: bool = True,
    name_default: Any = "",
) -> Resource:
    """A resource with the standard attributes plus ``attrs``."""
    table: dict[str, Attr] = {"id": Attr("id", "id", post=False)}
    if standard:
        table.update(
            {
                "name": Attr("name", "name", put=True, default=name_default, convert=string(255)),
                "description": Attr(
                    "description", "description", put=True, default="", convert=string(255)
                ),
                "project_id": Attr("project_id", "project_id", default=None, convert=string(255)),
                "tenant_id": Attr("tenant_id", "project_id", default=None, convert=string(255)),
                "created_at": Attr("created_at", "created_at", post=False),
                "updated_at": Attr("updated_at", "updated_at", post=False),
                "revision_number": Attr("revision_number", "revision_number", post=False),
            }
        )
    table.update({a.name: a for a in attrs})
    return Resource(member, collection, model, table, standard, tags)


# -- converters: each validates one value and returns it normalised, or raises a 400 --------
def string(max_len: int, *, nullable: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise invalid_input(f"'{value}' is not a valid string")
        if len(value) > max_len:
            raise invalid_input(f"'{value[:40]}...' exceeds maximum length of {max_len}")
        return value

    return convert


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise invalid_input(f"'{value}' cannot be converted to boolean")


def integer(
    low: int | None = None, high: int | None = None, *, nullable: bool = False
) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_input(f"'{value}' is not an integer")
        if (low is not None and value < low) or (high is not None and value > high):
            raise invalid_input(f"'{value}' is not in range {low} through {high}")
        return value

    return convert


def uuid(value: Any) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise invalid_input(f"'{value}' is not a valid UUID")
    return value.lower()


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid(value)


def one_of(*choices: Any, nullable: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if value not in choices:
            shown = ", ".join(str(c) for c in choices)
            raise invalid_input(f"'{value}' is not in [{shown}]")
        return value

    return convert


def ip_address(value: Any, *, version: int | None = None) -> str:
    if not isinstance(value, str):
        raise invalid_input(f"'{value}' is not a valid IP address")
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        raise invalid_input(f"'{value}' is not a valid IP address") from None
    if version is not None and addr.version != version:
        raise invalid_input(f"'{value}' is not an IPv{version} address")
    return str(addr)


def ip_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def cidr(value: Any) -> str:
    """A CIDR, normalised to its network address (``10.0.0.5/24`` -> ``10.0.0.0/24``)."""
    if not isinstance(value, str) or "/" not in value:
        raise invalid_input(f"'{value}' is not a valid IP subnet")
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise invalid_input(f"'{value}' is not a valid IP subnet") from None


def cidr_or_none(value: Any) -> str | None:
    return None if value is None else cidr(value)


def mac(value: Any) -> str:
    if not isinstance(value, str) or not MAC_RE.match(value):
        raise invalid_input(f"'{value}' is not a valid MAC address")
    return value.lower().replace("-", ":")


def list_of(item: Callable[[Any], Any], *, unique: bool = False) -> Callable[[Any], list[Any]]:
    def convert(value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid_input(f"'{value}' is not a list")
        out = [item(v) for v in value]
        if unique and len({repr(v) for v in out}) != len(out):
            raise invalid_input(f"Duplicate items in the list: '{value}'")
        return out

    return convert


def dict_of(
    keys: Mapping[str, Callable[[Any], Any]], required: tuple[str, ...] = ()
) -> Callable[[Any], dict[str, Any]]:
    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise invalid_input(f"'{value}' is not a dictionary")
        unknown = set(value) - set(keys)
        if unknown:
            raise invalid_input(f"Unrecognized keys {sorted(unknown)} in '{value}'")
        missing = [k for k in required if k not in value]
        if missing:
            raise invalid_input(f"'{value}' is missing {', '.join(missing)}")
        return {k: keys[k](v) for k, v in value.items()}

    return convert


def any_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_input(f"'{value}' is not a dictionary")
    return value


def any_string(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_input(f"'{value}' is not a valid string")
    return value


# -- request bodies ---------------------------------------------------------------------------
def body_of(res: Resource, body: Any) -> dict[str, Any]:
    """The ``{"network": {...}}`` object of a request body."""
    if not isinstance(body, dict) or not isinstance(body.get(res.member), dict):
        raise bad_request(f"Resource body required: a JSON object with key '{res.member}'.")
    return dict(body[res.member])


def parse_create(
    res: Resource, data: Mapping[str, Any], extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate a create body: unknown attributes, read-only ones, required ones, converters;
    defaults filled in. ``extra`` names attributes the resource module handles itself."""
    unknown = [k for k in data if k not in res.attrs and k not in extra]
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
    values: dict[str, Any] = {}
    for name, attr in res.attrs.items():
        if name in data:
            if not attr.post:
                raise bad_request(f"Attribute '{name}' not allowed in POST")
            raw = data[name]
            values[name] = attr.convert(raw) if attr.convert else raw
        elif attr.post:
            if attr.default is ABSENT:
                continue
            if attr.default is MISSING:
                raise bad_request(
                    f"Failed to parse request. Required attribute '{name}' not specified"
                )
            values[name] = attr.default() if callable(attr.default) else attr.default
    for name in extra:
        if name in data:
            values[name] = data[name]
    if values.get("tenant_id") and not values.get("project_id"):
        values["project_id"] = values["tenant_id"]
    if (
        values.get("tenant_id")
        and values.get("project_id")
        and values["tenant_id"] != values["project_id"]
    ):
        raise bad_request("'project_id' and 'tenant_id' do not match")
    values.pop("tenant_id", None)
    return values


def parse_update(
    res: Resource, data: Mapping[str, Any], extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    unknown = [k for k in data if k not in res.attrs and k not in extra]
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
    values: dict[str, Any] = {}
    for name, raw in data.items():
        if name in extra:
            values[name] = raw
            continue
        attr = res.attrs[name]
        if not attr.put:
            raise bad_request(f"Cannot update read-only attribute {name}")
        values[name] = attr.convert(raw) if attr.convert else raw
    return values
