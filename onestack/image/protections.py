"""Property protections: who may create, read, update and delete which free properties.

The file (``[image] property_protection_file``) is INI: each section is a regular expression of
property names, with ``create``/``read``/``update``/``delete`` options. In the ``roles`` format
an option lists role names (``@``: everyone, ``!``: no one); in the ``policies`` format it names
one policy rule. The first section matching a name decides; a name matching none is refused.
Core attributes are never subject to protections.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable
from pathlib import Path

from onestack.common.context import RequestContext

OPERATIONS = ("create", "read", "update", "delete")


class ProtectionsError(ValueError):
    """The property protection file cannot be used."""


class PropertyProtections:
    def __init__(
        self,
        path: Path,
        rule_format: str = "roles",
        check_rule: Callable[[RequestContext, str], bool] | None = None,
    ):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with path.open() as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            raise ProtectionsError(f"cannot read property protections {path}: {exc}") from exc
        self.rule_format = rule_format
        self.check_rule = check_rule
        self.rules: list[tuple[re.Pattern[str], dict[str, tuple[str, ...]]]] = []
        for section in parser.sections():
            try:
                pattern = re.compile(section)
            except re.error as exc:
                raise ProtectionsError(f"invalid property pattern [{section}]: {exc}") from exc
            ops = {
                op: tuple(v.strip() for v in parser.get(section, op, fallback="!").split(","))
                for op in OPERATIONS
            }
            if rule_format == "policies" and any(len(v) != 1 for v in ops.values()):
                raise ProtectionsError(f"[{section}]: the policies format takes one rule per op")
            self.rules.append((pattern, ops))
        self._memo: dict[tuple[str, str, tuple[str, ...]], bool] = {}

    def allowed(self, ctx: RequestContext, name: str, op: str) -> bool:
        key = (name, op, ctx.roles)
        decision = self._memo.get(key)
        if decision is None or self.rule_format == "policies":
            decision = self._decide(ctx, name, op)
            if len(self._memo) > 65536:
                self._memo.clear()
            self._memo[key] = decision
        return decision

    def _decide(self, ctx: RequestContext, name: str, op: str) -> bool:
        for pattern, ops in self.rules:
            if pattern.match(name):
                allowed = ops[op]
                if "!" in allowed:
                    return False
                if "@" in allowed:
                    return True
                if self.rule_format == "policies":
                    return self.check_rule is not None and self.check_rule(ctx, allowed[0])
                return any(role in ctx.roles for role in allowed)
        return False
