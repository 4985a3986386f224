"""Projects, users and groups driven by the real ``openstack`` CLI against ``onestack up``."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import BIN, RunningCloud, run_cli


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def osc_as(
    cloud: RunningCloud, tmp_path: Path, user: str, password: str, project: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as ``user`` through a clouds.yaml of its own."""
    config = tmp_path / f"clouds-{user}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    "me": {
                        "auth": {
                            "auth_url": f"{cloud.url}/identity",
                            "username": user,
                            "password": password,
                            "project_name": project,
                            "user_domain_name": "Default",
                            "project_domain_name": "Default",
                        },
                        "region_name": "RegionOne",
                        "interface": "public",
                        "identity_api_version": 3,
                    }
                }
            }
        )
    )
    env = {**cloud.env(), "OS_CLIENT_CONFIG_FILE": str(config)}
    return run_cli([str(BIN / "openstack"), "--os-cloud", "me", *args], env)


def test_project_lifecycle(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    parent_name, child_name = unique("parent"), unique("child")
    parent = osc(
        "project", "create", parent_name, "--description", "top", "--tag", "blue", "--tag", "red"
    )
    assert parent["name"] == parent_name and parent["domain_id"] == "default"
    assert sorted(parent["tags"]) == ["blue", "red"] and parent["enabled"] is True
    child = osc("project", "create", child_name, "--parent", parent_name, "--domain", "default")
    assert child["parent_id"] == parent["id"]

    listed = osc("project", "list")
    assert {parent_name, child_name} <= {p["Name"] for p in listed}
    tagged = osc("project", "list", "--tags", "blue")
    assert [p["Name"] for p in tagged] == [parent_name]
    shown = osc("project", "show", parent_name)
    assert shown["id"] == parent["id"] and shown["description"] == "top"

    osc(
        "project",
        "set",
        parent_name,
        "--description",
        "changed",
        "--disable",
        "--tag",
        "green",
        parse=False,
    )
    shown = osc("project", "show", parent["id"])
    assert shown["description"] == "changed" and shown["enabled"] is False
    assert "green" in shown["tags"]

    refused = osc("project", "delete", parent_name, check=False, parse=False)
    assert refused.returncode != 0  # it still has a child
    osc("project", "delete", child_name, parse=False)
    osc("project", "delete", parent["id"], parse=False)
    assert parent_name not in {p["Name"] for p in osc("project", "list")}


def test_user_lifecycle(running_cloud: RunningCloud, tmp_path: Path) -> None:
    osc = running_cloud.osc
    project = osc("project", "create", unique("home"))
    name = unique("alice")
    user = osc(
        "user",
        "create",
        name,
        "--password",
        "first-Passw0rd",
        "--email",
        "alice@example.org",
        "--project",
        project["name"],
        "--description",
        "a user",
    )
    assert user["email"] == "alice@example.org"
    assert user["default_project_id"] == project["id"]
    assert user["domain_id"] == "default" and user["enabled"] is True

    assert name in {u["Name"] for u in osc("user", "list", "--domain", "default")}
    shown = osc("user", "show", name)
    assert shown["id"] == user["id"] and shown["description"] == "a user"

    osc("role", "add", "--user", name, "--project", project["name"], "member", parse=False)
    proc = osc_as(
        running_cloud,
        tmp_path,
        name,
        "first-Passw0rd",
        project["name"],
        "user",
        "password",
        "set",
        "--original-password",
        "first-Passw0rd",
        "--password",
        "second-Passw0rd",
    )
    assert proc.returncode == 0, proc.stderr
    proc = osc_as(
        running_cloud,
        tmp_path,
        name,
        "first-Passw0rd",
        project["name"],
        "token",
        "issue",
        "-f",
        "json",
    )
    assert proc.returncode != 0  # the old password is gone
    proc = osc_as(
        running_cloud,
        tmp_path,
        name,
        "second-Passw0rd",
        project["name"],
        "token",
        "issue",
        "-f",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["user_id"] == user["id"]

    # an admin reset, then disabling: the user can no longer get in
    osc("user", "set", name, "--password", "third-Passw0rd", parse=False)
    proc = osc_as(
        running_cloud,
        tmp_path,
        name,
        "third-Passw0rd",
        project["name"],
        "token",
        "issue",
        "-f",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    osc("user", "set", name, "--disable", parse=False)
    assert osc("user", "show", name)["enabled"] is False
    proc = osc_as(
        running_cloud,
        tmp_path,
        name,
        "third-Passw0rd",
        project["name"],
        "token",
        "issue",
        "-f",
        "json",
    )
    assert proc.returncode != 0

    osc("user", "delete", name, parse=False)
    assert name not in {u["Name"] for u in osc("user", "list")}
    osc("project", "delete", project["id"], parse=False)


def test_group_lifecycle(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    group_name, user_name = unique("team"), unique("bob")
    group = osc("group", "create", group_name, "--description", "the team")
    assert group["name"] == group_name and group["domain_id"] == "default"
    user = osc("user", "create", user_name, "--password", "b0b-Passw0rd")
    assert group_name in {g["Name"] for g in osc("group", "list")}
    assert osc("group", "show", group_name)["description"] == "the team"

    osc("group", "add", "user", group_name, user_name, parse=False)
    contains = osc("group", "contains", "user", group_name, user_name, parse=False)
    assert f"{user_name} in group {group_name}" in contains
    assert [u["ID"] for u in osc("user", "list", "--group", group_name)] == [user["id"]]
    osc("group", "remove", "user", group_name, user_name, parse=False)
    contains = osc("group", "contains", "user", group_name, user_name, check=False, parse=False)
    assert f"{user_name} not in group {group_name}" in contains.stdout + contains.stderr

    osc(
        "group",
        "set",
        group_name,
        "--description",
        "renamed",
        "--name",
        group_name + "x",
        parse=False,
    )
    assert osc("group", "show", group_name + "x")["description"] == "renamed"
    osc("group", "delete", group_name + "x", parse=False)
    assert group_name + "x" not in {g["Name"] for g in osc("group", "list")}
    osc("user", "delete", user["id"], parse=False)


def test_demo_user_refused(running_cloud: RunningCloud) -> None:
    for args in (
        ("user", "list"),
        ("project", "create", unique("nope")),
        ("group", "create", unique("nope")),
    ):
        proc: Any = running_cloud.osc(*args, cloud="onestack-demo", check=False)
        assert proc.returncode != 0, args
        assert "403" in proc.stderr, (args, proc.stderr)
