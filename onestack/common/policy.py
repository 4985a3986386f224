"""Policy enforcement in the oslo.policy rule language.

Defaults live in code (each service's ``policies.py``); an operator's policy.yaml overrides any
rule and means the same as it does upstream, because oslo.policy itself evaluates it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from onestack.common.context import RequestContext
from onestack.common.errors import Forbidden

LOG = logging.getLogger(__name__)


def flatten(target: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"target": {"user": {"domain_id": "d"}}}`` -> ``{"target.user.domain_id": "d", ...}``.

    ``None`` values are left out, so a rule naming them fails instead of matching ``None``.
    """
    flat: dict[str, Any] = {}
    for key, value in target.items():
        name = f"{prefix}{key}"
        if value is None:
            # oslo.policy renders None as "None", which would match a None credential
            # (a project-scoped token has domain_id None): a missing value must fail the check.
            continue
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


_MAX_DECISIONS = 8192


def _frozen(mapping: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(mapping.items()))


class Policy:
    """One service's rules: code defaults, overridable by a policy file."""

    def __init__(self, defaults: Mapping[str, str], policy_file: Path | None = None):
        self._defaults = dict(defaults)
        self._policy_file = policy_file
        self._enforcer: Any = None
        self._loaded_at = 0.0
        self._decisions: dict[tuple[Any, ...], bool] = {}
        if policy_file is not None and policy_file.exists():
            self._load()  # an operator's file is read (and rejected if broken) at start
        # code defaults alone are parsed on the first check: a tenth of a second per service
        # off the cloud's start-up

    def _load(self) -> Any:
        from oslo_config import cfg  # oslo.policy and oslo.config: 0.2 s to import
        from oslo_policy import opts as policy_opts
        from oslo_policy import policy as oslo_policy

        conf = cfg.ConfigOpts()
        conf([], project="onestack", default_config_files=[], default_config_dirs=[])
        policy_opts.set_defaults(conf, enforce_scope=False, enforce_new_defaults=True)
        enforcer = oslo_policy.Enforcer(
            conf,
            policy_file=str(self._policy_file) if self._policy_file else "policy.yaml",
            use_conf=True,
        )
        enforcer.register_defaults(
            [oslo_policy.RuleDefault(name, check) for name, check in self._defaults.items()]
        )
        enforcer.load_rules()
        self._enforcer = enforcer
        self._loaded_at = time.monotonic()
        return enforcer

    def _rules(self) -> Any:
        """The parsed rules; the policy file is looked at again at most once a second."""
        if self._enforcer is None:
            return self._load().rules
        now = time.monotonic()
        if now - self._loaded_at > 1.0:
            self._loaded_at = now
            before = self._enforcer.rules
            self._enforcer.load_rules()
            if self._enforcer.rules is not before:
                self._decisions.clear()
        return self._enforcer.rules

    def check(
        self, context: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        rules = self._rules()
        creds = context.policy_credentials()
        flat = flatten(target or {})
        # oslo.policy inspects every check's signature on every call (~200 us per rule), and a
        # decision depends only on the rules, the credentials and the target: remember it.
        key = (rule, _frozen(creds), _frozen(flat))
        decision = self._decisions.get(key)
        if decision is None:
            check = rules.get(rule)
            if check is None:
                LOG.error("policy rule %s is not defined; denying", rule)
                return False
            decision = bool(check(flat, creds, self._enforcer, rule))
            if len(self._decisions) >= _MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def enforce(
        self, context: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        """Raise :class:`Forbidden` unless ``rule`` allows ``context`` on ``target``."""
        if not self.check(context, rule, target):
            LOG.debug("policy %s denied user %s", rule, context.user_id)
            raise Forbidden(f"You are not authorized to perform the requested action: {rule}.")
