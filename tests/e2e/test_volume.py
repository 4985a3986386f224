"""Block Storage with the real clients: the ``openstack volume ...`` CLI for the lifecycle,
snapshots, types, QoS, backups, transfers and services; openstacksdk's block storage proxy
(version discovery through keystoneauth with the project id in the catalog URL)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import RunningCloud
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e


def _wait(cloud: RunningCloud, kind: list[str], name: str, status: str,
          project: str = "onestack-demo", timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item: dict[str, Any] = cloud.osc(*kind, "show", name, cloud=project)
        if item["status"] == status:
            return item
        assert not item["status"].startswith("error"), item
        assert time.monotonic() < deadline, f"{name} is {item['status']}, not {status}"
        time.sleep(0.3)


def test_cli_volume_lifecycle(running_cloud: RunningCloud) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    vol = running_cloud.osc("volume", "create", "--size", "1", "--property", "a=b", name,
                            cloud="onestack-demo")
    assert vol["size"] == 1 and vol["name"] == name
    vol = _wait(running_cloud, ["volume"], name, "available")
    assert vol["type"] == "__DEFAULT__"
    running_cloud.osc("volume", "set", "--size", "2", "--bootable", "--description", "d", name,
                      cloud="onestack-demo", parse=False)
    vol = _wait(running_cloud, ["volume"], name, "available")
    assert vol["size"] == 2 and vol["bootable"] in ("true", True)
    listed = running_cloud.osc("volume", "list", cloud="onestack-demo")
    assert name in {v["Name"] for v in listed}
    snap = running_cloud.osc("volume", "snapshot", "create", "--volume", name, f"{name}-s",
                             cloud="onestack-demo")
    _wait(running_cloud, ["volume", "snapshot"], snap["id"], "available")
    clone = running_cloud.osc("volume", "create", "--snapshot", snap["id"], f"{name}-c",
                              cloud="onestack-demo")
    _wait(running_cloud, ["volume"], clone["id"], "available")
    backup = running_cloud.osc("volume", "backup", "create", "--name", f"{name}-b", name,
                               cloud="onestack-demo")
    _wait(running_cloud, ["volume", "backup"], backup["id"], "available")
    restored = running_cloud.osc("volume", "backup", "restore", "--force", backup["id"],
                                 f"{name}-c", cloud="onestack-demo", check=False)
    assert restored.returncode == 0, restored.stderr
    _wait(running_cloud, ["volume"], clone["id"], "available")
    _wait(running_cloud, ["volume", "backup"], backup["id"], "available")
    running_cloud.osc("volume", "backup", "delete", backup["id"], cloud="onestack-demo",
                      parse=False)
    over = running_cloud.osc("volume", "set", "--size", "1", name, cloud="onestack-demo",
                             check=False, parse=False)
    assert over.returncode != 0
    refused = running_cloud.osc("volume", "delete", name, cloud="onestack-demo", check=False,
                                parse=False)
    assert refused.returncode != 0  # it has a snapshot
    running_cloud.osc("volume", "delete", clone["id"], cloud="onestack-demo", parse=False)
    running_cloud.osc("volume", "delete", "--purge", name, cloud="onestack-demo", parse=False)


def test_cli_types_qos_services(running_cloud: RunningCloud) -> None:
    vtype = running_cloud.osc("volume", "type", "create", "--property",
                              "volume_backend_name=file", "--private", "e2e-private")
    assert vtype["is_public"] is False
    qos = running_cloud.osc("volume", "qos", "create", "--property", "total_iops_sec=500",
                            "e2e-qos")
    running_cloud.osc("volume", "qos", "associate", qos["id"], vtype["id"], parse=False)
    shown = running_cloud.osc("volume", "qos", "show", qos["id"])
    assert shown["associations"]
    services = running_cloud.osc("volume", "service", "list")
    assert {s["Binary"] for s in services} >= {"cinder-scheduler", "cinder-volume"}
    assert all(s["State"] == "up" for s in services)
    demo_types = running_cloud.osc("volume", "type", "list", cloud="onestack-demo")
    assert "e2e-private" not in {t["Name"] for t in demo_types}
    running_cloud.osc("volume", "qos", "disassociate", "--all", qos["id"], parse=False)
    running_cloud.osc("volume", "qos", "delete", qos["id"], parse=False)
    running_cloud.osc("volume", "type", "delete", vtype["id"], parse=False)


def test_cli_transfer_between_projects(running_cloud: RunningCloud) -> None:
    vol = running_cloud.osc("volume", "create", "--size", "1", "e2e-gift",
                            cloud="onestack-demo")
    _wait(running_cloud, ["volume"], vol["id"], "available")
    transfer = running_cloud.osc("volume", "transfer", "request", "create", vol["id"],
                                 cloud="onestack-demo")
    running_cloud.osc("volume", "transfer", "request", "accept", "--auth-key",
                      transfer["auth_key"], transfer["id"])
    mine = running_cloud.osc("volume", "show", vol["id"])
    assert mine["status"] == "available"
    gone = running_cloud.osc("volume", "show", vol["id"], cloud="onestack-demo", check=False,
                             parse=False)
    assert gone.returncode != 0
    running_cloud.osc("volume", "delete", vol["id"], parse=False)


def test_sdk_block_storage(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud, "onestack-demo")
    vol = conn.block_storage.create_volume(size=1, name="sdk-vol")
    vol = conn.block_storage.wait_for_status(vol, "available", wait=60, interval=0.3)
    assert vol.size == 1
    conn.block_storage.extend_volume(vol, 2)
    deadline = time.monotonic() + 60
    while (vol := conn.block_storage.get_volume(vol.id)).status != "available":
        assert time.monotonic() < deadline and vol.status == "extending", vol.status
        time.sleep(0.3)
    assert vol.size == 2
    limits = conn.block_storage.get_limits()
    assert limits.absolute.total_volumes_used >= 1
    quota = conn.block_storage.get_quota_set(conn.current_project_id, usage=True)
    assert quota.volumes == 10 and quota.usage["volumes"] >= 1
    conn.block_storage.delete_volume(vol)
    conn.block_storage.wait_for_delete(vol, wait=60, interval=0.3)
    zones = list(conn.block_storage.availability_zones())
    assert [z.name for z in zones] == ["nova"]


# -- the volume plane as separate processes over RabbitMQ ---------------------------------------
def test_volume_agent_killed_mid_create_reconciles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``onestack up`` (APIs only), ``onestack agent volume-scheduler`` and ``onestack agent
    volume`` over RabbitMQ; the volume agent is killed (SIGKILL) in the middle of a create and
    started again: the volume does not stay in creating."""
    import json
    import signal

    from tests.e2e.test_compute import Plane
    from tests.e2e.test_compute import _wait as wait_until
    from tests.e2e.test_process_model import rabbit_vhost

    slow = json.dumps({"fake": {"driver": "fake", "fake_delay": 30}})
    fast = json.dumps({"fake": {"driver": "fake"}})
    with rabbit_vhost() as (transport, _vhost):
        plane = Plane(tmp_path, transport)
        try:
            plane.agent("volume-scheduler", "vs1")
            agent = plane.agent("volume", "v1", ONESTACK_VOLUME__BACKENDS=slow,
                                ONESTACK_WORK_LEASE="6")
            conn = connect(plane.cloud)
            wait_until(lambda: any(s.binary == "cinder-volume" and s.state == "up"
                                   for s in conn.block_storage.services()), "cinder-volume up")
            vol = conn.block_storage.create_volume(size=1, name="killed-mid-create")
            wait_until(lambda: conn.block_storage.get_volume(vol.id).host, "scheduled")
            time.sleep(1.0)  # the agent is inside the (30 s) fake create now
            assert conn.block_storage.get_volume(vol.id).status == "creating"
            agent.popen.send_signal(signal.SIGKILL)
            agent.popen.wait()
            plane.agent("volume", "v1", ONESTACK_VOLUME__BACKENDS=fast, ONESTACK_WORK_LEASE="6")
            done = wait_until(lambda: conn.block_storage.get_volume(vol.id).status
                              in ("available", "error") and conn.block_storage.get_volume(vol.id),
                              "the volume leaves creating", timeout=60)
            assert done.status in ("available", "error")
            conn.block_storage.delete_volume(vol)
            conn.block_storage.wait_for_delete(vol, wait=60, interval=0.3)
        finally:
            plane.stop()
