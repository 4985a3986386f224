"""Keystone's mapping rule language: from a federated assertion to a user, groups, projects.

A mapping is a list of rules, each ``{"local": [...], "remote": [...]}``. A rule matches when
every ``remote`` requirement holds for the assertion; then its ``local`` templates are filled
with the values of the requirements that map directly (``{0}``, ``{1}`` ... in order). Every
matching rule contributes: the first user wins, groups and projects add up.

Remote requirements: ``{"type": NAME}`` (the attribute must be present; its values map),
``any_one_of`` / ``not_any_of`` (a condition; nothing maps), ``blacklist`` / ``whitelist``
(the attribute's values, filtered, map as a list); ``regex: true`` makes ``any_one_of`` and
``not_any_of`` (and the filters) regular expressions. Attribute values are split on ``;``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from onestack.common.errors import BadRequest, Unauthorized

SCHEMA_VERSIONS = ("1.0", "2.0")
_CONDITIONS = ("any_one_of", "not_any_of", "blacklist", "whitelist")
_STRINGS = {"type": "array", "items": {"type": "string"}}
_DOMAIN = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    "additionalProperties": False,
}
_ROLES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
        "additionalProperties": False,
    },
}
_PROJECT = {
    "type": "object",
    "required": ["name", "roles"],
    "properties": {
        "name": {"type": "string"},
        "roles": _ROLES,
        "domain": _DOMAIN,
    },
    "additionalProperties": False,
}
RULES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["local", "remote"],
        "additionalProperties": False,
        "properties": {
            "local": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "user": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "email": {"type": "string"},
                                "domain": _DOMAIN,
                                "type": {"type": "string", "enum": ["local", "ephemeral"]},
                            },
                            "additionalProperties": False,
                        },
                        "group": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "domain": _DOMAIN,
                            },
                            "additionalProperties": False,
                        },
                        "groups": {"type": "string"},
                        "group_ids": {"type": "string"},
                        "domain": _DOMAIN,
                        "projects": {"type": "array", "items": _PROJECT},
                    },
                },
            },
            "remote": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {"type": "string", "minLength": 1},
                        "any_one_of": _STRINGS,
                        "not_any_of": _STRINGS,
                        "blacklist": _STRINGS,
                        "whitelist": _STRINGS,
                        "regex": {"type": "boolean"},
                    },
                },
            },
        },
    },
}


def check_rules(rules: Any, schema_version: str) -> list[dict[str, Any]]:
    """400 unless ``rules`` is a valid mapping of ``schema_version``."""
    import jsonschema

    if schema_version not in SCHEMA_VERSIONS:
        raise BadRequest(f"schema_version must be one of {', '.join(SCHEMA_VERSIONS)}.")
    try:
        jsonschema.validate(rules, RULES_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "rules"
        raise BadRequest(f"Invalid mapping rules at {where}: {exc.message}") from None
    for rule in rules:
        for req in rule["remote"]:
            used = [c for c in _CONDITIONS if c in req]
            if len(used) > 1:
                raise BadRequest(
                    f"A remote requirement uses at most one of {', '.join(_CONDITIONS)}; "
                    f"{req['type']} uses {', '.join(used)}."
                )
            if req.get("regex"):
                for pattern in (p for c in used for p in req[c]):
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        raise BadRequest(f"Invalid regular expression {pattern!r}: {exc}") from None
        for local in rule["local"]:
            _check_local(local, schema_version)
    return list(rules)


def _check_local(local: dict[str, Any], schema_version: str) -> None:
    if "groups" in local and "domain" not in local:
        raise BadRequest("A local 'groups' entry needs a 'domain'.")
    group = local.get("group")
    if group is not None and "id" not in group and not ("name" in group and "domain" in group):
        raise BadRequest("A local group needs an id, or a name and a domain.")
    if schema_version == "1.0" and any("domain" in p for p in local.get("projects", [])):
        raise BadRequest("A project's domain needs mapping schema_version 2.0.")


@dataclass(slots=True)
class Mapped:
    """What an assertion maps to."""

    user: dict[str, Any] = field(default_factory=dict)
    group_ids: list[str] = field(default_factory=list)
    group_names: list[dict[str, Any]] = field(default_factory=list)
    projects: list[dict[str, Any]] = field(default_factory=list)


def normalize(name: str) -> str:
    """Attribute names match whatever their case and ``-``/``_`` (headers lose both)."""
    return name.upper().replace("-", "_")


def assertion_values(assertion: Mapping[str, str]) -> dict[str, list[str]]:
    """An assertion's attributes by normalized name, values split on ``;``."""
    return {normalize(k): [v for v in str(val).split(";") if v] for k, val in assertion.items()}


