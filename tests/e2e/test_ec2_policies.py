"""``openstack ec2 credentials ...`` and ``openstack policy ...`` against a real ``onestack up``;
plus the 0002 migration applied to a data dir made before it (``db upgrade`` and a restart)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from onestack.common.db import alembic_config, head_revision
from onestack.identity.manager import MIGRATIONS
from tests.e2e.conftest import BIN, RunningCloud, free_port, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
DEMO = "onestack-demo"


def _scope(cloud: RunningCloud, name: str = "onestack") -> tuple[str, str]:
    token = cloud.osc("token", "issue", cloud=name)
    return token["user_id"], token["project_id"]


def test_ec2_credentials_as_admin(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    admin, project = _scope(running_cloud)
    created = osc("ec2", "credentials", "create")
    assert created["user_id"] == admin and created["project_id"] == project
    assert created["access"] and created["secret"] and created["trust_id"] is None
    access = created["access"]

    rows = osc("ec2", "credentials", "list")
    row = next(r for r in rows if r["Access"] == access)
    assert (row["Secret"], row["Project ID"], row["User ID"]) == (created["secret"], project, admin)
    shown = osc("ec2", "credentials", "show", access)
    assert shown["secret"] == created["secret"] and shown["project_id"] == project
    # it is a regular credential of type ec2 too
    cred_id = hashlib.sha256(access.encode()).hexdigest()
    creds = {c["ID"]: c for c in osc("credential", "list", "--type", "ec2")}
    assert cred_id in creds and json.loads(creds[cred_id]["Data"])["access"] == access

    # the admin makes a pair for the demo user in the demo project
    demo_pair = osc("ec2", "credentials", "create", "--user", "demo", "--project", "demo")
    demo_id, demo_project = _scope(running_cloud, DEMO)
    assert (demo_pair["user_id"], demo_pair["project_id"]) == (demo_id, demo_project)
    listed = osc("ec2", "credentials", "list", "--user", "demo")
    assert demo_pair["access"] in [r["Access"] for r in listed]
    osc("ec2", "credentials", "delete", "--user", "demo", demo_pair["access"], parse=False)

    osc("ec2", "credentials", "delete", access, parse=False)
    assert osc("ec2", "credentials", "show", access, check=False).returncode != 0
    assert access not in [r["Access"] for r in osc("ec2", "credentials", "list")]


def test_ec2_credentials_as_demo(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc
    demo, project = _scope(running_cloud, DEMO)
    mine = osc("ec2", "credentials", "create", cloud=DEMO)
    assert (mine["user_id"], mine["project_id"]) == (demo, project)
    assert [r["Access"] for r in osc("ec2", "credentials", "list", cloud=DEMO)] == [mine["access"]]
    assert osc("ec2", "credentials", "show", mine["access"], cloud=DEMO)["secret"] == mine["secret"]

    admin_pair = osc("ec2", "credentials", "create")
    admin_id = admin_pair["user_id"]
    for args in (
        ("list", "--user", admin_id),
        ("show", "--user", admin_id, admin_pair["access"]),
        ("create", "--project", "admin"),
    ):
        proc = osc("ec2", "credentials", *args, cloud=DEMO, check=False)
        assert proc.returncode != 0, args
    # the admin's access key is not found under the demo user
    proc = osc("ec2", "credentials", "show", admin_pair["access"], cloud=DEMO, check=False)
    assert proc.returncode != 0
    osc("ec2", "credentials", "delete", mine["access"], cloud=DEMO, parse=False)
    assert osc("ec2", "credentials", "list", cloud=DEMO) == []
    osc("ec2", "credentials", "delete", admin_pair["access"], parse=False)


def test_policy_blobs(running_cloud: RunningCloud, tmp_path: Path) -> None:
    osc = running_cloud.osc
    rules = tmp_path / "policy.json"
    rules.write_text(json.dumps({"identity:list_users": "role:admin"}))
    policy = osc("policy", "create", "--type", "application/json", str(rules))
    assert policy["type"] == "application/json"
    assert json.loads(policy["rules"]) == {"identity:list_users": "role:admin"}
    assert policy["id"] in [p["ID"] for p in osc("policy", "list")]
    assert osc("policy", "show", policy["id"])["rules"] == policy["rules"]

    other = tmp_path / "policy.yaml"
    other.write_text("identity:list_users: role:reader\n")
    osc(
        "policy",
        "set",
        "--type",
        "application/x-yaml",
        "--rules",
        str(other),
        policy["id"],
        parse=False,
    )
    shown = osc("policy", "show", policy["id"])
    assert shown["type"] == "application/x-yaml" and shown["rules"] == other.read_text().strip()
    long = {p["ID"]: p for p in osc("policy", "list", "--long")}
    assert long[policy["id"]]["Rules"] == other.read_text().strip()

    proc = osc(
        "policy", "create", "--type", "application/json", str(rules), cloud=DEMO, check=False
    )
    assert proc.returncode != 0
    assert osc("policy", "list", cloud=DEMO, check=False).returncode != 0
    osc("policy", "delete", policy["id"], parse=False)
    assert osc("policy", "show", policy["id"], check=False).returncode != 0


def _to_0001(data_dir: Path) -> None:
    """Take the identity database back to revision 0001, as before the policy table existed."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'identity.sqlite'}")
    try:
        with engine.begin() as conn:
            cfg = alembic_config(MIGRATIONS, "identity")
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
    finally:
        engine.dispose()


def _schema(data_dir: Path) -> tuple[str, bool]:
    with sqlite3.connect(data_dir / "identity.sqlite") as db:
        version = db.execute("SELECT version_num FROM alembic_version_identity").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return version, "identity_policy" in tables


def test_migration_on_a_data_dir_from_before(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cloud = start_cloud(data_dir, free_port())
    user = cloud.osc("user", "create", "kept-user", "--password", "kept-pw")
    stop_cloud(cloud)

    _to_0001(data_dir)
    assert _schema(data_dir) == ("0001", False)
    proc = subprocess.run(
        [str(BIN / "onestack"), "db", "upgrade", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert _schema(data_dir) == (head_revision(MIGRATIONS), True)

    _to_0001(data_dir)
    cloud = start_cloud(data_dir, free_port())
    try:
        assert _schema(data_dir) == (head_revision(MIGRATIONS), True)
        assert cloud.osc("user", "show", "kept-user")["id"] == user["id"]
        rules = tmp_path / "p.json"
        rules.write_text("{}")
        policy = cloud.osc("policy", "create", "--type", "application/json", str(rules))
        assert cloud.osc("policy", "show", policy["id"])["rules"] == "{}"
    finally:
        stop_cloud(cloud)
