"""Keystone's mapping rule language (onestack.identity.mapping), rule by rule."""

from __future__ import annotations

from typing import Any

import pytest

from onestack.common.errors import Unauthorized
from onestack.identity.mapping import evaluate

USER = {"user": {"name": "{0}"}}


def rule(local: list[dict[str, Any]], *remote: dict[str, Any]) -> dict[str, Any]:
    return {"local": local, "remote": list(remote)}


def test_direct_mapping_and_substitution() -> None:
    rules = [rule([{"user": {"name": "{0}", "email": "{1}"}}],
                  {"type": "REMOTE_USER"}, {"type": "EMAIL"})]
    mapped = evaluate(rules, {"REMOTE_USER": "alice", "EMAIL": "a@example.org"})
    assert mapped.user == {"name": "alice", "email": "a@example.org", "type": "ephemeral"}
    # attribute names match whatever their case and dashes (headers lose both)
    assert evaluate(rules, {"remote-user": "bob", "email": "b@x"}).user["name"] == "bob"
    with pytest.raises(Unauthorized):
        evaluate(rules, {"REMOTE_USER": "alice"})  # a required attribute is missing


def test_any_one_of_not_any_of_and_regex() -> None:
    rules = [rule([USER, {"group": {"id": "staff"}}], {"type": "UID"},
                  {"type": "ORG", "any_one_of": ["acme", "initech"]}),
             rule([{"group": {"id": "not-contractors"}}], {"type": "UID"},
                  {"type": "KIND", "not_any_of": ["contractor"]}),
             rule([{"group": {"id": "admins"}}], {"type": "UID"},
                  {"type": "ROLES", "any_one_of": ["^cloud-.*-admin$"], "regex": True})]
    m = evaluate(rules, {"UID": "u1", "ORG": "acme", "KIND": "employee",
                         "ROLES": "x;cloud-eu-admin"})
    assert m.user["name"] == "u1" and m.group_ids == ["staff", "not-contractors", "admins"]
    m = evaluate(rules, {"UID": "u1", "ORG": "acme", "KIND": "contractor", "ROLES": "cloud"})
    assert m.group_ids == ["staff"]
    with pytest.raises(Unauthorized):  # no rule gives a user
        evaluate(rules, {"UID": "u1", "ORG": "other", "KIND": "x"})


def test_blacklist_whitelist_and_group_lists() -> None:
    rules = [rule([USER], {"type": "UID"}),
             rule([{"groups": "{0}", "domain": {"id": "default"}}],
                  {"type": "GROUPS", "whitelist": ["dev", "ops"]}),
             rule([{"groups": "{0}", "domain": {"name": "Default"}}],
                  {"type": "TEAMS", "blacklist": ["secret"]}),
             rule([{"group_ids": "{0}"}], {"type": "GROUP_IDS"})]
    m = evaluate(rules, {"UID": "u", "GROUPS": "dev;ops;sales", "TEAMS": "secret;blue",
                         "GROUP_IDS": "g1;g2"})
    assert [g["name"] for g in m.group_names] == ["dev", "ops", "blue"]
    assert m.group_names[0]["domain"] == {"id": "default"}
    assert m.group_ids == ["g1", "g2"]


def test_first_user_wins_projects_and_types() -> None:
    rules = [rule([{"user": {"name": "{0}", "type": "local", "domain": {"id": "default"}}}],
                  {"type": "LOCAL_NAME"}),
             rule([USER, {"projects": [{"name": "p-{0}", "roles": [{"name": "member"}]}]}],
                  {"type": "UID"})]
    m = evaluate(rules, {"LOCAL_NAME": "admin", "UID": "u9"})
    assert m.user == {"name": "admin", "type": "local", "domain": {"id": "default"}}
    assert m.projects == [{"name": "p-u9", "roles": [{"name": "member"}]}]


def test_a_missing_positional_value_is_refused() -> None:
    with pytest.raises(Unauthorized):
        evaluate([rule([{"user": {"name": "{1}"}}], {"type": "UID"})], {"UID": "u"})
