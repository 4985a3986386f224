"""The plug-in RPC the dataplane agent uses: a port bound where a Linux bridge agent lives
goes DOWN -> BUILD -> ACTIVE as the agent wires it; a DHCP agent's networks come with their
DHCP port (made once, shown in the API) and the hosts dnsmasq serves."""

from __future__ import annotations

import uuid
from typing import Any

from onestack.common.rpc import RPCClient
from tests.functional.network.conftest import Net
from tests.functional.network.test_agent_scheduling import report


def plugin(cloud: Any) -> RPCClient:
    return RPCClient(cloud.platform.transport, "q-plugin", version="1.0")


async def test_l2_agent_wires_a_port_up(cloud: Any, admin: Net, demo: Net) -> None:
    host = f"dp-l2-{uuid.uuid4().hex[:6]}"
    await report(cloud, "Linux bridge agent", host)
    net = await demo.network(mtu=1400)
    await demo.subnet(net["id"], "10.93.0.0/24")
    port = await admin.port(net["id"], **{"binding:host_id": host})
    assert port["status"] == "DOWN"
    assert port["binding:vif_details"]["bridge_name"] == "osbr" + net["id"][:10]
    rpc = plugin(cloud)
    [details] = await rpc.call(None, "get_devices_details", devices=[port["id"]], host=host)
    assert details["mtu"] == 1400 and details["bound_here"] and details["network_id"] == net["id"]
    assert (await admin.get(f"/ports/{port['id']}"))["port"]["status"] == "BUILD"
    assert await rpc.call(None, "update_device_up", device=port["id"], host=host)
    assert (await admin.get(f"/ports/{port['id']}"))["port"]["status"] == "ACTIVE"
    # another host cannot report it
    assert not await rpc.call(None, "update_device_down", device=port["id"], host="elsewhere")


async def test_dhcp_agent_networks_with_their_dhcp_port(cloud: Any, admin: Net, demo: Net) -> None:
    host = f"dp-dhcp-{uuid.uuid4().hex[:6]}"
    agent = await report(cloud, "DHCP agent", host)
    net = await demo.network()
    subnet = await demo.subnet(net["id"], "10.94.0.0/24")
    for hosting in (await admin.get(f"/networks/{net['id']}/dhcp-agents"))["agents"]:
        await admin.delete(f"/agents/{hosting['id']}/dhcp-networks/{net['id']}")
    await admin.req("POST", f"/agents/{agent}/dhcp-networks", 201, json={"network_id": net["id"]})
    guest = await demo.port(net["id"])
    rpc = plugin(cloud)
    served = await rpc.call(None, "get_dhcp_networks", host=host)
    [info] = [n for n in served if n["id"] == net["id"]]
    assert [s["cidr"] for s in info["subnets"]] == ["10.94.0.0/24"]
    dhcp = info["dhcp_port"]
    assert dhcp["fixed_ips"] and dhcp["fixed_ips"][0]["subnet_id"] == subnet["id"]
    ip = guest["fixed_ips"][0]["ip_address"]
    assert {
        "port_id": guest["id"], "mac_address": guest["mac_address"], "ip_address": ip,
        "hostname": "host-" + ip.replace(".", "-"), "device_owner": "",
    } in info["hosts"]  # fmt: skip
    shown = (await admin.get(f"/ports?network_id={net['id']}&device_owner=network:dhcp"))["ports"]
    assert [p["id"] for p in shown] == [dhcp["id"]]
    assert shown[0]["binding:host_id"] == host
    # made once: the next resync finds the same port
    again = await rpc.call(None, "get_dhcp_networks", host=host)
    assert [n["dhcp_port"]["id"] for n in again if n["id"] == net["id"]] == [dhcp["id"]]
    assert await rpc.call(None, "get_dhcp_networks", host="no-such-host") == []


async def test_l3_agent_routers_with_ports_and_floating_ips(
    cloud: Any, admin: Net, demo: Net
) -> None:
    host = f"dp-l3-{uuid.uuid4().hex[:6]}"
    agent = await report(cloud, "L3 agent", host)
    net = await demo.network()
    subnet = await demo.subnet(net["id"], "10.95.0.0/24")
    public = (await admin.get("/networks?name=public"))["networks"][0]
    router = (await demo.post("/routers", {"router": {
        "name": "dp-l3", "external_gateway_info": {"network_id": public["id"]}}}))["router"]
    for hosting in (await admin.get(f"/routers/{router['id']}/l3-agents"))["agents"]:
        await admin.delete(f"/agents/{hosting['id']}/l3-routers/{router['id']}")
    await admin.req("POST", f"/agents/{agent}/l3-routers", 201, json={"router_id": router["id"]})
    await demo.put(f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    port = await demo.port(net["id"])
    fip = (await demo.post("/floatingips", {"floatingip": {
        "floating_network_id": public["id"], "port_id": port["id"]}}))["floatingip"]
    hosted = await plugin(cloud).call(None, "get_routers", host=host)
    [info] = [r for r in hosted if r["id"] == router["id"]]  # with those it adopted at start
    assert info["enable_snat"]
    assert info["gateway"]["network_id"] == public["id"]
    assert info["gateway"]["ips"][0]["gateway_ip"]
    [iface] = info["interfaces"]
    assert iface["ips"][0]["cidr"] == "10.95.0.1/24" and iface["network_id"] == net["id"]
    assert info["floating_ips"] == [{"floating": fip["floating_ip_address"],
                                     "fixed": port["fixed_ips"][0]["ip_address"]}]
