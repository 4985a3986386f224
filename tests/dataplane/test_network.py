"""The Networking dataplane with real packets: the host's agent reports in, wires guests'
taps to their network's bridge, serves DHCP from dnsmasq in a namespace; two tiny guests on
one tenant network get their fixed addresses by DHCP and ping each other."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.dataplane.conftest import BOOT_MARKER, BOOT_TIMEOUT, wait_for
from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.dataplane


def console(cloud: RunningCloud, server: str) -> str:
    return str(cloud.osc("console", "log", "show", server, parse=False))


def booted(cloud: RunningCloud, server: str) -> str:
    wait_for(lambda: BOOT_MARKER in console(cloud, server), BOOT_TIMEOUT, f"{server} boot", 1)
    return console(cloud, server)


def netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def fixed_ip(cloud: RunningCloud, server: str, network: str) -> str:
    ports = cloud.osc("port", "list", "--server", server, "--network", network, "--long")
    return str(ports[0]["Fixed IP Addresses"][0]["ip_address"])


def test_agents_report_in(qemu_cloud: RunningCloud) -> None:
    agents = qemu_cloud.osc("network", "agent", "list")
    kinds = {a["Agent Type"] for a in agents if a["Alive"]}
    assert {"Linux bridge agent", "DHCP agent", "L3 agent"} <= kinds


def test_two_guests_get_dhcp_addresses_and_ping(qemu_cloud: RunningCloud, tmp_path: Path) -> None:
    cloud = qemu_cloud
    net = cloud.osc("network", "create", "dp-net")
    cloud.osc("subnet", "create", "--network", "dp-net", "--subnet-range", "10.91.0.0/24", "dp-sub")
    # the guest's tap is on the network's bridge before the server goes ACTIVE
    a = cloud.osc(
        "server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny",
        "--nic", "net-id=dp-net", "--wait", "dp-a",
    )  # fmt: skip
    assert a["status"] == "ACTIVE"
    bridge = "osbr" + net["id"][:10]
    port_a = cloud.osc("port", "list", "--server", "dp-a")[0]
    tap = ("tap" + port_a["ID"])[:14]
    assert Path(f"/sys/class/net/{tap}/master").resolve().name == bridge
    assert cloud.osc("port", "show", port_a["ID"])["status"] == "ACTIVE"
    # the DHCP port shows in the API and lives in its namespace
    dhcp = cloud.osc("port", "list", "--network", "dp-net", "--device-owner", "network:dhcp")
    assert len(dhcp) == 1
    assert f"onestack-dhcp-{net['id']}" in netns()
    ip_a = fixed_ip(cloud, "dp-a", "dp-net")
    log_a = booted(cloud, "dp-a")
    assert f"onestack-tiny: eth0 {ip_a}/24" in log_a, log_a[-2000:]

    script = tmp_path / "ping.sh"
    script.write_text(f"#!/bin/sh\nping -c 3 -W 2 {ip_a} && echo PING-OK || echo PING-FAILED\n")
    cloud.osc(
        "server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny",
        "--nic", "net-id=dp-net", "--user-data", str(script), "--config-drive", "true",
        "--wait", "dp-b",
    )  # fmt: skip
    ip_b = fixed_ip(cloud, "dp-b", "dp-net")
    log_b = booted(cloud, "dp-b")
    assert f"onestack-tiny: eth0 {ip_b}/24" in log_b, log_b[-2000:]
    assert "user-data: PING-OK" in log_b, log_b[-2000:]

    # deleting the guests and the network leaves nothing of them on the host
    for name in ("dp-a", "dp-b"):
        cloud.osc("server", "delete", "--wait", name, parse=False)
    assert not link_exists(tap)
    cloud.osc("network", "delete", "dp-net", parse=False)
    wait_for(
        lambda: f"onestack-dhcp-{net['id']}" not in netns() and not link_exists(bridge),
        10,
        "the network's namespace and bridge removed",
        0.2,
    )
