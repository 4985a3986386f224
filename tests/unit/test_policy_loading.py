"""Code-default rules are parsed on the first check (start-up cost); an operator's policy file
is read at construction, so a broken one is refused when the service starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.common.context import RequestContext
from onestack.common.policy import Policy


def _member() -> RequestContext:
    return RequestContext(request_id="req-1", user_id="u", project_id="p", roles=["member"])


def test_defaults_are_parsed_on_first_check() -> None:
    policy = Policy({"admin_only": "role:admin", "member": "role:member"})
    assert policy._enforcer is None
    assert policy.check(_member(), "member")
    assert not policy.check(_member(), "admin_only")
    assert policy._enforcer is not None


def test_an_operator_file_is_loaded_at_construction(tmp_path: Path) -> None:
    override = tmp_path / "policy.yaml"
    override.write_text('"member": "!"\n')
    policy = Policy({"member": "role:member"}, override)
    assert policy._enforcer is not None
    assert not policy.check(_member(), "member")


def test_a_broken_operator_file_is_refused_at_construction(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text('"member": [unclosed\n')
    with pytest.raises(Exception):  # noqa: B017  (oslo.policy's YAML error, whatever its type)
        Policy({"member": "role:member"}, broken)
