"""config, policy, pagination and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.common import errors
from onestack.common.config import load_settings
from onestack.common.context import RequestContext
from onestack.common.pagination import page_request
from onestack.common.policy import Policy, flatten


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "onestack.toml").write_text(
        'port = 9100\nregion = "RegionTwo"\n[identity]\ntoken_expiration = 600\n'
        "list_limit = 7\n")
    monkeypatch.setenv("ONESTACK_IDENTITY__LIST_LIMIT", "9")
    s = load_settings(data_dir=tmp_path)
    assert (s.port, s.region, s.identity.token_expiration, s.identity.list_limit) == \
        (9100, "RegionTwo", 600, 9)
    assert load_settings(data_dir=tmp_path, port=9200).port == 9200
    assert s.base_url == "http://127.0.0.1:9100"
    assert s.database_url_for("identity") == f"sqlite+aiosqlite:///{tmp_path}/identity.sqlite"


def test_settings_reject_bad_values(tmp_path: Path) -> None:
    (tmp_path / "onestack.toml").write_text("[identity]\ntoken_expiration = 5\n")
    with pytest.raises(ValueError):
        load_settings(data_dir=tmp_path)


def test_flatten() -> None:
    assert flatten({"target": {"user": {"id": "u", "domain_id": "d"}}, "x": 1}) == \
        {"target.user.id": "u", "target.user.domain_id": "d", "x": 1}
    assert flatten({"target": {"domain_id": None}}) == {}


def test_none_target_never_matches_none_credential() -> None:
    """A project-scoped reader has domain_id None; a target without a domain must not match."""
    policy = Policy({"domain_reader": "role:reader and domain_id:%(target.domain_id)s"})
    reader = RequestContext("r", user_id="u", project_id="p", roles=("reader",))
    assert not policy.check(reader, "domain_reader", {"target": {"domain_id": None}})
    domain_reader = RequestContext("r", user_id="u", domain_id="d", roles=("reader",))
    assert policy.check(domain_reader, "domain_reader", {"target": {"domain_id": "d"}})


def test_policy_rules_and_override(tmp_path: Path) -> None:
    rules = {"admin": "role:admin", "own": "user_id:%(target.user.id)s",
             "either": "rule:admin or rule:own"}
    member = RequestContext("r", user_id="u1", roles=("member",))
    admin = RequestContext("r", user_id="u2", roles=("admin",))
    policy = Policy(rules)
    assert policy.check(admin, "either", {"target": {"user": {"id": "x"}}})
    assert policy.check(member, "either", {"target": {"user": {"id": "u1"}}})
    assert not policy.check(member, "either", {"target": {"user": {"id": "x"}}})
    assert not policy.check(member, "undefined-rule")
    with pytest.raises(errors.Forbidden):
        policy.enforce(member, "admin")
    override = tmp_path / "policy.yaml"
    override.write_text('"admin": "role:member"\n')
    assert Policy(rules, override).check(member, "admin")


def test_page_request() -> None:
    page = page_request({"limit": "5", "marker": "m", "sort_key": "name",
                         "sort_dir": "desc"}, max_limit=100, sortable=("name",))
    assert (page.limit, page.marker, page.sort) == (5, "m", (("name", "desc"),))
    assert page_request({"limit": "500"}, max_limit=100).limit == 100
    for bad in ({"limit": "x"}, {"limit": "-1"}, {"sort_key": "secret"},
                {"sort_key": "name", "sort_dir": "sideways"}):
        with pytest.raises(errors.BadRequest):
            page_request(bad, max_limit=100, sortable=("name",))


def test_error_formats() -> None:
    err = errors.NotFound("Could not find user: x.")
    assert errors.keystone_format(err) == {
        "error": {"code": 404, "title": "Not Found", "message": "Could not find user: x."}}
    assert errors.nova_format(err) == {"itemNotFound": {"code": 404,
                                                         "message": "Could not find user: x."}}
    assert errors.neutron_format(errors.Conflict("in use"))["NeutronError"]["message"] == "in use"


def test_missing_requirements_only_where_the_catalog_is() -> None:
    from onestack.common.service import missing_requirements

    assert missing_requirements(["identity", "compute"], {}) == ["compute needs placement"]
    assert missing_requirements(["identity", "compute"], {"placement": "http://p"}) == []
    assert missing_requirements(["identity", "placement", "compute"], {}) == []
    assert missing_requirements(["compute"], {}) == []  # found through another's catalog
