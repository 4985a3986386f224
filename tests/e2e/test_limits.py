"""Unified limits through the real ``openstack`` CLI: ``registered limit ...`` and ``limit ...``
as the admin, and what the demo user may see."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.e2e
DEMO = "onestack-demo"


def _glance(cloud: RunningCloud) -> tuple[str, bool]:
    """The id of the service named glance (made here if the cloud has none) and whether this
    test made it."""
    found = [s for s in cloud.osc("service", "list") if s["Name"] == "glance"]
    if found:
        return found[0]["ID"], False
    return cloud.osc("service", "create", "--name", "glance", "image")["id"], True


def test_unified_limits_cli(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    service_id, made = _glance(running_cloud)
    taken = {r["Resource Name"] for r in osc("registered", "limit", "list", "--service", "glance")}
    # image_count_total, unless the cloud registered it itself
    resource = (
        "image_count_total" if "image_count_total" not in taken else f"e2e_{uuid.uuid4().hex}"
    )

    reg = osc(
        "registered",
        "limit",
        "create",
        "--service",
        "glance",
        "--default-limit",
        "5",
        "--description",
        "images per project",
        resource,
    )
    assert reg["service_id"] == service_id and reg["resource_name"] == resource
    assert reg["default_limit"] == 5 and reg["description"] == "images per project"
    assert reg["region_id"] is None
    listed = osc("registered", "limit", "list", "--service", "glance", "--resource-name", resource)
    assert [(r["ID"], r["Default Limit"]) for r in listed] == [(reg["id"], 5)]
    assert osc("registered", "limit", "show", reg["id"])["resource_name"] == resource
    osc("registered", "limit", "set", "--default-limit", "6", reg["id"], parse=False)
    assert osc("registered", "limit", "show", reg["id"])["default_limit"] == 6
    # a duplicate is refused
    dup = osc(
        "registered",
        "limit",
        "create",
        "--service",
        "glance",
        "--default-limit",
        "1",
        resource,
        check=False,
    )
    assert dup.returncode != 0

    demo_project = osc("project", "show", "demo")["id"]
    lim = osc(
        "limit",
        "create",
        "--project",
        "demo",
        "--service",
        "glance",
        "--resource-limit",
        "7",
        resource,
    )
    assert lim["project_id"] == demo_project and lim["service_id"] == service_id
    assert lim["resource_name"] == resource and lim["resource_limit"] == 7
    listed = osc("limit", "list", "--project", "demo", "--resource-name", resource)
    assert [(r["ID"], r["Resource Limit"]) for r in listed] == [(lim["id"], 7)]
    listed = osc("limit", "list", "--service", "glance", "--resource-name", resource)
    assert [r["ID"] for r in listed] == [lim["id"]]
    osc("limit", "set", "--resource-limit", "9", "--description", "raised", lim["id"], parse=False)
    shown = osc("limit", "show", lim["id"])
    assert shown["resource_limit"] == 9 and shown["description"] == "raised"

    # a limit with no registered limit behind it, and a referenced registered limit's delete,
    # are refused
    missing = osc(
        "limit",
        "create",
        "--project",
        "demo",
        "--service",
        "glance",
        "--resource-limit",
        "1",
        f"unregistered_{uuid.uuid4().hex[:8]}",
        check=False,
    )
    assert missing.returncode != 0
    refused = osc("registered", "limit", "delete", reg["id"], parse=False, check=False)
    assert refused.returncode != 0
    assert osc("registered", "limit", "show", reg["id"])["id"] == reg["id"]

    # the demo user reads the registered limits and its own project's limits, changes nothing
    demo_view = osc("limit", "list", "--resource-name", resource, cloud=DEMO)
    assert [r["ID"] for r in demo_view] == [lim["id"]]
    assert osc("limit", "show", lim["id"], cloud=DEMO)["resource_limit"] == 9
    assert osc("registered", "limit", "show", reg["id"], cloud=DEMO)["default_limit"] == 6
    denied = osc("limit", "set", "--resource-limit", "100", lim["id"], cloud=DEMO, check=False)
    assert denied.returncode != 0
    assert osc("limit", "show", lim["id"])["resource_limit"] == 9

    osc("limit", "delete", lim["id"], parse=False)
    assert osc("limit", "show", lim["id"], check=False).returncode != 0
    osc("registered", "limit", "delete", reg["id"], parse=False)
    assert osc("registered", "limit", "show", reg["id"], check=False).returncode != 0
    if made:
        osc("service", "delete", service_id, parse=False)
