"""Networking with the real clients: the `openstack` CLI through a seed-style exercise, and
openstacksdk for tenant isolation and the auto-allocated topology under concurrent calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openstack
import pytest
from openstack.config import loader

from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.e2e


def connect(cloud: RunningCloud, name: str = "onestack", **auth: str
            ) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    region = config.get_one(cloud=name)
    if not auth:
        return openstack.connection.Connection(config=region)
    return openstack.connect(auth=dict(region.config["auth"], **auth), identity_api_version="3")


@pytest.fixture(scope="module")
def outsider(running_cloud: RunningCloud) -> Iterator[openstack.connection.Connection]:
    """A member of a project of its own, made with the sdk."""
    admin = connect(running_cloud)
    name = f"net-{uuid.uuid4().hex[:8]}"
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="Net-pw-1234", domain_id="default",
                                      default_project_id=project.id)
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    yield connect(running_cloud, username=name, password="Net-pw-1234", project_name=name)
    admin.identity.delete_user(user)
    admin.identity.delete_project(project)


def test_cli_seed_exercise(running_cloud: RunningCloud) -> None:
    osc = running_cloud.osc

    def demo(*args: str, **kw: object) -> object:
        return osc(*args, cloud="onestack-demo", **kw)

    net = demo("network", "create", "seed-net")
    assert net["mtu"] == 1450 and net["status"] == "ACTIVE"
    sub = demo("subnet", "create", "seed-subnet", "--network", "seed-net", "--subnet-range",
               "192.168.77.0/24", "--dns-nameserver", "192.0.2.53")
    assert sub["gateway_ip"] == "192.168.77.1" and sub["dns_nameservers"] == ["192.0.2.53"]
    router = demo("router", "create", "seed-router")
    demo("router", "set", "seed-router", "--external-gateway", "public", parse=False)
    demo("router", "add", "subnet", "seed-router", "seed-subnet", parse=False)
    shown = demo("router", "show", "seed-router")
    assert shown["external_gateway_info"]["network_id"] == \
        osc("network", "show", "public")["id"]
    port = demo("port", "create", "seed-port", "--network", "seed-net", "--fixed-ip",
                "subnet=seed-subnet,ip-address=192.168.77.10")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "192.168.77.10"}]
    fip = demo("floating", "ip", "create", "public", "--port", "seed-port")
    assert fip["fixed_ip_address"] == "192.168.77.10" and fip["router_id"] == router["id"]
    sg = demo("security", "group", "create", "seed-sg", "--description", "web")
    rule = demo("security", "group", "rule", "create", "seed-sg", "--protocol", "tcp",
                "--dst-port", "80:81", "--remote-ip", "203.0.113.0/24")
    assert rule["port_range_min"] == 80 and rule["port_range_max"] == 81
    dup = demo("security", "group", "rule", "create", "seed-sg", "--protocol", "tcp",
               "--dst-port", "80:81", "--remote-ip", "203.0.113.0/24", check=False,
               parse=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    demo("port", "set", "seed-port", "--security-group", "seed-sg", "--name", "seed-port2",
         parse=False)
    assert sg["id"] in demo("port", "show", "seed-port2")["security_group_ids"]
    demo("network", "set", "seed-net", "--description", "changed", parse=False)
    # a provider VLAN network on physnet public, admin only
    vlan = osc("network", "create", "seed-vlan", "--provider-network-type", "vlan",
               "--provider-physical-network", "public", "--provider-segment", "123")
    assert vlan["provider:segmentation_id"] == 123 and vlan["mtu"] == 1500
    refused = demo("network", "create", "no-vlan", "--provider-network-type", "vlan",
                   "--provider-physical-network", "public", check=False, parse=False)
    assert refused.returncode != 0
    # RBAC: the VLAN network shared with the demo project only
    demo_project = osc("project", "show", "demo")["id"]
    rbac = osc("network", "rbac", "create", "--type", "network", "--action",
               "access_as_shared", "--target-project", demo_project, "seed-vlan")
    assert "seed-vlan" in {n["Name"] for n in demo("network", "list")}
    # quotas
    osc("quota", "set", "--networks", "42", "demo", parse=False)
    limits = {q["Resource"]: q["Limit"] for q in osc("quota", "show", "--network", "demo")}
    assert limits["networks"] == 42
    # tear down, in the order Neutron requires
    still = demo("network", "delete", "seed-net", check=False, parse=False)
    assert still.returncode != 0 and "in use" in still.stderr
    demo("floating", "ip", "delete", fip["id"], parse=False)
    demo("port", "delete", "seed-port2", parse=False)
    demo("router", "remove", "subnet", "seed-router", "seed-subnet", parse=False)
    demo("router", "delete", "seed-router", parse=False)
    demo("network", "delete", "seed-net", parse=False)
    demo("security", "group", "delete", "seed-sg", parse=False)
    osc("network", "rbac", "delete", rbac["id"], parse=False)
    osc("network", "delete", "seed-vlan", parse=False)
    left = {n["Name"]: n for n in demo("network", "list")}
    assert "seed-net" not in left and {"public", "private"} <= set(left)


def test_projects_isolated(running_cloud: RunningCloud,
                           outsider: openstack.connection.Connection) -> None:
    demo = connect(running_cloud, "onestack-demo")
    private = demo.network.find_network("private")
    assert private is not None
    names = {n.name for n in outsider.network.networks()}
    assert "public" in names and "private" not in names
    assert outsider.network.find_network(private.id) is None
    with pytest.raises(openstack.exceptions.NotFoundException):
        outsider.network.get_network(private.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        outsider.network.create_port(network_id=private.id)
    own = outsider.network.create_network(name="mine")
    assert demo.network.find_network(own.id) is None
    assert not [p for p in demo.network.ports() if p.network_id == own.id]
    groups = [g.name for g in outsider.network.security_groups()]
    assert groups == ["default"]
    outsider.network.delete_network(own)


def test_auto_allocated_topology_once(running_cloud: RunningCloud,
                                      outsider: openstack.connection.Connection) -> None:
    project = outsider.current_project_id

    def allocate(_: int) -> str:
        return str(outsider.network.get_auto_allocated_topology(project).id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(allocate, range(6)))
    assert len(ids) == 1
    nets = [n for n in outsider.network.networks() if n.name == "auto_allocated_network"]
    assert [n.id for n in nets] == list(ids)
    routers = list(outsider.network.routers())
    assert len(routers) == 1 and routers[0].external_gateway_info
    outsider.network.delete_auto_allocated_topology(project)
    assert not [n for n in outsider.network.networks() if n.name == "auto_allocated_network"]


def _fake_agents(cloud: RunningCloud, *kinds: str) -> list[tuple[str, str]]:
    """Agents of ``kinds`` that just reported, written as their heartbeats would be (the
    dataplane's agents are issue 14's; this cloud's RPC transport is in-process)."""
    import datetime as dt
    import sqlite3

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    out = []
    with sqlite3.connect(cloud.data_dir / "network.sqlite", timeout=30) as db:
        for kind in kinds:
            agent_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO network_agents (id, agent_type, binary, topic, host, "
                "admin_state_up, availability_zone, configurations, created_at, started_at, "
                "heartbeat_timestamp) VALUES (?, ?, ?, 'N/A', ?, 1, 'nova', '{}', ?, ?, ?)",
                (agent_id, kind, "onestack-agent", f"e2e-{uuid.uuid4().hex[:6]}", now, now, now))
            out.append((kind, agent_id))
    return out


def test_cli_agent_scheduling(running_cloud: RunningCloud) -> None:
    """`openstack network agent add/remove router|network` and `agent list --router/--network`
    against agents that report; `router show` still works."""
    osc = running_cloud.osc
    agents = _fake_agents(running_cloud, "L3 agent", "L3 agent", "DHCP agent")
    l3 = [a["ID"] for a in osc("network", "agent", "list", "--agent-type", "l3")
          if a["Alive"]]
    dhcp = next(a for kind, a in agents if kind == "DHCP agent")
    router = osc("router", "create", "sched-cli-r")
    hosting = osc("network", "agent", "list", "--router", router["id"])
    assert len(hosting) == 1 and hosting[0]["ID"] in l3  # scheduled at create
    current = hosting[0]["ID"]
    osc("network", "agent", "remove", "router", "--l3", current, router["id"], parse=False)
    assert osc("network", "agent", "list", "--router", router["id"]) == []
    target = next(a for a in l3 if a != current)
    osc("network", "agent", "add", "router", "--l3", target, router["id"], parse=False)
    assert [a["ID"] for a in osc("network", "agent", "list", "--router", router["id"])] == \
        [target]
    assert osc("router", "show", "sched-cli-r")["id"] == router["id"]
    net = osc("network", "create", "sched-cli-net")
    osc("network", "agent", "add", "network", "--dhcp", dhcp, net["id"], parse=False)
    assert [a["ID"] for a in osc("network", "agent", "list", "--network", net["id"])] == [dhcp]
    # the CLI and the sdk ignore this error (neither raises it): the answer itself
    again = connect(running_cloud).network.post(f"/agents/{dhcp}/dhcp-networks",
                                                json={"network_id": net["id"]})
    assert again.status_code == 409
    assert again.json()["NeutronError"]["type"] == "NetworkHostedByDHCPAgent"
    osc("network", "agent", "remove", "network", "--dhcp", dhcp, net["id"], parse=False)
    assert osc("network", "agent", "list", "--network", net["id"]) == []
    osc("network", "delete", "sched-cli-net", parse=False)
    osc("router", "delete", "sched-cli-r", parse=False)
    for _, agent_id in agents:
        osc("network", "agent", "delete", agent_id, parse=False)
