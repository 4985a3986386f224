"""Routers: one namespace ``onestack-qrouter-<router>`` per router, a veth per port from the
port's network bridge (host end ``osqr``/``osqg<port[:10]>``, inside ``qr-``/``qg-<port[:11]>``
with the port's MAC and addresses), forwarding on, a default route through the external
subnet's gateway, and NAT in the nftables table ``ip onestack-router`` inside the namespace
(written whole in one ``nft -j`` transaction): DNAT/SNAT per floating IP (the floating
address held on ``qg-``), SNAT of everything else leaving by ``qg-`` to the gateway's address.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from typing import Any

from onestack.common import netlink

QROUTER_PREFIX = "onestack-qrouter-"
TABLE = "onestack-router"


def router_netns(router_id: str) -> str:
    return QROUTER_PREFIX + router_id


def inner_name(port: dict[str, Any]) -> str:
    kind = "qg-" if port["owner"] == "network:router_gateway" else "qr-"
    return (kind + port["id"])[:14]


def host_name(port: dict[str, Any]) -> str:
    kind = "osqg" if port["owner"] == "network:router_gateway" else "osqr"
    return kind + port["id"][:10]


def sync(router: dict[str, Any]) -> list[str]:
    """Make ``router``'s namespace match it; the networks whose bridges it uses."""
    ns = router_netns(router["id"])
    netlink.ensure_netns(ns)
    netlink.ip_cmd("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    gateway = router["gateway"]
    ports = router["interfaces"] + ([gateway] if gateway else [])
    for port in ports:
        bridge = netlink.bridge_name(port["network_id"])
        netlink.ensure_bridge(bridge, port["mtu"])
        cidrs = [ip["cidr"] for ip in port["ips"]]
        if port is gateway:
            cidrs += [f"{fip['floating']}/32" for fip in router["floating_ips"]]
        netlink.plug_veth(
            host_name(port), inner_name(port), ns, bridge, port["mtu"], port["mac_address"], cidrs
        )
    if gateway and gateway["ips"] and gateway["ips"][0].get("gateway_ip"):
        netlink.ip_cmd(
            "-n", ns, "route", "replace", "default", "via", gateway["ips"][0]["gateway_ip"],
            "dev", inner_name(gateway),
        )  # fmt: skip
    write_nat(ns, router)
    return [p["network_id"] for p in ports]


def _match(left: dict[str, Any], right: str) -> dict[str, Any]:
    return {"match": {"op": "==", "left": left, "right": right}}


def _addr(field: str) -> dict[str, Any]:
    return {"payload": {"protocol": "ip", "field": field}}


def nat_ruleset(router: dict[str, Any]) -> dict[str, Any]:
    """The router's NAT as one nftables JSON transaction (the table flushed and refilled)."""
    table = {"family": "ip", "name": TABLE}
    base = {"family": "ip", "table": TABLE}
    cmds: list[dict[str, Any]] = [
        {"add": {"table": table}},
        {"flush": {"table": table}},
        {"add": {"chain": {**base, "name": "prerouting", "type": "nat", "hook": "prerouting",
                           "prio": -100, "policy": "accept"}}},
        {"add": {"chain": {**base, "name": "postrouting", "type": "nat", "hook": "postrouting",
                           "prio": 100, "policy": "accept"}}},
    ]  # fmt: skip
    gateway = router["gateway"]
    if gateway and gateway["ips"]:
        for fip in router["floating_ips"]:
            floating = str(ipaddress.ip_address(fip["floating"]))
            fixed = str(ipaddress.ip_address(fip["fixed"]))
            rule_in = [_match(_addr("daddr"), floating), {"dnat": {"addr": fixed}}]
            rule_out = [_match(_addr("saddr"), fixed), {"snat": {"addr": floating}}]
            cmds.append({"add": {"rule": {**base, "chain": "prerouting", "expr": rule_in}}})
            cmds.append({"add": {"rule": {**base, "chain": "postrouting", "expr": rule_out}}})
        if router["enable_snat"]:
            address = str(ipaddress.ip_address(gateway["ips"][0]["ip_address"]))
            expr = [_match({"meta": {"key": "oifname"}}, inner_name(gateway)),
                    {"snat": {"addr": address}}]  # fmt: skip
            cmds.append({"add": {"rule": {**base, "chain": "postrouting", "expr": expr}}})
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}, *cmds]}


def write_nat(ns: str, router: dict[str, Any]) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-j", "-f", "-"],
        input=json.dumps(nat_ruleset(router)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nft in {ns}: {done.stderr.strip()}")


def remove(router_id: str) -> None:
    """A router no longer hosted here: its namespace (and with it the veths' inner ends,
    whose host ends go too)."""
    netlink.delete_netns(router_netns(router_id))


def hosted() -> list[str]:
    return [n[len(QROUTER_PREFIX) :] for n in netlink.namespaces() if n.startswith(QROUTER_PREFIX)]
