"""DHCP: one dnsmasq per network in the namespace ``onestack-dhcp-<network>``, on a veth
from the network's bridge holding the DHCP port's addresses; host entries (MAC -> address,
host name) from the ports, reread on SIGHUP when they change (leases survive).

dnsmasq runs daemonized with a pidfile under ``STATE/dhcp/<network>/``, so it outlives the
agent and a restarted agent adopts it (the pid's command line names the network)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from onestack.common import netlink

LOG = logging.getLogger(__name__)
LEASE_SECONDS = 86400


class DhcpServers:
    """The dnsmasq processes of one host, under ``state_dir``."""

    def __init__(self, state_dir: Path, domain: str = "openstacklocal"):
        self.root = state_dir / "dhcp"
        self.domain = domain.strip(".") or "openstacklocal"

    def _dir(self, network_id: str) -> Path:
        return self.root / network_id

    def pid(self, network_id: str) -> int | None:
        """The running dnsmasq of ``network_id`` (checked by its command line)."""
        pidfile = self._dir(network_id) / "pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if not cmdline or not cmdline[0].endswith(b"dnsmasq"):
            return None
        marker = f"--pid-file={pidfile}".encode()
        return pid if marker in cmdline else None

    def networks(self) -> list[str]:
        """The networks with DHCP state here (a running server or leftover files)."""
        if not self.root.exists():
            return []
        return [d.name for d in self.root.iterdir() if d.is_dir()]

    def sync(self, network: dict[str, Any]) -> None:
        """Make the namespace, veth, files and dnsmasq of ``network`` match it."""
        net_id = network["id"]
        port = network["dhcp_port"]
        prefixes = {s["id"]: ipaddress.ip_network(s["cidr"]).prefixlen for s in network["subnets"]}
        cidrs = [
            f"{ip['ip_address']}/{prefixes[ip['subnet_id']]}"
            for ip in port["fixed_ips"]
            if ip["subnet_id"] in prefixes
        ]
        bridge = netlink.bridge_name(net_id)
        netlink.ensure_bridge(bridge, network["mtu"])
        netlink.plug_veth(
            netlink.dhcp_veth_name(net_id),
            inner_name(port["id"]),
            netlink.dhcp_netns(net_id),
            bridge,
            network["mtu"],
            port["mac_address"],
            cidrs,
        )
        d = self._dir(net_id)
        d.mkdir(parents=True, exist_ok=True)
        changed = _write(d / "hosts", self._hosts(network))
        changed |= _write(d / "opts", self._opts(network))
        pid = self.pid(net_id)
        wanted_args = self._args(network)
        args_file = d / "args"
        if (
            pid is not None
            and args_file.exists()
            and args_file.read_text() == "\0".join(wanted_args)
        ):
            if changed:
                os.kill(pid, signal.SIGHUP)  # rereads dhcp-hostsfile / dhcp-optsfile
            return
        if pid is not None:
            _stop(pid)
        args_file.write_text("\0".join(wanted_args))
        self._start(net_id, wanted_args)

    def _hosts(self, network: dict[str, Any]) -> str:
        lines = []
        for host in network["hosts"]:
            if host["port_id"] == network["dhcp_port"]["id"]:
                continue
            name = f"{host['hostname']}.{self.domain}"
            lines.append(f"{host['mac_address']},{name},{host['ip_address']}\n")
        return "".join(lines)

    def _opts(self, network: dict[str, Any]) -> str:
        lines = [f"option:mtu,{network['mtu']}\n"]
        for subnet in network["subnets"]:
            tag = _tag(subnet["id"])
            gateway = subnet.get("gateway_ip")
            lines.append(f"tag:{tag},option:router{',' + gateway if gateway else ''}\n")
            if subnet.get("dns_nameservers"):
                lines.append(f"tag:{tag},option:dns-server,{','.join(subnet['dns_nameservers'])}\n")
        return "".join(lines)

    def _args(self, network: dict[str, Any]) -> list[str]:
        d = self._dir(network["id"])
        args = [
            "--no-hosts",
            "--no-resolv",
            "--conf-file=/dev/null",
            f"--pid-file={d / 'pid'}",
            f"--dhcp-hostsfile={d / 'hosts'}",
            f"--dhcp-optsfile={d / 'opts'}",
            f"--dhcp-leasefile={d / 'leases'}",
            f"--interface={inner_name(network['dhcp_port']['id'])}",
            "--except-interface=lo",
            "--bind-interfaces",
            f"--domain={self.domain}",
            "--dhcp-authoritative",
            "--port=0",  # DHCP only: no DNS server yet
            # as root: the state directory (under a private data dir) stays unreadable to
            # nobody, and dnsmasq rereads its hosts there on SIGHUP
            "--user=root",
        ]
        for subnet in network["subnets"]:
            net = ipaddress.ip_network(subnet["cidr"])
            args.append(
                f"--dhcp-range=set:{_tag(subnet['id'])},{net.network_address},static,"
                f"{net.netmask},{LEASE_SECONDS}s"
            )
        return args

    def _start(self, network_id: str, args: list[str]) -> None:
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        netns = netlink.dhcp_netns(network_id)
        # argument lists only: nothing here passes through a shell
        subprocess.run(
            ["ip", "netns", "exec", netns, dnsmasq, *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=30,
        )
        LOG.info("dnsmasq started for network %s in %s", network_id, netns)

    def remove(self, network_id: str) -> None:
        """The DHCP server of a network this host no longer serves, and all its objects."""
        pid = self.pid(network_id)
        if pid is not None:
            _stop(pid)
        netlink.delete_link(netlink.dhcp_veth_name(network_id))
        netlink.delete_netns(netlink.dhcp_netns(network_id))
        shutil.rmtree(self._dir(network_id), ignore_errors=True)


def inner_name(port_id: str) -> str:
    return ("ns-" + port_id)[:14]


def _tag(subnet_id: str) -> str:
    return "subnet-" + subnet_id


def _write(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def _stop(pid: int, timeout: float = 3.0) -> None:
    import time

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
