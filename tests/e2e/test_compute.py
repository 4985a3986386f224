"""Compute with the real clients: the ``openstack`` CLI for the boot path, openstacksdk for a
server through the actions, scheduling, quotas, tenancy and microversions; and the whole
control plane as separate processes over RabbitMQ with two compute agents, one killed with
SIGKILL mid-build and restarted."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest

from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud
from tests.e2e.test_process_model import Process, rabbit_vhost
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e


def _image(conn: openstack.connection.Connection, name: str = "cirros-e2e") -> str:
    found = conn.image.find_image(name)
    if found is not None:
        return str(found.id)
    image = conn.image.create_image(name=name, disk_format="raw", container_format="bare",
                                    visibility="public", data=b"\0" * 4096)
    return str(image.id)


def test_cli_boot_list_show_delete(running_cloud: RunningCloud) -> None:
    image = _image(connect(running_cloud))
    server = running_cloud.osc("server", "create", "--image", image, "--flavor", "m1.nano",
                               "--nic", "none", "--wait", "cli-vm", cloud="onestack-demo")
    assert server["status"] == "ACTIVE" and server["flavor"]
    listed = running_cloud.osc("server", "list", cloud="onestack-demo")
    assert [s["Status"] for s in listed if s["ID"] == server["id"]] == ["ACTIVE"]
    shown = running_cloud.osc("server", "show", server["id"], cloud="onestack-demo")
    assert shown["OS-EXT-STS:vm_state"] == "active"
    flavors = {f["Name"]: f["ID"] for f in running_cloud.osc("flavor", "list")}
    assert flavors["m1.tiny"] == "1" and flavors["m1.nano"] == "42" and flavors["ds1G"] == "d2"
    running_cloud.osc("server", "delete", "--wait", server["id"], cloud="onestack-demo",
                      parse=False)
    remaining = running_cloud.osc("server", "list", cloud="onestack-demo")
    assert server["id"] not in [s["ID"] for s in remaining]


def test_sdk_server_through_the_actions(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud, "onestack-demo")
    image = _image(connect(running_cloud))
    server = conn.compute.create_server(name="sdk-vm", image_id=image, flavor_id="42",
                                        networks="none")
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)

    def after(call: Any, status: str) -> None:
        call()
        found = conn.compute.wait_for_server(conn.compute.get_server(server.id),
                                             status=status, wait=60, interval=0.2)
        assert found.status == status and found.task_state is None

    after(lambda: conn.compute.stop_server(server), "SHUTOFF")
    after(lambda: conn.compute.start_server(server), "ACTIVE")
    after(lambda: conn.compute.reboot_server(server, "HARD"), "ACTIVE")
    after(lambda: conn.compute.pause_server(server), "PAUSED")
    after(lambda: conn.compute.unpause_server(server), "ACTIVE")
    after(lambda: conn.compute.suspend_server(server), "SUSPENDED")
    after(lambda: conn.compute.resume_server(server), "ACTIVE")
    after(lambda: conn.compute.rescue_server(server), "RESCUE")
    after(lambda: conn.compute.unrescue_server(server), "ACTIVE")
    after(lambda: conn.compute.resize_server(server, "84"), "VERIFY_RESIZE")
    after(lambda: conn.compute.confirm_server_resize(server), "ACTIVE")
    after(lambda: conn.compute.shelve_server(server), "SHELVED_OFFLOADED")
    after(lambda: conn.compute.unshelve_server(server), "ACTIVE")
    after(lambda: conn.compute.rebuild_server(server, image=image), "ACTIVE")
    conn.compute.lock_server(server)
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.compute.stop_server(server)
    conn.compute.unlock_server(server)
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.compute.start_server(server)  # already ACTIVE
    output = conn.compute.get_server_console_output(server)
    assert "login" in output["output"]
    conn.compute.set_server_metadata(server, role="web")
    assert conn.compute.get_server_metadata(server).metadata["role"] == "web"
    actions = [a.action for a in conn.compute.server_actions(server)]
    assert actions[-1] == "create" and "shelve" in actions
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60, interval=0.2)


def test_sdk_keypairs_quotas_and_isolation(running_cloud: RunningCloud) -> None:
    admin = connect(running_cloud)
    demo = connect(running_cloud, "onestack-demo")
    image = _image(admin)
    pair = demo.compute.create_keypair(name=f"k-{uuid.uuid4().hex[:6]}")
    assert pair.private_key and pair.fingerprint.count(":") == 15
    assert admin.compute.find_keypair(pair.name) is None  # keypairs are per user
    project = demo.current_project_id
    admin.compute.update_quota_set(project, instances=1)
    try:
        first = demo.compute.create_server(name="q1", image_id=image, flavor_id="42",
                                           networks="none", key_name=pair.name)
        demo.compute.wait_for_server(first, status="ACTIVE", wait=60, interval=0.2)
        with pytest.raises(openstack.exceptions.ForbiddenException):
            demo.compute.create_server(name="q2", image_id=image, flavor_id="42",
                                       networks="none")
        # the admin project sees none of demo's servers unless it asks for all projects
        assert first.id not in [s.id for s in admin.compute.servers()]
        assert first.id in [s.id for s in admin.compute.servers(all_projects=True)]
        alt = _other_project(running_cloud, admin)
        with pytest.raises(openstack.exceptions.NotFoundException):
            alt.compute.get_server(first.id)
        demo.compute.delete_server(first)
        demo.compute.wait_for_delete(first, wait=60, interval=0.2)
    finally:
        admin.compute.revert_quota_set(project)
        demo.compute.delete_keypair(pair)


def _other_project(cloud: RunningCloud,
                   admin: openstack.connection.Connection) -> openstack.connection.Connection:
    """A member of a project of its own."""
    from openstack.config import loader

    name = f"cmp-{uuid.uuid4().hex[:8]}"
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="Cmp-pw-1234", domain_id="default",
                                      default_project_id=project.id)
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    region = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(
        cloud="onestack")
    auth = dict(region.config["auth"], username=name, password="Cmp-pw-1234", project_name=name)
    return openstack.connect(auth=auth, identity_api_version="3")


def test_microversion_negotiation(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud)
    endpoint = conn.compute.get_endpoint()
    token = conn.auth_token
    ok = httpx.get(f"{endpoint}/servers", headers={
        "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.60"}, timeout=10)
    assert ok.status_code == 200 and ok.headers["OpenStack-API-Version"] == "compute 2.60"
    bad = httpx.get(f"{endpoint}/servers", headers={
        "X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "3.0"}, timeout=10)
    assert bad.status_code == 406
    doc = httpx.get(f"{endpoint}/", timeout=10).json()["version"]
    assert doc["min_version"] == "2.1" and doc["version"] == "2.96"
    root = httpx.get(endpoint.rsplit("/v2.1", 1)[0] + "/", timeout=10).json()["versions"]
    assert [v["id"] for v in root] == ["v2.0", "v2.1"]
    # the sdk negotiates its highest version against that document
    assert conn.compute.get_endpoint_data().max_microversion is not None


# -- the control plane as separate processes over RabbitMQ ----------------------------------------
class Plane:
    """``onestack up`` (APIs only) plus scheduler, conductor and compute agent processes."""

    def __init__(self, root: Path, transport: str):
        self.root = root
        self.transport = transport
        self.data_dir = root / "data"
        self.cloud = start_cloud(self.data_dir, _free(), extra_env={
            "ONESTACK_TRANSPORT_URL": transport, "ONESTACK_RUN_AGENTS": "false"})
        self.procs: list[Process] = []

    def agent(self, kind: str, host: str, **env: str) -> Process:
        args = ["agent", kind, "--host", host, "--data-dir", str(self.data_dir),
                "--transport", self.transport, "--identity-url", f"{self.cloud.url}/identity"]
        if kind == "compute":
            args.append("--fake")
        proc = Process(args, self.root / f"{kind}-{host}-{len(self.procs)}.log", env=env)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        stop_cloud(self.cloud)


def _free() -> int:
    from tests.conftest import free_port

    return free_port()


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    with rabbit_vhost() as (transport, _vhost):
        p = Plane(tmp_path, transport)
        try:
            yield p
        finally:
            p.stop()


def _wait(cond: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_processes_over_rabbit_with_two_compute_agents(plane: Plane) -> None:
    plane.agent("scheduler", "sched-1")
    plane.agent("conductor", "cond-1")
    plane.agent("compute", "node-1")
    node2 = plane.agent("compute", "node-2", ONESTACK_COMPUTE__FAKE_DELAY="30")
    conn = connect(plane.cloud)
    image = _image(conn)

    def hosts_up() -> bool:
        states = {s.host: s.state for s in conn.compute.services()}
        return all(states.get(h) == "up" for h in ("node-1", "node-2", "sched-1", "cond-1"))

    _wait(hosts_up, "every agent's service record up")
    # node-2 builds take 30 s: force one there, kill the agent mid-build, start it again
    slow = conn.compute.create_server(name="slow", image_id=image, flavor_id="42",
                                      networks="none", availability_zone="nova:node-2")
    _wait(lambda: conn.compute.get_server(slow.id).task_state == "spawning", "spawning")
    os.kill(node2.popen.pid, signal.SIGKILL)
    node2.popen.wait()
    assert conn.compute.get_server(slow.id).status == "BUILD"
    plane.agent("compute", "node-2")
    slow = conn.compute.wait_for_server(slow, status="ACTIVE", wait=90, interval=0.5)
    assert slow.compute_host == "node-2"
    # builds spread over both hosts through the scheduler process
    booted = [conn.compute.create_server(name=f"s{i}", image_id=image, flavor_id="42",
                                         networks="none") for i in range(4)]
    hosts = {conn.compute.wait_for_server(s, status="ACTIVE", wait=90,
                                          interval=0.3).compute_host for s in booted}
    assert hosts <= {"node-1", "node-2"} and hosts
    for s in [slow, *booted]:
        conn.compute.delete_server(s)
    for s in [slow, *booted]:
        conn.compute.wait_for_delete(s, wait=60, interval=0.3)


