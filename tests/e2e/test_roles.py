"""Roles, implied roles, grants and role assignments through the real `openstack` CLI."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def assignments(cloud: RunningCloud, *args: str) -> list[dict[str, Any]]:
    return cloud.osc("role", "assignment", "list", *args)


def test_role_lifecycle(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    name = unique("e2e-role")
    role = osc("role", "create", name, "--description", "first")
    assert role["name"] == name and role["domain_id"] is None and role["description"] == "first"
    assert name in [r["Name"] for r in osc("role", "list")]
    assert osc("role", "show", name)["id"] == role["id"]

    renamed = unique("e2e-renamed")
    osc("role", "set", name, "--name", renamed, "--description", "second", parse=False)
    shown = osc("role", "show", role["id"])
    assert shown["name"] == renamed and shown["description"] == "second"

    again = osc("role", "create", renamed, check=False)
    assert again.returncode != 0 and "409" in again.stderr
    assert osc("role", "create", renamed, "--or-show")["id"] == role["id"]

    osc("role", "delete", renamed, parse=False)
    assert renamed not in [r["Name"] for r in osc("role", "list")]
    assert osc("role", "show", role["id"], check=False).returncode != 0


def test_domain_role(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    name = unique("e2e-domrole")
    role = osc("role", "create", name, "--domain", "default")
    assert role["domain_id"] == "default"
    assert name not in [r["Name"] for r in osc("role", "list")]
    assert name in [r["Name"] for r in osc("role", "list", "--domain", "default")]
    osc("role", "delete", name, "--domain", "default", parse=False)
    assert name not in [r["Name"] for r in osc("role", "list", "--domain", "default")]


def test_implied_roles(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    prior, implied = unique("e2e-prior"), unique("e2e-implied")
    prior_id = osc("role", "create", prior)["id"]
    implied_id = osc("role", "create", implied)["id"]
    rule = osc("implied", "role", "create", prior, "--implied-role", implied)
    assert rule == {"prior_role": prior_id, "implies": implied_id}
    rows = osc("implied", "role", "list")
    assert (prior, implied) in {(r["Prior Role Name"], r["Implied Role Name"]) for r in rows}
    assert ("admin", "member") in {(r["Prior Role Name"], r["Implied Role Name"]) for r in rows}
    loop = osc("implied", "role", "create", implied, "--implied-role", prior, check=False)
    assert loop.returncode != 0 and "400" in loop.stderr
    osc("implied", "role", "delete", prior, "--implied-role", implied, parse=False)
    rows = osc("implied", "role", "list")
    assert (prior, implied) not in {(r["Prior Role Name"], r["Implied Role Name"]) for r in rows}


def test_grants_and_assignment_list(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    user, group, project = unique("e2e-u"), unique("e2e-g"), unique("e2e-p")
    user_id = osc("user", "create", user, "--password", "pw-e2e-1")["id"]
    group_id = osc("group", "create", group)["id"]
    project_id = osc("project", "create", project)["id"]
    osc("group", "add", "user", group, user, parse=False)

    osc("role", "add", "--user", user, "--project", project, "member", parse=False)
    osc("role", "add", "--group", group, "--domain", "default", "reader", parse=False)
    osc("role", "add", "--user", user, "--system", "all", "reader", parse=False)
    osc("role", "add", "--group", group, "--project", project, "--inherited", "reader", parse=False)

    rows = assignments(running_cloud, "--user", user)
    assert {(r["Role"], r["Project"], r["Domain"], r["System"]) for r in rows} >= {
        (r_id(running_cloud, "member"), project_id, "", ""),
        (r_id(running_cloud, "reader"), "", "", "all"),
    }
    named = assignments(running_cloud, "--user", user, "--names")
    assert ("member", f"{user}@Default", f"{project}@Default") in {
        (r["Role"], r["User"], r["Project"]) for r in named
    }
    system = assignments(running_cloud, "--system", "all", "--names")
    assert ("reader", f"{user}@Default", "all") in {
        (r["Role"], r["User"], r["System"]) for r in system
    }
    by_project = assignments(running_cloud, "--project", project)
    assert {(r["User"], r["Group"], r["Inherited"]) for r in by_project} == {
        (user_id, "", False),
        ("", group_id, True),
    }
    inherited = assignments(running_cloud, "--group", group, "--inherited")
    assert [(r["Group"], r["Project"], r["Inherited"]) for r in inherited] == [
        (group_id, project_id, True)
    ]

    effective = assignments(running_cloud, "--user", user, "--effective", "--names")
    seen = {(r["Role"], r["Project"], r["Domain"], r["System"]) for r in effective}
    assert ("member", f"{project}@Default", "", "") in seen
    assert ("reader", f"{project}@Default", "", "") in seen  # implied by member
    assert ("reader", "", "Default", "") in seen  # through the group
    assert all(r["Group"] == "" for r in effective)

    osc("role", "remove", "--group", group, "--domain", "default", "reader", parse=False)
    osc("role", "remove", "--user", user, "--system", "all", "reader", parse=False)
    osc(
        "role",
        "remove",
        "--group",
        group,
        "--project",
        project,
        "--inherited",
        "reader",
        parse=False,
    )
    rows = assignments(running_cloud, "--user", user)
    assert [(r["Role"], r["Project"]) for r in rows] == [
        (r_id(running_cloud, "member"), project_id)
    ]
    assert assignments(running_cloud, "--group", group) == []


def r_id(cloud: RunningCloud, name: str) -> str:
    return cloud.osc("role", "show", name)["id"]


def test_token_follows_role_add_and_remove(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    user, project, password = unique("e2e-tok"), unique("e2e-tokp"), "pw-e2e-2"
    osc("user", "create", user, "--password", password)
    osc("project", "create", project)
    as_user = ("--os-username", user, "--os-password", password, "--os-project-name", project)

    refused = osc(*as_user, "token", "issue", check=False)
    assert refused.returncode != 0
    osc("role", "add", "--user", user, "--project", project, "member", parse=False)
    token = osc(*as_user, "token", "issue")
    assert token["project_id"] == osc("project", "show", project)["id"]
    osc("role", "remove", "--user", user, "--project", project, "member", parse=False)
    refused = osc(*as_user, "token", "issue", check=False)
    assert refused.returncode != 0 and "401" in refused.stderr


def test_domain_and_inherited_grants(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    user = unique("e2e-inh")
    user_id = osc("user", "create", user, "--password", "pw-e2e-3")["id"]
    osc("role", "add", "--user", user, "--domain", "default", "--inherited", "member", parse=False)
    rows = assignments(running_cloud, "--user", user)
    assert [(r["Domain"], r["Inherited"]) for r in rows] == [("default", True)]
    demo_project = osc("project", "show", "demo")["id"]
    effective = assignments(running_cloud, "--user", user, "--effective", "--project", "demo")
    assert {r["Role"] for r in effective} == {
        r_id(running_cloud, "member"),
        r_id(running_cloud, "reader"),
    }
    assert {(r["User"], r["Project"]) for r in effective} == {(user_id, demo_project)}
    osc(
        "role",
        "remove",
        "--user",
        user,
        "--domain",
        "default",
        "--inherited",
        "member",
        parse=False,
    )
    assert assignments(running_cloud, "--user", user) == []


def test_demo_is_refused(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    proc = osc("role", "create", unique("e2e-nope"), cloud="onestack-demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr, proc.stderr
    proc = osc("role", "assignment", "list", cloud="onestack-demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr, proc.stderr
    # The SDK's assign call ignores a refusal (the CLI exits 0), so look at the HTTP answer.
    demo = osc("user", "show", "demo")["id"]
    project = osc("project", "show", "demo")["id"]
    admin = r_id(running_cloud, "admin")
    proc = osc(
        "--debug",
        "role",
        "add",
        "--user",
        demo,
        "--project",
        project,
        admin,
        cloud="onestack-demo",
        check=False,
        parse=False,
    )
    put = f'"PUT /identity/v3/projects/{project}/users/{demo}/roles/{admin} HTTP/1.1" 403'
    assert put in proc.stderr
    rows = assignments(running_cloud, "--user", "demo", "--project", "demo", "--names")
    assert {r["Role"] for r in rows} == {"member"}  # nothing was added
