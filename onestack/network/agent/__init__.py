"""The Networking dataplane agent of one host (``onestack agent network --host H``): the
Linux bridge (L2), DHCP and L3 agents in one process, over the plug-in's RPC (``q-plugin``).

A level-triggered loop: every ``[network] dataplane_poll_interval`` it lists the taps
Compute plugged (by their alias), puts each on its network's bridge with the network's MTU,
brings the DHCP servers of the networks it hosts up to date (so a new guest's address is in
dnsmasq's hosts before the port goes up) and the namespaces of the routers it hosts (``l3``),
and only then reports the new ports up, which sends Compute ``network-vif-plugged``. State is
reported (heartbeat) as three agents: ``Linux bridge agent``, ``DHCP agent`` and ``L3 agent``.
Restarted, its first pass adopts what a previous run left (bridges, namespaces, dnsmasq) and
removes what its state directory lists for networks and routers it no longer serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from typing import Any

from onestack.common.platform import Platform

LOG = logging.getLogger(__name__)
L2_AGENT = "Linux bridge agent"
DHCP_AGENT = "DHCP agent"
L3_AGENT = "L3 agent"
REPORT_INTERVAL = 30.0
FOREIGN_RETRY = 2.0  # seconds before asking again about a tap no port here owns
STATES = (
    (L2_AGENT, "onestack-linuxbridge-agent", "N/A"),
    (DHCP_AGENT, "onestack-dhcp-agent", "dhcp_agent"),
    (L3_AGENT, "onestack-l3-agent", "l3_agent"),
)
TOOLS = (("dnsmasq", "dnsmasq-base"), ("ip", "iproute2"))


class DataplaneUnavailable(RuntimeError):
    """The host lacks what the Linux dataplane needs (root, a tool)."""


def enabled(platform: Platform) -> bool:
    """``[network] dataplane``: linux, off, or auto (Compute's QEMU driver, as root)."""
    mode = platform.settings.network.dataplane
    if mode != "auto":
        return bool(mode == "linux")
    import os

    from onestack.compute.virt import virt_driver_of

    return os.geteuid() == 0 and virt_driver_of(platform.settings.compute) == "qemu"


def check_host() -> None:
    import os

    problems = [f"{tool} (apt-get install {pkg})" for tool, pkg in TOOLS if not shutil.which(tool)]
    if os.geteuid() != 0:
        problems.append("root (bridges, taps and namespaces)")
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        problems.append("pyroute2 (scripts/setup.sh)")
    if problems:
        raise DataplaneUnavailable("the Linux dataplane needs " + ", ".join(problems))


class NetworkAgent:
    """The L2 + DHCP agent of ``platform.host``."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self.host = platform.host
        self.conf = platform.settings.network
        self.on = enabled(platform)
        self.wired: dict[str, str] = {}  # tap's port id -> network id, reported up
        self.dhcp_ports: set[str] = set()  # DHCP ports reported up
        self._foreign: dict[str, float] = {}  # taps not bound here: asked again after
        self._served: dict[str, Any] = {}  # network id -> what its DHCP server was synced to
        self._routers: dict[str, Any] = {}  # router id -> what its namespace was synced to
        self._router_nets: dict[str, list[str]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._client: Any = None
        self._dhcp: Any = None

    async def start(self) -> None:
        if not self.on:
            return  # ML2 keeps binding without an agent here ([network] bind_without_agent)
        check_host()
        from onestack.common.rpc import RPCClient
        from onestack.network.agent.dhcp import DhcpServers
        from onestack.network.rpc import TOPIC

        self._client = RPCClient(self.platform.transport, TOPIC, version="1.0", timeout=30)
        self._dhcp = DhcpServers(self.platform.settings.data_dir / "network", self.conf.dns_domain)
        await self.report(start=True)  # from here ML2 binds this host's ports DOWN
        self._tasks = [
            asyncio.create_task(self._every(REPORT_INTERVAL, self.report), name="net-report"),
            asyncio.create_task(
                self._every(self.conf.dataplane_poll_interval, self.sync), name="net-sync"
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _every(self, interval: float, work: Any) -> None:
        """``work`` now (the first sync adopts what a previous run left) and every
        ``interval``; a failed pass is logged and the next one tries again."""
        first = work != self.report
        while True:
            if not first:
                await asyncio.sleep(interval)
            first = False
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("network agent on %s: %s failed", self.host, work.__name__)

    async def report(self, start: bool = False) -> None:
        bridges: dict[str, Any] = {"interface_mappings": {}, "bridge_mappings": {}}
        for agent_type, binary, topic in STATES:
            state = {
                "agent_type": agent_type,
                "binary": binary,
                "host": self.host,
                "topic": topic,
                "availability_zone": "nova",
                "configurations": bridges if agent_type == L2_AGENT else {},
            }
            await self._client.call(None, "report_state", agent_state=state, start_flag=start)

    async def sync(self) -> None:
        """One pass: wire new taps, update DHCP, report the new ports up, the gone down."""
        from onestack.common import netlink

        taps = await asyncio.to_thread(netlink.port_taps)
        now = asyncio.get_running_loop().time()
        self._foreign = {p: t for p, t in self._foreign.items() if p in taps}
        new = [p for p in taps if p not in self.wired and self._foreign.get(p, 0) <= now]
        gone = [p for p in self.wired if p not in taps]
        ready: list[str] = []
        if new:
            details = await self._client.call(
                None, "get_devices_details", devices=new, host=self.host
            )
            known = {item["port_id"] for item in details if item.get("bound_here")}
            for port_id in set(new) - known:  # another cloud's, or not bound here yet
                self._foreign[port_id] = now + FOREIGN_RETRY
            for item in details:
                if not item.get("bound_here") or not item.get("network_id"):
                    continue
                net, mtu = item["network_id"], int(item.get("mtu") or 1500)
                bridge = netlink.bridge_name(net)
                await asyncio.to_thread(netlink.ensure_bridge, bridge, mtu)
                name = taps[item["port_id"]]["name"]
                if await asyncio.to_thread(netlink.attach, name, bridge, mtu):
                    ready.append(item["port_id"])
                    self.wired[item["port_id"]] = net
        await self.sync_dhcp()
        for port_id in ready:
            await self._client.call(None, "update_device_up", device=port_id, host=self.host)
        for port_id in gone:
            self.wired.pop(port_id, None)
            await self._client.call(None, "update_device_down", device=port_id, host=self.host)

    async def sync_dhcp(self) -> None:
        networks = await self._client.call(None, "get_dhcp_networks", host=self.host)
        served = set()
        for network in networks:
            served.add(network["id"])
            if self._served.get(network["id"]) != network or not self._dhcp.pid(network["id"]):
                await asyncio.to_thread(self._dhcp.sync, network)
                self._served[network["id"]] = network
            port = network["dhcp_port"]["id"]
            if port not in self.dhcp_ports:
                await self._client.call(None, "update_device_up", device=port, host=self.host)
                self.dhcp_ports.add(port)
        # only what this agent's state directory says it made: another cloud's agent on
        # the same machine (tests run two) keeps its own
        for net_id in set(self._dhcp.networks()) - served:
            LOG.info("network agent on %s: DHCP of %s removed", self.host, net_id)
            await asyncio.to_thread(self._dhcp.remove, net_id)
            self._served.pop(net_id, None)
        routed = await self.sync_l3()
        await asyncio.to_thread(self._prune_bridges, served | routed | set(self.wired.values()))

    async def sync_l3(self) -> set[str]:
        """The routers hosted here; the networks their ports are on."""
        from onestack.network.agent import l3

        routers = await self._client.call(None, "get_routers", host=self.host)
        record = self._dhcp.root.parent / "routers"
        made = set(record.read_text().split()) if record.exists() else set()
        networks: set[str] = set()
        for router in routers:
            if self._routers.get(router["id"]) != router:
                self._router_nets[router["id"]] = await asyncio.to_thread(l3.sync, router)
                self._routers[router["id"]] = router
            networks |= set(self._router_nets.get(router["id"], []))
        wanted = {r["id"] for r in routers}
        for router_id in made - wanted:
            await asyncio.to_thread(l3.remove, router_id)
            self._routers.pop(router_id, None)
            self._router_nets.pop(router_id, None)
        if made != wanted:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text("".join(f"{r}\n" for r in sorted(wanted)))
        return networks

    def _prune_bridges(self, in_use: set[str]) -> None:
        """The bridges this agent made (listed in its state directory) for networks with
        nothing left on this host, once empty."""
        from onestack.common import netlink

        record = self._dhcp.root.parent / "bridges"
        made = set(record.read_text().split()) if record.exists() else set()
        keep = {netlink.bridge_name(n) for n in in_use}
        links = netlink.links()
        masters = {link["master"] for link in links if link["master"]}
        present = {link["name"]: link for link in links if link["kind"] == "bridge"}
        gone = set()
        for name in made - keep:
            if name not in present:
                gone.add(name)
            elif present[name]["index"] not in masters:
                netlink.delete_link(name)
                gone.add(name)
        now = (made - gone) | (keep & set(present))
        if now != made:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text("".join(f"{n}\n" for n in sorted(now)))
