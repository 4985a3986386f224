"""Servers on networks with the ``openstack`` CLI against a running onestack: boot on a named
network, ``--nic auto``, a user's ``--port``, a floating IP in ``server show``, ports added and
removed, and what ``server delete`` leaves (the user's port) and removes (Compute's)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import RunningCloud
from tests.e2e.test_compute import _image
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e
DEMO = "onestack-demo"


def _ports(cloud: RunningCloud, server_id: str) -> list[dict[str, Any]]:
    return list(cloud.osc("port", "list", "--device-id", server_id, "--long", cloud=DEMO))


def _addresses(cloud: RunningCloud, server_id: str) -> dict[str, Any]:
    conn = connect(cloud, DEMO)
    return dict(conn.compute.get_server(server_id).addresses or {})


def test_cli_servers_on_networks(running_cloud: RunningCloud) -> None:
    cloud = running_cloud
    image = _image(connect(cloud))
    server = cloud.osc(
        "server", "create", "--image", image, "--flavor", "m1.nano", "--network", "private",
        "--wait", "net-vm", cloud=DEMO,
    )
    assert server["status"] == "ACTIVE"
    (port,) = _ports(cloud, server["id"])
    fixed = port["Fixed IP Addresses"][0]["ip_address"]
    shown = cloud.osc("server", "show", server["id"], cloud=DEMO)
    assert shown["addresses"] == {"private": [fixed]}

    # a floating IP shows up in the addresses (network-changed refreshes the cache)
    fip = cloud.osc("floating", "ip", "create", "public", cloud=DEMO)
    cloud.osc("server", "add", "floating", "ip", server["id"], fip["floating_ip_address"],
              cloud=DEMO, parse=False)
    deadline = time.monotonic() + 15
    while True:
        entries = _addresses(cloud, server["id"]).get("private", [])
        kinds = {e["OS-EXT-IPS:type"]: e["addr"] for e in entries}
        if kinds.get("floating") == fip["floating_ip_address"]:
            break
        assert time.monotonic() < deadline, entries
        time.sleep(0.2)
    assert kinds["fixed"] == fixed

    # a port of the user's added and removed, a network added and removed
    mine = cloud.osc("port", "create", "--network", "private", "user-port", cloud=DEMO)
    cloud.osc("server", "add", "port", server["id"], mine["id"], cloud=DEMO, parse=False)
    assert {p["ID"] for p in _ports(cloud, server["id"])} == {port["ID"], mine["id"]}
    cloud.osc("server", "remove", "port", server["id"], mine["id"], cloud=DEMO, parse=False)
    assert {p["ID"] for p in _ports(cloud, server["id"])} == {port["ID"]}
    assert cloud.osc("port", "show", mine["id"], cloud=DEMO)["device_id"] == ""

    # delete: the port Compute made goes with the server
    cloud.osc("floating", "ip", "delete", fip["id"], cloud=DEMO, parse=False)
    cloud.osc("server", "delete", "--wait", server["id"], cloud=DEMO, parse=False)
    assert _ports(cloud, server["id"]) == []

    # --port (the user's port is kept after the delete) and --nic auto
    booted = cloud.osc(
        "server", "create", "--image", image, "--flavor", "m1.nano", "--port", mine["id"],
        "--wait", "port-vm", cloud=DEMO,
    )
    auto = cloud.osc(
        "server", "create", "--image", image, "--flavor", "m1.nano", "--nic", "auto",
        "--wait", "auto-vm", cloud=DEMO,
    )
    assert booted["status"] == auto["status"] == "ACTIVE"
    assert cloud.osc("port", "show", mine["id"], cloud=DEMO)["device_id"] == booted["id"]
    assert list(_addresses(cloud, auto["id"])) == ["private"]
    cloud.osc("server", "delete", "--wait", booted["id"], auto["id"], cloud=DEMO, parse=False)
    kept = cloud.osc("port", "show", mine["id"], cloud=DEMO)
    assert kept["device_id"] == "" and kept["status"] == "DOWN"
    assert _ports(cloud, auto["id"]) == []
    cloud.osc("port", "delete", mine["id"], cloud=DEMO, parse=False)

    # --nic net-id=...,v4-fixed-ip=...: inside the subnet it is the address, outside 400
    import ipaddress

    subnet = cloud.osc("subnet", "show", "private-subnet", cloud=DEMO)
    wanted = str(ipaddress.ip_network(subnet["cidr"])[-5])
    net_id = subnet["network_id"]
    fixed_vm = cloud.osc(
        "server", "create", "--image", image, "--flavor", "m1.nano", "--nic",
        f"net-id={net_id},v4-fixed-ip={wanted}", "--wait", "fixed-vm", cloud=DEMO,
    )
    assert cloud.osc("server", "show", fixed_vm["id"], cloud=DEMO)["addresses"] == {
        "private": [wanted]
    }
    cloud.osc("server", "delete", "--wait", fixed_vm["id"], cloud=DEMO, parse=False)
    proc = cloud.osc(
        "server", "create", "--image", image, "--flavor", "m1.nano", "--nic",
        f"net-id={net_id},v4-fixed-ip=192.0.2.1", "bad-vm", cloud=DEMO, check=False,
    )
    assert proc.returncode != 0 and "is not valid for network" in proc.stderr, proc.stderr
