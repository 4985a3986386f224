"""The Networking dataplane with real packets: the host's agent reports in, wires guests'
taps to their network's bridge, serves DHCP from dnsmasq in a namespace, routes with NAT in
a router namespace; two tiny guests on one tenant network get their fixed addresses by DHCP,
ping each other and the outside, and the outside reaches one by its floating IP."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.dataplane.conftest import (
    BOOT_MARKER,
    BOOT_TIMEOUT,
    QEMU_ENV,
    dnsmasq_pid,
    kill_guests,
    wait_for,
)
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud

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


def test_two_guests_dhcp_ping_router_snat_and_floating_ip(
    qemu_cloud: RunningCloud, tmp_path: Path
) -> None:
    """Two guests on a tenant network behind a router to ``public``: addresses by DHCP,
    guest to guest, guest to an "outside" namespace on the external bridge (SNAT), and that
    namespace to a guest's floating IP (DNAT)."""
    cloud = qemu_cloud
    net = cloud.osc("network", "create", "dp-net")
    cloud.osc("subnet", "create", "--network", "dp-net", "--subnet-range", "10.91.0.0/24", "dp-sub")
    router = cloud.osc("router", "create", "dp-r")
    cloud.osc("router", "set", "--external-gateway", "public", "dp-r", parse=False)
    cloud.osc("router", "add", "subnet", "dp-r", "dp-sub", parse=False)
    public = cloud.osc("network", "show", "public")
    [ext_subnet] = cloud.osc("subnet", "list", "--network", "public", "--ip-version", "4")
    outside_ip = cloud.osc("subnet", "show", ext_subnet["ID"])["gateway_ip"]
    outside = Outside(f"osbr{public['id'][:10]}", f"{outside_ip}/24")
    try:
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
        fip = cloud.osc("floating", "ip", "create", "public")["floating_ip_address"]
        cloud.osc("server", "add", "floating", "ip", "dp-a", fip, parse=False)
        ip_a = fixed_ip(cloud, "dp-a", "dp-net")
        log_a = booted(cloud, "dp-a")
        assert f"onestack-tiny: eth0 {ip_a}/24" in log_a, log_a[-2000:]

        script = tmp_path / "ping.sh"
        script.write_text(
            f"#!/bin/sh\nping -c 3 -W 2 {ip_a} && echo PING-OK || echo PING-FAILED\n"
            f"ping -c 3 -W 2 {outside_ip} && echo SNAT-OK || echo SNAT-FAILED\n"
        )
        cloud.osc(
            "server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny",
            "--nic", "net-id=dp-net", "--user-data", str(script), "--config-drive", "true",
            "--wait", "dp-b",
        )  # fmt: skip
        ip_b = fixed_ip(cloud, "dp-b", "dp-net")
        log_b = booted(cloud, "dp-b")
        assert f"onestack-tiny: eth0 {ip_b}/24" in log_b, log_b[-2000:]
        assert "user-data: PING-OK" in log_b, log_b[-2000:]
        assert "user-data: SNAT-OK" in log_b, log_b[-2000:]
        assert outside.ping(fip), f"the outside namespace cannot reach floating IP {fip}"

        # deleting the guests, the router and the network leaves nothing of them here
        for name in ("dp-a", "dp-b"):
            cloud.osc("server", "delete", "--wait", name, parse=False)
        assert not link_exists(tap)
        cloud.osc("floating", "ip", "delete", fip, parse=False)
        cloud.osc("router", "remove", "subnet", "dp-r", "dp-sub", parse=False)
        cloud.osc("router", "delete", "dp-r", parse=False)
        cloud.osc("network", "delete", "dp-net", parse=False)
        wait_for(
            lambda: (
                not {f"onestack-dhcp-{net['id']}", f"onestack-qrouter-{router['id']}"}
                & set(netns())
                and not link_exists(bridge)
            ),
            10,
            "the network's and router's namespaces and the bridge removed",
            0.2,
        )
    finally:
        outside.remove()


class Outside:
    """A namespace on the external network's bridge holding ``cidr`` (the test's "outside
    world"; nothing leaves the machine)."""

    def __init__(self, bridge: str, cidr: str):
        self.ns = "onestack-test-outside"
        wait_for(lambda: link_exists(bridge), 30, f"the external bridge {bridge}", 0.2)
        self.remove()
        for cmd in (
            ["ip", "netns", "add", self.ns],
            ["ip", "link", "add", "os-out0", "type", "veth", "peer", "name", "os-out1"],
            ["ip", "link", "set", "os-out1", "netns", self.ns],
            ["ip", "link", "set", "os-out0", "master", bridge, "up"],
            ["ip", "-n", self.ns, "addr", "add", cidr, "dev", "os-out1"],
            ["ip", "-n", self.ns, "link", "set", "os-out1", "up"],
        ):
            subprocess.run(cmd, check=True)

    def ping(self, address: str) -> bool:
        cmd = ["ip", "netns", "exec", self.ns, "ping", "-c", "3", "-W", "2", address]
        return subprocess.run(cmd, capture_output=True, check=False).returncode == 0

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "delete", "os-out0"], capture_output=True, check=False)


def test_a_killed_agent_adopts_and_reconciles(tiny_built: None, tmp_path: Path) -> None:
    """SIGKILLed and restarted: the DHCP server of a live network is adopted (same dnsmasq,
    its port still ACTIVE), one of a network deleted meanwhile is removed with its
    namespace (its DHCP state left as a deleted network would leave it)."""
    data_dir = tmp_path / "data"
    cloud = start_cloud(data_dir, free_port(), QEMU_ENV)
    try:
        net = cloud.osc("network", "create", "dp-keep")
        cloud.osc("subnet", "create", "--network", "dp-keep", "--subnet-range",
                  "10.92.0.0/24", "dp-keep-sub")  # fmt: skip
        ns = f"onestack-dhcp-{net['id']}"
        wait_for(lambda: ns in netns(), 30, "the DHCP namespace of dp-keep", 0.2)
        pid = wait_for(lambda: dnsmasq_pid(data_dir, net["id"]), 30, "dnsmasq of dp-keep", 0.2)
        cloud.process.send_signal(signal.SIGKILL)
        cloud.process.wait(10)
        # what a network deleted while the agent was down leaves behind
        gone = "0" * 8 + "-dead-beef-0000-" + "0" * 12
        subprocess.run(["ip", "netns", "add", f"onestack-dhcp-{gone}"], check=True)
        (data_dir / "network" / "dhcp" / gone).mkdir(parents=True)
        cloud = start_cloud(data_dir, free_port(), QEMU_ENV)
        wait_for(lambda: f"onestack-dhcp-{gone}" not in netns(), 60, "the stale namespace", 0.2)
        assert ns in netns() and dnsmasq_pid(data_dir, net["id"]) == pid
        assert Path(f"/proc/{pid}").exists()
        dhcp = cloud.osc("port", "list", "--network", "dp-keep", "--device-owner",
                         "network:dhcp", "--long")  # fmt: skip
        assert [p["Status"] for p in dhcp] == ["ACTIVE"]
    finally:
        stop_cloud(cloud)
        kill_guests(data_dir)
