"""The kernel objects of the dataplane, through pyroute2 (netlink), synchronous (callers use a
worker thread): shared by the Networking agent and the QEMU driver's VIF plugging, whose
taps the agent finds by their alias.

Naming (every device at most 15 characters, every object findable by ``cleanup``):
- ``osbr<network[:10]>``: the bridge of a network;
- ``tap<port[:11]>``: a guest's tap (Neutron's name, which Compute's VIF info carries),
  made by Compute's VIF plug with the link alias ``onestack port <port id>``; the alias, not
  the name, is what marks it as onestack's;
- ``osdh<network[:10]>``: the host end of a DHCP namespace's veth, ``ns-<port[:11]>`` inside;
- ``osqr``/``osqg<port[:10]>``: a router's interface/gateway veth (``l3.py``);
- namespaces ``onestack-dhcp-<network>``, ``onestack-qrouter-<router>``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Any

ALIAS_PREFIX = "onestack port "
BRIDGE_PREFIX = "osbr"
DHCP_VETH_PREFIX = "osdh"
NETNS_PREFIX = "onestack-"
DHCP_NETNS_PREFIX = "onestack-dhcp-"
#: the device name prefixes cleanup removes on the host (besides aliased taps)
HOST_PREFIXES = (BRIDGE_PREFIX, DHCP_VETH_PREFIX, "osqr", "osqg")


def bridge_name(network_id: str) -> str:
    return BRIDGE_PREFIX + network_id[:10]


def dhcp_veth_name(network_id: str) -> str:
    return DHCP_VETH_PREFIX + network_id[:10]


def dhcp_netns(network_id: str) -> str:
    return DHCP_NETNS_PREFIX + network_id


def ipr() -> Any:
    from pyroute2 import IPRoute

    return IPRoute()


def links() -> list[dict[str, Any]]:
    """The host's links: name, index, alias, master index, kind."""
    out = []
    with ipr() as ip:
        for link in ip.get_links():
            info = link.get_attr("IFLA_LINKINFO")
            out.append(
                {
                    "name": link.get_attr("IFLA_IFNAME"),
                    "index": link["index"],
                    "alias": link.get_attr("IFLA_IFALIAS") or "",
                    "master": link.get_attr("IFLA_MASTER"),
                    "mtu": link.get_attr("IFLA_MTU"),
                    "up": bool(link["flags"] & 1),
                    "kind": info.get_attr("IFLA_INFO_KIND") if info else None,
                }
            )
    return out


def port_taps() -> dict[str, dict[str, Any]]:
    """Port id -> link, for the taps Compute plugged (the alias names their port)."""
    return {
        link["alias"][len(ALIAS_PREFIX) :]: link
        for link in links()
        if link["alias"].startswith(ALIAS_PREFIX)
    }


def _index(ip: Any, name: str) -> int | None:
    found = ip.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(name: str, mtu: int) -> int:
    """The bridge ``name`` up with ``mtu`` (made when missing); its index."""
    with ipr() as ip:
        index = _index(ip, name)
        if index is None:
            ip.link("add", ifname=name, kind="bridge", br_forward_delay=0, br_stp_state=0)
            index = _index(ip, name)
            assert index is not None
        ip.link("set", index=index, mtu=mtu, state="up")
        return index


def attach(name: str, bridge: str, mtu: int) -> bool:
    """``name`` on ``bridge`` with ``mtu``, up; False when ``name`` is gone."""
    with ipr() as ip:
        index, master = _index(ip, name), _index(ip, bridge)
        if index is None or master is None:
            return False
        ip.link("set", index=index, master=master, mtu=mtu, state="up")
        return True


def create_tap(name: str, port_id: str, mtu: int | None = None) -> None:
    """A persistent tap ``name`` marked as ``port_id``'s (idempotent)."""
    with ipr() as ip:
        if _index(ip, name) is None:
            ip.link("add", ifname=name, kind="tuntap", mode="tap")
        index = _index(ip, name)
        assert index is not None
        extra = {"mtu": mtu} if mtu else {}
        ip.link("set", index=index, ifalias=ALIAS_PREFIX + port_id, state="up", **extra)


def delete_link(name: str) -> None:
    from pyroute2 import NetlinkError

    with ipr() as ip:
        index = _index(ip, name)
        if index is not None:
            with contextlib.suppress(NetlinkError):
                ip.link("del", index=index)


def namespaces() -> list[str]:
    from pyroute2 import netns

    return [n for n in netns.listnetns() if n.startswith(NETNS_PREFIX)]


# Inside namespaces we call ``ip -n NS`` (argument lists, no shell): pyroute2's NetNS forks
# the agent's process, and the child inherits the event loop's signal wakeup descriptor,
# so the SIGTERM pyroute2 sends its child reached the agent's loop as its own SIGTERM.
def ip_cmd(*args: str) -> str:
    import subprocess

    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def ensure_netns(name: str) -> None:
    from pyroute2 import netns

    if name not in netns.listnetns():
        ip_cmd("netns", "add", name)


def delete_netns(name: str) -> None:
    from pyroute2 import netns

    if name in netns.listnetns():
        ip_cmd("netns", "delete", name)


def plug_veth(
    host_end: str, inner: str, netns: str, bridge: str, mtu: int, mac: str, cidrs: list[str]
) -> None:
    """A veth from ``bridge`` into ``netns``: the inner end named ``inner`` with ``mac`` and
    exactly the addresses ``cidrs`` (``10.0.0.2/24``), loopback up (idempotent)."""
    import json

    ensure_netns(netns)
    with ipr() as ip:
        if _index(ip, host_end) is None:
            ip.link("add", ifname=host_end, kind="veth", peer=inner)
            ip_cmd("link", "set", "dev", inner, "netns", netns)
        host_index, master = _index(ip, host_end), _index(ip, bridge)
        ip.link("set", index=host_index, master=master, mtu=mtu, state="up")
    ip_cmd("-n", netns, "link", "set", "dev", "lo", "up")
    ip_cmd("-n", netns, "link", "set", "dev", inner, "address", mac, "mtu", str(mtu), "up")
    shown = json.loads(ip_cmd("-j", "-n", netns, "-4", "addr", "show", "dev", inner) or "[]")
    have = {
        f"{a['local']}/{a['prefixlen']}"
        for link in shown
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    }
    wanted = {str(ipaddress.ip_interface(c)) for c in cidrs}
    for cidr in sorted(wanted - have):
        ip_cmd("-n", netns, "addr", "add", cidr, "dev", inner)
    for cidr in sorted(have - wanted):
        ip_cmd("-n", netns, "addr", "del", cidr, "dev", inner)


def have_root() -> bool:
    return os.geteuid() == 0
