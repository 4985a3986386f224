"""A real `onestack up`, driven by the real `openstack` CLI: tokens, catalog, keys, restarts."""

from __future__ import annotations

import signal
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import BIN, RunningCloud, free_port, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e


def validate(cloud: RunningCloud, token: str, subject: str) -> int:
    r = httpx.get(f"{cloud.url}/identity/v3/auth/tokens",
                  headers={"X-Auth-Token": token, "X-Subject-Token": subject})
    return r.status_code


def test_bootstrap_files(running_cloud: RunningCloud) -> None:
    for name in ("clouds.yaml", "admin-password", "demo-password"):
        mode = stat.S_IMODE((running_cloud.data_dir / name).stat().st_mode)
        assert mode == 0o600, name
    clouds = yaml.safe_load(running_cloud.clouds_yaml.read_text())["clouds"]
    assert clouds["onestack"]["auth"]["auth_url"] == f"{running_cloud.url}/identity"
    assert clouds["onestack-demo"]["auth"]["username"] == "demo"
    assert httpx.get(f"{running_cloud.url}/healthcheck").text == "OK"


def test_token_issue_and_revoke(running_cloud: RunningCloud) -> None:
    admin = running_cloud.osc("token", "issue")
    assert admin["project_id"] and admin["user_id"] and admin["expires"]
    demo = running_cloud.osc("token", "issue", cloud="onestack-demo")
    assert demo["project_id"] != admin["project_id"]
    assert validate(running_cloud, admin["id"], demo["id"]) == 200
    running_cloud.osc("token", "revoke", demo["id"], parse=False)
    assert validate(running_cloud, admin["id"], demo["id"]) == 404


def test_catalog(running_cloud: RunningCloud) -> None:
    catalog = running_cloud.osc("catalog", "list")
    (identity,) = [s for s in catalog if s["Type"] == "identity"]
    assert identity["Name"] == "keystone"
    shown = running_cloud.osc("catalog", "show", "identity")
    assert f"{running_cloud.url}/identity" in str(shown["endpoints"])
    assert running_cloud.osc("versions", "show", "--service", "identity", check=False
                             ).returncode == 0


def test_demo_is_refused_admin_actions(running_cloud: RunningCloud) -> None:
    proc = running_cloud.osc("domain", "create", "demo-should-not", cloud="onestack-demo",
                             check=False)
    assert proc.returncode != 0 and "403" in proc.stderr


def test_key_rotation_while_running(running_cloud: RunningCloud) -> None:
    token = running_cloud.osc("token", "issue")["id"]
    subprocess.run([str(BIN / "onestack"), "keys", "rotate", "--data-dir",
                    str(running_cloud.data_dir)], check=True, capture_output=True)
    fresh = running_cloud.osc("token", "issue")["id"]
    assert validate(running_cloud, fresh, token) == 200  # the old primary still decrypts
    assert validate(running_cloud, token, fresh) == 200
    keys = sorted(int(p.name) for p in (running_cloud.data_dir / "fernet-keys").iterdir()
                  if p.name.isdigit())
    assert keys[0] == 0 and len(keys) == 3


def test_restart_keeps_state(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    env = {"ONESTACK_ADMIN_PASSWORD": "s3cret-admin"}
    cloud = start_cloud(data_dir, port, env)
    try:
        cloud.osc("domain", "create", "survives-restart")
        token = cloud.osc("token", "issue")["id"]
    finally:
        cloud.process.send_signal(signal.SIGTERM)
        assert cloud.process.wait(timeout=15) == 0
    assert (data_dir / "admin-password").read_text().strip() == "s3cret-admin"
    cloud = start_cloud(data_dir, port)
    try:
        assert cloud.osc("domain", "show", "survives-restart")["name"] == "survives-restart"
        assert validate(cloud, token, token) == 200  # same keys, same token
        r = httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json={"auth": {"identity": {
            "methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": "s3cret-admin"}}}}})
        assert r.status_code == 201
    finally:
        stop_cloud(cloud)


def test_status_command(running_cloud: RunningCloud) -> None:
    port = running_cloud.url.rsplit(":", 1)[1]
    proc = subprocess.run([str(BIN / "onestack"), "status", "--data-dir",
                           str(running_cloud.data_dir), "--port", port],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ready" in proc.stderr and f"{running_cloud.url}/identity" in proc.stderr
    closed = subprocess.run([str(BIN / "onestack"), "status", "--port", "1"],
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 1 and "not answering" in closed.stderr
