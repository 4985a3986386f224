"""Placement through osc-placement (the `openstack resource provider ...` commands) and
openstacksdk's placement proxy against a running onestack."""

from __future__ import annotations

import uuid

import openstack
import pytest
from openstack.config import loader

from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.e2e


def osc(cloud: RunningCloud, version: str, *args: str, **kw: object) -> object:
    return cloud.osc("--os-placement-api-version", version, *args, **kw)  # type: ignore[arg-type]


def test_resource_provider_commands(running_cloud: RunningCloud) -> None:
    name = f"e2e-host-{uuid.uuid4().hex[:8]}"
    rp = osc(running_cloud, "1.39", "resource", "provider", "create", name)
    assert isinstance(rp, dict) and rp["name"] == name and rp["generation"] == 0
    uuid_ = rp["uuid"]
    listed = osc(running_cloud, "1.39", "resource", "provider", "list")
    assert uuid_ in [p["uuid"] for p in listed]  # type: ignore[union-attr]
    shown = osc(running_cloud, "1.39", "resource", "provider", "show", uuid_)
    assert shown["root_provider_uuid"] == uuid_  # type: ignore[index]
    renamed = osc(running_cloud, "1.39", "resource", "provider", "set", uuid_, "--name",
                  name + "-b")
    assert renamed["name"] == name + "-b"  # type: ignore[index]

    osc(running_cloud, "1.39", "resource", "provider", "inventory", "set", uuid_,
        "--resource", "VCPU=8", "--resource", "VCPU:allocation_ratio=4.0",
        "--resource", "MEMORY_MB=4096", "--resource", "DISK_GB=40")
    inventory = osc(running_cloud, "1.39", "resource", "provider", "inventory", "list", uuid_)
    by_class = {row["resource_class"]: row for row in inventory}  # type: ignore[union-attr]
    assert by_class["VCPU"]["total"] == 8 and by_class["VCPU"]["allocation_ratio"] == 4.0
    assert by_class["MEMORY_MB"]["total"] == 4096

    trait = f"CUSTOM_E2E_{uuid.uuid4().hex[:6].upper()}"
    osc(running_cloud, "1.39", "trait", "create", trait, parse=False)
    traits = osc(running_cloud, "1.39", "trait", "list")
    assert trait in [t["name"] for t in traits]  # type: ignore[union-attr]
    osc(running_cloud, "1.39", "resource", "provider", "trait", "set", uuid_, "--trait", trait)
    rclass = f"CUSTOM_E2E_RC_{uuid.uuid4().hex[:6].upper()}"
    osc(running_cloud, "1.39", "resource", "class", "create", rclass, parse=False)
    classes = osc(running_cloud, "1.39", "resource", "class", "list")
    assert rclass in [c["name"] for c in classes]  # type: ignore[union-attr]

    found = osc(running_cloud, "1.39", "allocation", "candidate", "list", "--resource", "VCPU=1",
                "--required", trait)
    assert [row["resource provider"] for row in found] == [uuid_]  # type: ignore[union-attr]

    consumer = str(uuid.uuid4())
    osc(running_cloud, "1.39", "resource", "provider", "allocation", "set", consumer,
        "--allocation", f"rp={uuid_},VCPU=2,MEMORY_MB=512", "--project-id", "p1",
        "--user-id", "u1", "--consumer-type", "INSTANCE")
    shown = osc(running_cloud, "1.39", "resource", "provider", "allocation", "show", consumer)
    (row,) = shown  # type: ignore[misc]
    assert row["resource_provider"] == uuid_
    assert row["resources"] == {"VCPU": 2, "MEMORY_MB": 512}
    usage = osc(running_cloud, "1.39", "resource", "provider", "usage", "show", uuid_)
    assert {u["resource_class"]: u["usage"] for u in usage}["VCPU"] == 2  # type: ignore[union-attr]

    # a provider with allocations cannot be deleted; without them it can
    proc = osc(running_cloud, "1.39", "resource", "provider", "delete", uuid_, check=False,
               parse=False)
    assert proc.returncode != 0  # type: ignore[attr-defined]
    osc(running_cloud, "1.39", "resource", "provider", "allocation", "delete", consumer,
        parse=False)
    osc(running_cloud, "1.39", "resource", "provider", "delete", uuid_, parse=False)
    listed = osc(running_cloud, "1.39", "resource", "provider", "list")
    assert uuid_ not in [p["uuid"] for p in listed]  # type: ignore[union-attr]


def test_project_users_cannot_manage_placement(running_cloud: RunningCloud) -> None:
    proc = running_cloud.osc("--os-placement-api-version", "1.39", "resource", "provider",
                             "list", cloud="onestack-demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr + proc.stdout  # type: ignore[attr-defined]


def test_sdk_placement_proxy(running_cloud: RunningCloud) -> None:
    config = loader.OpenStackConfig(config_files=[str(running_cloud.clouds_yaml)])
    conn = openstack.connection.Connection(config=config.get_one(cloud="onestack"))
    name = f"sdk-rp-{uuid.uuid4().hex[:8]}"
    rp = conn.placement.create_resource_provider(name=name)
    assert conn.placement.get_resource_provider(rp.id).name == name
    assert name in [p.name for p in conn.placement.resource_providers()]
    conn.placement.delete_resource_provider(rp)
    # the version document as keystoneauth discovers it
    data = conn.session.get(f"{running_cloud.url}/placement/").json()
    assert data["versions"][0]["max_version"] == "1.39"
