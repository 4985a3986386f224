"""Regions, services, endpoints, credentials, application credentials and trusts through the
real ``openstack`` CLI against a real ``onestack up``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import BIN, RunningCloud, run_cli

pytestmark = pytest.mark.e2e


def osc_as(cloud: RunningCloud, tmp_path: Path, auth: dict[str, Any], *args: str) -> Any:
    """Run the CLI with a cloud made of ``auth`` (no project unless given)."""
    base = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"]["onestack"]
    entry = {**base, "auth": {"auth_url": base["auth"]["auth_url"], **auth}}
    if "application_credential_id" in auth:
        entry["auth_type"] = "v3applicationcredential"
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"custom": entry}}))
    env = {**cloud.env(), "OS_CLIENT_CONFIG_FILE": str(path)}
    proc = run_cli([str(BIN / "openstack"), "--os-cloud", "custom", *args, "-f", "json"], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def demo_password(cloud: RunningCloud) -> str:
    return (cloud.data_dir / "demo-password").read_text().strip()


def test_region_service_endpoint_catalog(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    region = osc("region", "create", "e2e-region", "--description", "first")
    assert region["region"] == "e2e-region" and region["description"] == "first"
    child = osc("region", "create", "e2e-child", "--parent-region", "e2e-region")
    assert child["parent_region"] == "e2e-region"
    assert "e2e-child" in [r["Region"] for r in osc("region", "list")]
    osc("region", "set", "e2e-region", "--description", "renamed", parse=False)
    assert osc("region", "show", "e2e-region")["description"] == "renamed"

    svc = osc("service", "create", "--name", "e2e-svc", "--description", "d", "e2e-type")
    assert svc["type"] == "e2e-type" and svc["enabled"] is True
    assert svc["id"] in [s["ID"] for s in osc("service", "list")]
    osc("service", "set", "e2e-svc", "--description", "changed", parse=False)
    assert osc("service", "show", svc["id"])["description"] == "changed"

    ep = osc(
        "endpoint",
        "create",
        "--region",
        "e2e-child",
        "e2e-svc",
        "public",
        "http://e2e.example:9/v1",
    )
    assert ep["region"] == "e2e-child" and ep["interface"] == "public"
    listed = osc("endpoint", "list", "--service", svc["id"])
    assert [e["ID"] for e in listed] == [ep["id"]]
    osc("endpoint", "set", ep["id"], "--url", "http://e2e.example:10/v1", parse=False)
    assert osc("endpoint", "show", ep["id"])["url"] == "http://e2e.example:10/v1"

    entries = {c["Name"]: c for c in osc("catalog", "list")}
    assert "e2e-svc" in entries and "keystone" in entries
    shown = osc("catalog", "show", "e2e-svc")
    assert "http://e2e.example:10/v1" in json.dumps(shown)

    # a region with endpoints cannot go; the endpoint, then the service and regions can
    assert osc("region", "delete", "e2e-region", check=False).returncode != 0
    osc("endpoint", "delete", ep["id"], parse=False)
    osc("service", "delete", svc["id"], parse=False)
    osc("region", "delete", "e2e-region", parse=False)
    assert osc("service", "show", svc["id"], check=False).returncode != 0
    assert osc("region", "show", "e2e-child", check=False).returncode != 0


def test_demo_cannot_change_catalog(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    proc = osc("service", "create", "--name", "nope", "nope", cloud="onestack-demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    svc = osc("service", "show", "keystone")
    proc = osc(
        "endpoint", "create", svc["id"], "public", "http://evil", cloud="onestack-demo", check=False
    )
    assert proc.returncode != 0 and "403" in proc.stderr


def test_credentials(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    cred = osc("credential", "create", "admin", "plain-blob", "--type", "totp")
    assert cred["blob"] == "plain-blob" and cred["type"] == "totp"
    assert cred["id"] in [c["ID"] for c in osc("credential", "list")]
    osc(
        "credential",
        "set",
        "--user",
        "admin",
        "--type",
        "totp",
        "--data",
        "other-blob",
        cred["id"],
        parse=False,
    )
    assert osc("credential", "show", cred["id"])["blob"] == "other-blob"
    ec2 = osc(
        "credential",
        "create",
        "admin",
        json.dumps({"access": "e2e-ak", "secret": "s"}),
        "--type",
        "ec2",
        "--project",
        "admin",
    )
    assert len(ec2["id"]) == 64
    osc("credential", "delete", cred["id"], ec2["id"], parse=False)
    assert osc("credential", "show", cred["id"], check=False).returncode != 0


def test_application_credentials(running_cloud: RunningCloud, tmp_path: Path) -> None:
    osc = running_cloud.osc
    cred = osc(
        "application",
        "credential",
        "create",
        "e2e-ac",
        "--role",
        "reader",
        "--description",
        "for e2e",
        cloud="onestack-demo",
    )
    assert cred["Name"] == "e2e-ac" and cred["Secret"]
    assert "reader" in json.dumps(cred["Roles"])
    listed = osc("application", "credential", "list", cloud="onestack-demo")
    assert "e2e-ac" in [c["Name"] for c in listed]
    shown = osc("application", "credential", "show", "e2e-ac", cloud="onestack-demo")
    assert shown["ID"] == cred["ID"] and "Secret" not in shown

    auth = {
        "application_credential_id": cred["ID"],
        "application_credential_secret": cred["Secret"],
    }
    token = osc_as(running_cloud, tmp_path, auth, "token", "issue")
    assert token["project_id"] == cred["Project ID"]

    osc("application", "credential", "delete", "e2e-ac", cloud="onestack-demo", parse=False)
    listed = osc("application", "credential", "list", cloud="onestack-demo")
    assert "e2e-ac" not in [c["Name"] for c in listed]


def test_trusts(running_cloud: RunningCloud, tmp_path: Path) -> None:
    osc = running_cloud.osc
    trust = osc("trust", "create", "--project", "admin", "--role", "reader", "admin", "demo")
    assert trust["trustee_user_id"] != trust["trustor_user_id"]
    assert trust["id"] in [t["ID"] for t in osc("trust", "list")]
    assert osc("trust", "show", trust["id"])["project_id"] == trust["project_id"]

    trustee = {
        "username": "demo",
        "password": demo_password(running_cloud),
        "user_domain_name": "Default",
    }
    token = osc_as(running_cloud, tmp_path, trustee, "--os-trust-id", trust["id"], "token", "issue")
    assert token["project_id"] == trust["project_id"]
    assert token["user_id"] == trust["trustee_user_id"]

    osc("trust", "delete", trust["id"], parse=False)
    assert osc("trust", "show", trust["id"], check=False).returncode != 0
