"""Quotas, RBAC, agents over RPC with port status, notifications, availability zones, IP
availability, the auto-allocated topology, segments, address groups and hostile input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from onestack.common.rpc import RPCClient
from onestack.network.service import NetworkService
from tests.functional.network.conftest import Net, project_id
from tests.hostile import RAW, WRONG


def manager(cloud: Any) -> Any:
    return next(s for s in cloud.services if isinstance(s, NetworkService)).manager


async def test_quotas(admin: Net, other: Net) -> None:
    alt = await project_id(other)
    quota = (await admin.get(f"/quotas/{alt}"))["quota"]
    assert quota["network"] == 100 and quota["port"] == 500
    assert (await other.get(f"/quotas/{alt}"))["quota"]["network"] == 100
    await other.error("PUT", f"/quotas/{alt}", 403, {"quota": {"network": 1000}})
    used = (await admin.get(f"/quotas/{alt}/details"))["quota"]["network"]["used"]
    await admin.put(f"/quotas/{alt}", {"quota": {"network": used + 1}})
    net = await other.network()
    err = await other.error("POST", "/networks", 409, {"network": {}}, kind="OverQuota")
    assert "network" in err["message"]
    listed = (await admin.get("/quotas"))["quotas"]
    assert any(q["project_id"] == alt and q["network"] == used + 1 for q in listed)
    await admin.error("PUT", f"/quotas/{alt}", 400, {"quota": {"network": -5}})
    await admin.error("PUT", f"/quotas/{alt}", 400, {"quota": {"bogus": 5}})
    await admin.error("PUT", f"/quotas/{alt}", 400, {"quota": {"network": "many"}})
    await admin.delete(f"/quotas/{alt}")
    assert (await admin.get(f"/quotas/{alt}"))["quota"]["network"] == 100
    assert (await admin.get(f"/quotas/{alt}/default"))["quota"]["router"] == 10
    await other.delete(f"/networks/{net['id']}")


async def test_rbac_sharing(admin: Net, demo: Net, other: Net) -> None:
    alt = await project_id(other)
    net = await demo.network()
    await demo.subnet(net["id"], "10.110.0.0/24")
    await other.error("GET", f"/networks/{net['id']}", 404)
    policy = (await demo.post("/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": alt}}))["rbac_policy"]
    assert policy["target_tenant"] == alt
    seen = (await other.get(f"/networks/{net['id']}"))["network"]
    assert seen["shared"] is True
    assert (await demo.get(f"/networks/{net['id']}"))["network"]["shared"] is False
    assert (await other.get(f"/subnets?network_id={net['id']}"))["subnets"]
    port = await other.port(net["id"])
    await demo.error("DELETE", f"/rbac-policies/{policy['id']}", 409, kind="RbacPolicyInUse")
    await demo.error("POST", "/rbac-policies", 409, {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": alt}})
    await other.error("POST", "/rbac-policies", 404, {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": "*"}})
    await demo.error("POST", "/rbac-policies", 400, {"rbac_policy": {
        "object_type": "security_group", "object_id": net["id"],
        "action": "access_as_external", "target_tenant": "*"}})
    await other.delete(f"/ports/{port['id']}")
    await demo.delete(f"/rbac-policies/{policy['id']}")
    await other.error("GET", f"/networks/{net['id']}", 404)
    # a wildcard rule is the network's shared flag
    wild = (await demo.post("/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": "*"}}))["rbac_policy"]
    assert (await admin.get(f"/networks/{net['id']}"))["network"]["shared"] is True
    await demo.delete(f"/rbac-policies/{wild['id']}")
    assert (await admin.get(f"/networks/{net['id']}"))["network"]["shared"] is False
    # external access by RBAC: the other project may allocate floating IPs from it
    ext = await admin.network(**{"router:external": True, "provider:network_type": "vlan",
                                 "provider:physical_network": "public",
                                 "provider:segmentation_id": 333})
    assert (await other.get(f"/networks/{ext['id']}"))["network"]["router:external"]
    await admin.delete(f"/networks/{ext['id']}")
    await demo.delete(f"/networks/{net['id']}")


async def test_agents_rpc_and_port_status(cloud: Any, admin: Net, demo: Net) -> None:
    mgr = manager(cloud)
    client = RPCClient(cloud.platform.transport, "q-plugin", version="1.0")
    state = {"agent_type": "Linux bridge agent", "binary": "onestack-linuxbridge-agent",
             "host": "net-host-1", "topic": "N/A",
             "configurations": {"interface_mappings": {"public": "eth1"}},
             "availability_zone": "nova"}
    agent_id = await client.call(None, "report_state", agent_state=state, start_flag=True)
    agents = (await admin.get("/agents?host=net-host-1"))["agents"]
    assert [a["id"] for a in agents] == [agent_id] and agents[0]["alive"]
    assert agents[0]["configurations"]["interface_mappings"] == {"public": "eth1"}
    await demo.error("GET", "/agents", 403)
    events: list[tuple[str, dict]] = []
    original = mgr.notify

    async def record(ctx: Any, event_type: str, payload: dict) -> None:
        events.append((event_type, payload))
        await original(ctx, event_type, payload)

    mgr.notify = record
    try:
        net = await admin.network()
        await admin.subnet(net["id"], "10.120.0.0/24")
        port = await admin.port(net["id"], device_owner="compute:nova", device_id="vm-9",
                                **{"binding:host_id": "net-host-1"})
        assert port["binding:vif_type"] == "bridge" and port["status"] == "DOWN"
        details = await client.call(None, "get_devices_details", devices=[port["id"]],
                                    host="net-host-1")
        assert details[0]["network_type"] == "vxlan" and details[0]["bound_here"]
        # Neutron's transitions: DOWN once bound, BUILD while the agent wires it, ACTIVE
        # when the agent reports it up
        assert (await admin.get(f"/ports/{port['id']}"))["port"]["status"] == "BUILD"
        assert not [e for e, p in events if e == "port.update.end"
                    and p["port"].get("status") == "ACTIVE"]
        assert await client.call(None, "update_device_up", device=port["id"],
                                 host="net-host-1")
        assert (await admin.get(f"/ports/{port['id']}"))["port"]["status"] == "ACTIVE"
        assert not await client.call(None, "update_device_up", device=port["id"],
                                     host="elsewhere")
        await client.call(None, "update_device_down", device=port["id"], host="net-host-1")
        assert (await admin.get(f"/ports/{port['id']}"))["port"]["status"] == "DOWN"
        await admin.delete(f"/ports/{port['id']}")
        await admin.delete(f"/networks/{net['id']}")
    finally:
        mgr.notify = original
    kinds = [e for e, _ in events]
    for expected in ("network.create.end", "subnet.create.end", "port.create.end",
                     "port.update.end", "port.delete.end", "network.delete.end"):
        assert expected in kinds
    updated = (await admin.put(f"/agents/{agent_id}", {"agent": {"admin_state_up": False,
                                                                  "description": "d"}}))
    assert updated["agent"]["admin_state_up"] is False
    await admin.error("PUT", f"/agents/{agent_id}", 400, {"agent": {"host": "x"}})
    await admin.delete(f"/agents/{agent_id}")
    await admin.error("GET", f"/agents/{agent_id}", 404, kind="AgentNotFound")


async def test_zones_availability_segments(admin: Net, demo: Net) -> None:
    zones = (await demo.get("/availability_zones"))["availability_zones"]
    assert {(z["name"], z["resource"]) for z in zones} == {("nova", "network"),
                                                           ("nova", "router")}
    net = await admin.network()
    await admin.subnet(net["id"], "10.130.0.0/29")
    await admin.port(net["id"])
    avail = (await admin.get(f"/network-ip-availabilities/{net['id']}")
             )["network_ip_availability"]
    assert avail["total_ips"] == 5 and avail["used_ips"] == 1
    await demo.error("GET", "/network-ip-availabilities", 403)
    seg = (await admin.post("/segments", {"segment": {
        "network_id": net["id"], "network_type": "vlan", "physical_network": "public",
        "segmentation_id": 444, "name": "extra"}}))["segment"]
    assert seg["segmentation_id"] == 444
    await admin.error("POST", "/segments", 409, {"segment": {
        "network_id": net["id"], "network_type": "vlan", "physical_network": "public",
        "segmentation_id": 444}})
    await demo.error("GET", "/segments", 403)
    await admin.delete(f"/segments/{seg['id']}")
    for p in (await admin.get(f"/ports?network_id={net['id']}"))["ports"]:
        await admin.delete(f"/ports/{p['id']}")
    await admin.delete(f"/networks/{net['id']}")


async def test_address_groups(demo: Net) -> None:
    group = (await demo.post("/address-groups", {"address_group": {
        "name": "ag", "addresses": ["10.0.0.1/32", "10.0.1.0/24"]}}))["address_group"]
    added = await demo.put(f"/address-groups/{group['id']}/add_addresses",
                           {"addresses": ["192.168.0.0/16"]})
    assert len(added["address_group"]["addresses"]) == 3
    sg = (await demo.post("/security-groups", {"security_group": {"name": "ag-sg"}})
          )["security_group"]
    await demo.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress",
        "remote_address_group_id": group["id"]}})
    await demo.error("DELETE", f"/address-groups/{group['id']}", 409)
    await demo.delete(f"/security-groups/{sg['id']}")
    await demo.put(f"/address-groups/{group['id']}/remove_addresses",
                   {"addresses": ["10.0.0.1/32"]})
    await demo.delete(f"/address-groups/{group['id']}")


async def test_auto_allocated_topology_once_under_concurrency(admin: Net, other: Net) -> None:
    alt = await project_id(other)
    dry = (await other.get(f"/auto-allocated-topology/{alt}?fields=dry-run")
           )["auto_allocated_topology"]
    assert dry["id"] == "dry-run=pass" and dry["tenant_id"] == alt
    answers = await asyncio.gather(*[other.get(f"/auto-allocated-topology/{alt}")
                                     for _ in range(6)])
    ids = {a["auto_allocated_topology"]["id"] for a in answers}
    assert len(ids) == 1
    nets = (await other.get("/networks?name=auto_allocated_network"))["networks"]
    assert [n["id"] for n in nets] == list(ids)
    routers = (await other.get("/routers?name=auto_allocated_router"))["routers"]
    assert len(routers) == 1 and routers[0]["external_gateway_info"]
    subnets = (await other.get(f"/subnets?network_id={nets[0]['id']}"))["subnets"]
    assert len(subnets) == 1 and subnets[0]["subnetpool_id"]
    demo_project = (await admin.get("/networks?name=private"))["networks"][0]["project_id"]
    await other.error("GET", f"/auto-allocated-topology/{demo_project}", 403)
    await other.delete(f"/auto-allocated-topology/{alt}")
    assert not (await other.get("/networks?name=auto_allocated_network"))["networks"]
    assert not (await other.get("/routers?name=auto_allocated_router"))["routers"]


@pytest.mark.parametrize("path", ["/networks", "/subnets", "/ports", "/routers",
                                  "/floatingips", "/security-groups", "/security-group-rules",
                                  "/subnetpools", "/address-scopes", "/rbac-policies"])
async def test_hostile_bodies_are_4xx(demo: Net, path: str) -> None:
    member = {"/networks": "network", "/subnets": "subnet", "/ports": "port",
              "/routers": "router", "/floatingips": "floatingip",
              "/security-groups": "security_group",
              "/security-group-rules": "security_group_rule", "/subnetpools": "subnetpool",
              "/address-scopes": "address_scope", "/rbac-policies": "rbac_policy"}[path]
    before = len((await demo.get(path))[path.strip("/").replace("-", "_")])
    for raw in RAW.values():
        r = await demo.req("POST", path, content=raw,
                           headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500 and "NeutronError" in r.json(), (raw[:20], r.text)
    fields = ("name", "network_id", "cidr", "ip_version", "admin_state_up", "fixed_ips",
              "protocol", "direction", "security_group_id", "prefixes", "object_id",
              "floating_network_id", "external_gateway_info", "mac_address", "gateway_ip",
              "default_quota")
    for field in fields:
        for value in WRONG.values():
            r = await demo.req("POST", path, json={member: {field: value}})
            assert r.status_code in (201, 400, 403, 404, 409), (field, value, r.text[:200])
            if r.status_code == 201:  # a value that happens to be valid for the field
                await demo.delete(f"{path}/{r.json()[member]['id']}")
            else:
                assert "NeutronError" in r.json()
    after = len((await demo.get(path))[path.strip("/").replace("-", "_")])
    assert after == before


async def test_nova_notifier(cloud: Any, admin: Net, demo: Net, monkeypatch: Any) -> None:
    """A compute port that goes ACTIVE sends network-vif-plugged to Compute's external
    events; a changed floating IP sends network-changed; nothing without Compute."""
    from onestack.network import nova

    sent: list[dict] = []

    class FakeCompute:
        async def post(self, path: str, json: dict, headers: dict) -> Any:
            assert path == "/os-server-external-events"
            sent.extend(json["events"])
            return type("R", (), {"status_code": 200})()

    mgr = manager(cloud)
    monkeypatch.setattr(mgr.platform.clients, "for_service", lambda *a, **k: FakeCompute())
    monkeypatch.setattr(nova, "_known_services", lambda _mgr: set())  # a cloud without Compute
    net = await admin.network()
    await admin.subnet(net["id"], "10.140.0.0/24")
    await admin.port(net["id"], device_owner="compute:nova", device_id="vm-a",
                     **{"binding:host_id": "h"})
    await asyncio.sleep(0.05)
    assert sent == []  # nothing without Compute
    monkeypatch.setattr(nova, "_known_services", lambda _mgr: {"compute"})
    port = await admin.port(net["id"], device_owner="compute:nova", device_id="vm-b",
                            **{"binding:host_id": "h"})
    for _ in range(50):
        if sent:
            break
        await asyncio.sleep(0.02)
    assert sent == [{"name": "network-vif-plugged", "server_uuid": "vm-b", "tag": port["id"],
                     "status": "completed"}]
    sent.clear()
    await admin.put(f"/ports/{port['id']}", {"port": {"fixed_ips": [
        {"ip_address": "10.140.0.77"}]}})
    for _ in range(50):
        if sent:
            break
        await asyncio.sleep(0.02)
    assert sent == [{"name": "network-changed", "server_uuid": "vm-b", "tag": port["id"]}]
    for p in (await admin.get(f"/ports?network_id={net['id']}"))["ports"]:
        await admin.delete(f"/ports/{p['id']}")
    await admin.delete(f"/networks/{net['id']}")
