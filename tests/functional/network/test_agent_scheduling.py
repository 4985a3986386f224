"""Agent scheduling: routers on L3 agents and networks on DHCP agents (the
``l3_agent_scheduler`` and ``dhcp_agent_scheduler`` extensions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from onestack.common.rpc import RPCClient
from onestack.network.models import Agent
from onestack.network.service import NetworkService
from tests.functional.network.conftest import Net
from tests.hostile import RAW, WRONG


def manager(cloud: Any) -> Any:
    return next(s for s in cloud.services if isinstance(s, NetworkService)).manager


async def report(cloud: Any, agent_type: str, host: str) -> str:
    client = RPCClient(cloud.platform.transport, "q-plugin", version="1.0")
    state = {"agent_type": agent_type, "binary": "onestack-agent", "host": host,
             "topic": "N/A", "configurations": {}}
    return str(await client.call(None, "report_state", agent_state=state, start_flag=True))


async def test_extensions_listed(admin: Net) -> None:
    aliases = {e["alias"] for e in (await admin.get("/extensions"))["extensions"]}
    assert {"l3_agent_scheduler", "dhcp_agent_scheduler", "trunk-details"} <= aliases


async def test_routers_on_l3_agents(cloud: Any, admin: Net, demo: Net) -> None:
    first = await report(cloud, "L3 agent", "sched-l3-a")
    # a starting L3 agent takes the routers no agent hosts, the default router1 among them
    router1 = (await admin.get("/routers?name=router1"))["routers"][0]
    hosted = [r["id"] for r in (await admin.get(f"/agents/{first}/l3-routers"))["routers"]]
    assert router1["id"] in hosted
    assert [a["id"] for a in (await admin.get(f"/routers/{router1['id']}/l3-agents")
                              )["agents"]] == [first]
    second = await report(cloud, "L3 agent", "sched-l3-b")
    assert (await admin.get(f"/agents/{second}/l3-routers"))["routers"] == []
    # a new router goes to the alive agent hosting the fewest
    router = (await demo.post("/routers", {"router": {"name": "sched-r"}}))["router"]
    agents = (await admin.get(f"/routers/{router['id']}/l3-agents"))["agents"]
    assert [a["id"] for a in agents] == [second] and agents[0]["agent_type"] == "L3 agent"
    shown = (await admin.get(f"/agents/{second}/l3-routers"))["routers"]
    assert [r["name"] for r in shown] == ["sched-r"] and "external_gateway_info" in shown[0]
    body = {"router_id": router["id"]}
    await admin.error("POST", f"/agents/{first}/l3-routers", 409, body,
                      kind="RouterHostedByL3Agent")
    r = await admin.req("POST", f"/agents/{second}/l3-routers", 201, json=body)
    assert r.json() is None  # as Neutron: 201 with a null body
    await admin.delete(f"/agents/{second}/l3-routers/{router['id']}")
    await admin.error("DELETE", f"/agents/{second}/l3-routers/{router['id']}", 409,
                      kind="RouterNotHostedByL3Agent")
    assert (await admin.get(f"/routers/{router['id']}/l3-agents"))["agents"] == []
    await admin.req("POST", f"/agents/{first}/l3-routers", 201, json=body)
    assert [a["host"] for a in (await admin.get(f"/routers/{router['id']}/l3-agents")
                                )["agents"]] == ["sched-l3-a"]
    # only an enabled L3 agent hosts routers; unknown agents and routers are 404
    dhcp = await report(cloud, "DHCP agent", "sched-l3-a")
    await admin.error("POST", f"/agents/{dhcp}/l3-routers", 404, body, kind="InvalidL3Agent")
    await admin.put(f"/agents/{second}", {"agent": {"admin_state_up": False}})
    await admin.error("POST", f"/agents/{second}/l3-routers", 404, body, kind="InvalidL3Agent")
    await admin.put(f"/agents/{second}", {"agent": {"admin_state_up": True}})
    await admin.error("POST", "/agents/nope/l3-routers", 404, body, kind="AgentNotFound")
    await admin.error("GET", "/agents/nope/l3-routers", 404, kind="AgentNotFound")
    await admin.error("POST", f"/agents/{first}/l3-routers", 404, {"router_id": "nope"},
                      kind="RouterNotFound")
    await admin.error("GET", "/routers/nope/l3-agents", 404, kind="RouterNotFound")
    await admin.error("POST", f"/agents/{first}/l3-routers", 400, {"router": "x"})
    for method, path in (("GET", f"/agents/{first}/l3-routers"),
                         ("POST", f"/agents/{first}/l3-routers"),
                         ("DELETE", f"/agents/{first}/l3-routers/{router['id']}"),
                         ("GET", f"/routers/{router['id']}/l3-agents")):
        await demo.error(method, path, 403, body if method == "POST" else None)
    # a dead agent gets nothing new
    async with manager(cloud).write() as session:
        await session.execute(update(Agent).where(Agent.id == first).values(
            heartbeat_timestamp=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    other = (await demo.post("/routers", {"router": {"name": "sched-r2"}}))["router"]
    assert [a["id"] for a in (await admin.get(f"/routers/{other['id']}/l3-agents")
                              )["agents"]] == [second]
    await demo.delete(f"/routers/{router['id']}")
    await demo.delete(f"/routers/{other['id']}")
    assert all(r["name"] not in ("sched-r", "sched-r2")
               for r in (await admin.get(f"/agents/{second}/l3-routers"))["routers"])
    await admin.delete(f"/agents/{first}")
    assert (await admin.get(f"/routers/{router1['id']}/l3-agents"))["agents"] == []


async def test_networks_on_dhcp_agents(cloud: Any, admin: Net, demo: Net) -> None:
    one = await report(cloud, "DHCP agent", "sched-dhcp-a")
    net = await demo.network()
    assert (await admin.get(f"/networks/{net['id']}/dhcp-agents"))["agents"] == []
    await demo.subnet(net["id"], "10.230.0.0/24")  # DHCP enabled: scheduled
    agents = (await admin.get(f"/networks/{net['id']}/dhcp-agents"))["agents"]
    assert [a["id"] for a in agents] == [one]
    two = await report(cloud, "DHCP agent", "sched-dhcp-b")
    body = {"network_id": net["id"]}
    await admin.req("POST", f"/agents/{two}/dhcp-networks", 201, json=body)
    await admin.error("POST", f"/agents/{two}/dhcp-networks", 409, body,
                      kind="NetworkHostedByDHCPAgent")
    hosts = [a["host"] for a in (await admin.get(f"/networks/{net['id']}/dhcp-agents")
                                 )["agents"]]
    assert hosts == ["sched-dhcp-a", "sched-dhcp-b"]
    listed = (await admin.get(f"/agents/{two}/dhcp-networks"))["networks"]
    assert [n["id"] for n in listed] == [net["id"]] and listed[0]["subnets"]
    await admin.delete(f"/agents/{one}/dhcp-networks/{net['id']}")
    await admin.error("DELETE", f"/agents/{one}/dhcp-networks/{net['id']}", 409,
                      kind="NetworkNotHostedByDhcpAgent")
    l3 = await report(cloud, "L3 agent", "sched-dhcp-a")
    await admin.error("POST", f"/agents/{l3}/dhcp-networks", 404, body,
                      kind="InvalidDHCPAgent")
    await admin.error("GET", "/networks/nope/dhcp-agents", 404, kind="NetworkNotFound")
    await demo.error("GET", f"/networks/{net['id']}/dhcp-agents", 403)
    await demo.error("POST", f"/agents/{two}/dhcp-networks", 403, body)
    await demo.delete(f"/networks/{net['id']}")
    assert (await admin.get(f"/agents/{two}/dhcp-networks"))["networks"] == []
    for agent in (one, two, l3):
        await admin.delete(f"/agents/{agent}")


async def test_hostile_scheduling_bodies(cloud: Any, admin: Net) -> None:
    l3 = await report(cloud, "L3 agent", "sched-hostile")
    dhcp = await report(cloud, "DHCP agent", "sched-hostile")
    for path, key in ((f"/agents/{l3}/l3-routers", "router_id"),
                      (f"/agents/{dhcp}/dhcp-networks", "network_id")):
        for raw in RAW.values():
            r = await admin.req("POST", path, content=raw,
                                headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500 and "NeutronError" in r.json(), (raw[:20], r.text)
        for value in WRONG.values():
            r = await admin.req("POST", path, json={key: value})
            assert r.status_code in (400, 404), (key, value, r.text[:200])
            assert "NeutronError" in r.json()
        r = await admin.req("DELETE", f"{path}/{'x' * 5000}")
        assert r.status_code == 409 and "NeutronError" in r.json()
    for agent in (l3, dhcp):
        await admin.delete(f"/agents/{agent}")
