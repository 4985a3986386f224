"""OS-EP-FILTER through the real ``openstack`` CLI: project endpoints, endpoint groups and the
filtered catalog of a project-scoped token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningCloud
from tests.e2e.test_catalog_creds_trusts import osc_as

pytestmark = pytest.mark.e2e


def _catalog_urls(cloud: RunningCloud, tmp_path: Path, user: str, project: str) -> set[str]:
    auth = {
        "username": user,
        "password": "epf-secret",
        "project_name": project,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    services = osc_as(cloud, tmp_path, auth, "catalog", "list")
    return {e["url"] for s in services for e in s["Endpoints"]}


def test_endpoint_filter_cli(running_cloud: RunningCloud, tmp_path: Path) -> None:
    osc = running_cloud.osc
    svc = osc("service", "create", "--name", "epf-svc", "epf-type")
    pub = osc("endpoint", "create", svc["id"], "public", "http://epf-public.example")
    internal = osc("endpoint", "create", svc["id"], "internal", "http://epf-internal.example")
    project = osc("project", "create", "epf-project")
    osc("user", "create", "epf-user", "--password", "epf-secret")
    osc("role", "add", "--user", "epf-user", "--project", "epf-project", "member", parse=False)

    before = _catalog_urls(running_cloud, tmp_path, "epf-user", "epf-project")
    assert {"http://epf-public.example", "http://epf-internal.example"} <= before

    # direct endpoint <-> project associations
    osc("endpoint", "add", "project", pub["id"], "epf-project", parse=False)
    listed = osc("endpoint", "list", "--project", "epf-project")
    assert [e["ID"] for e in listed] == [pub["id"]]
    assert [p["ID"] for p in osc("endpoint", "list", "--endpoint", pub["id"])] == [project["id"]]
    assert _catalog_urls(running_cloud, tmp_path, "epf-user", "epf-project") == {
        "http://epf-public.example"
    }
    # the admin project is not filtered
    admin_catalog = osc("catalog", "list")
    assert "http://epf-internal.example" in {
        e["url"] for s in admin_catalog for e in s["Endpoints"]
    }

    # endpoint groups
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"service_id": svc["id"], "interface": "internal"}))
    group = osc(
        "endpoint", "group", "create", "--description", "internal ones", "epf-group", str(filters)
    )
    assert group["name"] == "epf-group" and group["description"] == "internal ones"
    assert group["filters"] == {"service_id": svc["id"], "interface": "internal"}
    assert group["id"] in [g["ID"] for g in osc("endpoint", "group", "list")]
    shown = osc("endpoint", "group", "show", "epf-group")
    assert shown["id"] == group["id"]
    osc(
        "endpoint",
        "group",
        "set",
        "--name",
        "epf-group2",
        "--description",
        "x",
        group["id"],
        parse=False,
    )
    shown = osc("endpoint", "group", "show", group["id"])
    assert shown["name"] == "epf-group2" and shown["description"] == "x"

    osc("endpoint", "group", "add", "project", group["id"], "epf-project", parse=False)
    in_project = osc("endpoint", "group", "list", "--project", "epf-project")
    assert [g["ID"] for g in in_project] == [group["id"]]
    of_group = osc("endpoint", "group", "list", "--endpointgroup", group["id"])
    assert [p["ID"] for p in of_group] == [project["id"]]
    listed = osc("endpoint", "list", "--project", "epf-project")
    assert sorted(e["ID"] for e in listed) == sorted([pub["id"], internal["id"]])
    assert _catalog_urls(running_cloud, tmp_path, "epf-user", "epf-project") == {
        "http://epf-public.example",
        "http://epf-internal.example",
    }

    # undo: the catalog is whole again
    osc("endpoint", "group", "remove", "project", group["id"], "epf-project", parse=False)
    assert osc("endpoint", "group", "list", "--project", "epf-project") == []
    osc("endpoint", "remove", "project", pub["id"], "epf-project", parse=False)
    assert osc("endpoint", "list", "--project", "epf-project") == []
    assert _catalog_urls(running_cloud, tmp_path, "epf-user", "epf-project") == before

    osc("endpoint", "group", "delete", group["id"], parse=False)
    proc = osc("endpoint", "group", "show", group["id"], check=False)
    assert proc.returncode != 0

    # the demo member cannot manage endpoint groups
    proc = osc("endpoint", "group", "list", cloud="onestack-demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