def _matches(pattern: str, value: str, regex: bool) -> bool:
    return re.search(pattern, value) is not None if regex else pattern == value


def _direct_values(req: Mapping[str, Any], values: dict[str, list[str]]) -> list[str] | None:
    """The values ``req`` maps (``[]`` for a condition that holds), None if it fails."""
    found = values.get(normalize(req["type"]))
    if not found:
        return None
    regex = bool(req.get("regex"))
    if "any_one_of" in req:
        ok = any(_matches(p, v, regex) for p in req["any_one_of"] for v in found)
        return [] if ok else None
    if "not_any_of" in req:
        bad = any(_matches(p, v, regex) for p in req["not_any_of"] for v in found)
        return None if bad else []
    if "blacklist" in req:
        return [v for v in found if not any(_matches(p, v, regex) for p in req["blacklist"])]
    if "whitelist" in req:
        return [v for v in found if any(_matches(p, v, regex) for p in req["whitelist"])]
    return found


def _positional(direct: list[list[str]]) -> list[Any]:
    """Values for ``{0}``, ``{1}`` ...: a single value as itself, several as a list."""
    return [values[0] if len(values) == 1 else values for values in direct]


def _fill(template: Any, direct: list[Any]) -> Any:
    if isinstance(template, dict):
        return {k: _fill(v, direct) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, direct) for v in template]
    if isinstance(template, str):
        try:
            return template.format(*direct)
        except (IndexError, KeyError, ValueError):
            raise Unauthorized(
                f"The mapping refers to a remote value that does not exist: {template!r}."
            ) from None
    return template


def _as_list(value: Any) -> list[str]:
    """``groups`` / ``group_ids`` values: a rendered list, ``;``-separated or one name."""
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = None
    if isinstance(parsed, list):
        return [str(v) for v in parsed]
    return [v for v in str(value).split(";") if v]


def evaluate(rules: list[dict[str, Any]], assertion: Mapping[str, str]) -> Mapped:
    """Apply ``rules`` to ``assertion``; 401 if nothing maps to a user."""
    values = assertion_values(assertion)
    out = Mapped()
    for rule in rules:
        direct: list[list[str]] = []
        for req in rule["remote"]:
            mapped = _direct_values(req, values)
            if mapped is None:
                break
            if any(c in req for c in ("blacklist", "whitelist")) or not any(
                c in req for c in ("any_one_of", "not_any_of")
            ):
                direct.append(mapped)
        else:
            for local in _fill(rule["local"], _positional(direct)):
                _collect(local, out)
    if not out.user:
        raise Unauthorized("Could not map any federated user properties to identity values.")
    out.user.setdefault("type", "ephemeral")
    out.group_ids = list(dict.fromkeys(out.group_ids))
    return out


def _collect(local: dict[str, Any], out: Mapped) -> None:
    if "user" in local and not out.user:
        out.user = dict(local["user"])
    group = local.get("group")
    if group is not None:
        if "id" in group:
            out.group_ids.append(str(group["id"]))
        else:
            out.group_names.append({"name": group["name"], "domain": group["domain"]})
    if "groups" in local:
        for name in _as_list(local["groups"]):
            out.group_names.append({"name": name, "domain": local["domain"]})
    if "group_ids" in local:
        out.group_ids.extend(_as_list(local["group_ids"]))
    if "projects" in local and not out.projects:
        out.projects = list(local["projects"])
