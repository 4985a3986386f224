"""Placement through osc-placement (the `openstack resource provider ...` commands) and
openstacksdk's placement proxy against a running onestack."""

from __future__ import annotations

import uuid
from typing import Any

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


def test_every_other_placement_command(running_cloud: RunningCloud) -> None:
    """The osc-placement commands the first test does not use: trees, inventory show /
    class set / delete, aggregates, provider traits, trait and resource class show / set /
    delete, list filters, allocations on a provider, allocation unset, project usage, and
    candidates with member_of, forbidden traits, granular groups and a limit."""

    def run(*args: str, parse: bool = True) -> Any:
        return osc(running_cloud, "1.39", *args, parse=parse)

    tag = uuid.uuid4().hex[:6]
    root = run("resource", "provider", "create", f"e2e-root-{tag}")["uuid"]
    child = run("resource", "provider", "create", f"e2e-child-{tag}", "--parent-provider",
                root)
    assert child["parent_provider_uuid"] == root and child["root_provider_uuid"] == root
    child = child["uuid"]
    in_tree = run("resource", "provider", "list", "--in-tree", child)
    assert sorted(p["uuid"] for p in in_tree) == sorted([root, child])

    # inventories: one class updated (it must exist, as upstream: 400 otherwise), --amend,
    # show, delete
    run("resource", "provider", "inventory", "set", root, "--resource", "VCPU=4")
    proc = osc(running_cloud, "1.39", "resource", "provider", "inventory", "class", "set",
               root, "MEMORY_MB", "--total", "2048", check=False)
    assert proc.returncode != 0 and "400" in proc.stderr  # type: ignore[attr-defined]
    shown = run("resource", "provider", "inventory", "class", "set", root, "VCPU", "--total",
                "8", "--max_unit", "4", "--allocation_ratio", "2.0")
    assert shown["total"] == 8 and shown["max_unit"] == 4
    run("resource", "provider", "inventory", "set", root, "--amend", "--resource",
        "MEMORY_MB=2048")
    run("resource", "provider", "inventory", "set", child, "--resource", "DISK_GB=100")
    vcpu = run("resource", "provider", "inventory", "show", root, "VCPU")
    assert vcpu["total"] == 8 and vcpu["allocation_ratio"] == 2.0 and vcpu["reserved"] == 0
    run("resource", "provider", "inventory", "delete", root, "--resource-class", "MEMORY_MB",
        parse=False)
    classes = [row["resource_class"]
               for row in run("resource", "provider", "inventory", "list", root)]
    assert classes == ["VCPU"]
    listed = run("resource", "provider", "list", "--resource", "DISK_GB=50")
    assert child in [p["uuid"] for p in listed] and root not in [p["uuid"] for p in listed]

    # aggregates (a generation is needed from 1.19)
    agg = str(uuid.uuid4())
    generation = run("resource", "provider", "show", root)["generation"]
    aggs = run("resource", "provider", "aggregate", "set", root, "--aggregate", agg,
               "--generation", str(generation))
    assert [a["uuid"] for a in aggs] == [agg]
    assert [a["uuid"] for a in run("resource", "provider", "aggregate", "list", root)] == [agg]
    listed = run("resource", "provider", "list", "--member-of", agg)
    assert [p["uuid"] for p in listed] == [root]

    # traits: show, on a provider (list, delete), list filter, delete
    trait = f"CUSTOM_E2E_T_{tag.upper()}"
    run("trait", "create", trait, parse=False)
    assert run("trait", "show", trait)["name"] == trait
    run("resource", "provider", "trait", "set", root, "--trait", trait, "--trait",
        "HW_CPU_X86_AVX2")
    names = [t["name"] for t in run("resource", "provider", "trait", "list", root)]
    assert sorted(names) == sorted([trait, "HW_CPU_X86_AVX2"])
    listed = run("resource", "provider", "list", "--required", trait)
    assert [p["uuid"] for p in listed] == [root]
    listed = run("resource", "provider", "list", "--in-tree", root, "--forbidden", trait)
    assert [p["uuid"] for p in listed] == [child]

    # allocation candidates: member_of, forbidden traits, granular groups, limit
    found = run("allocation", "candidate", "list", "--resource", "VCPU=1", "--member-of", agg)
    assert [row["resource provider"] for row in found] == [root]
    found = run("allocation", "candidate", "list", "--resource", "VCPU=1", "--member-of", agg,
                "--forbidden", trait)
    assert found == []
    found = run("allocation", "candidate", "list", "--group", "1", "--resource", "VCPU=1",
                "--group", "2", "--resource", "DISK_GB=10", "--member-of", agg,
                "--group-policy", "isolate", "--limit", "5")
    assert sorted(row["resource provider"] for row in found) == sorted([root, child])

    # allocations: on the provider, unset one provider of a consumer, project usage
    consumer, project = str(uuid.uuid4()), uuid.uuid4().hex
    run("resource", "provider", "allocation", "set", consumer, "--allocation",
        f"rp={root},VCPU=2", "--allocation", f"rp={child},DISK_GB=20", "--project-id",
        project, "--user-id", "u1", "--consumer-type", "INSTANCE")
    shown = run("resource", "provider", "show", root, "--allocations")
    assert shown["allocations"] == {consumer: {"resources": {"VCPU": 2}}}
    usage = osc(running_cloud, "1.9", "resource", "usage", "show", project)
    assert {u["resource_class"]: u["usage"] for u in usage} == {  # type: ignore[union-attr]
        "VCPU": 2,
        "DISK_GB": 20,
    }
    # from 1.38 by consumer type (the client shows each type as a row)
    usage = run("resource", "usage", "show", project, "--user-id", "u1")
    assert {u["resource_class"]: u["usage"] for u in usage} == {
        "INSTANCE": {"VCPU": 2, "DISK_GB": 20, "consumer_count": 1}
    }
    assert run("resource", "usage", "show", project, "--user-id", "u2") == []
    left = run("resource", "provider", "allocation", "unset", consumer, "--provider", child)
    assert [row["resource_provider"] for row in left] == [root]
    run("resource", "provider", "allocation", "delete", consumer, parse=False)

    # resource classes: set (create or confirm), show, delete
    rclass = f"CUSTOM_E2E_C_{tag.upper()}"
    run("resource", "class", "set", rclass, parse=False)
    assert run("resource", "class", "show", rclass)["name"] == rclass
    run("resource", "class", "delete", rclass, parse=False)
    proc = osc(running_cloud, "1.39", "resource", "class", "show", rclass, check=False)
    assert proc.returncode != 0 and "404" in proc.stderr + proc.stdout  # type: ignore[attr-defined]

    # clean up: provider traits, the trait, the tree
    run("resource", "provider", "trait", "delete", root, parse=False)
    assert run("resource", "provider", "trait", "list", root) == []
    run("trait", "delete", trait, parse=False)
    proc = osc(running_cloud, "1.39", "trait", "show", trait, check=False)
    assert proc.returncode != 0 and "404" in proc.stderr + proc.stdout  # type: ignore[attr-defined]
    run("resource", "provider", "delete", child, parse=False)
    run("resource", "provider", "delete", root, parse=False)
