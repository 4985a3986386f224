"""QoS policies and rules, and their use by networks and ports."""

from __future__ import annotations

from tests.functional.network.conftest import Net


async def test_qos_policies_and_rules(admin: Net, demo: Net, other: Net) -> None:
    await demo.error("POST", "/qos/policies", 403, {"policy": {"name": "mine"}})
    policy = (await admin.post("/qos/policies", {"policy": {"name": "gold", "shared": True}})
              )["policy"]
    assert policy["rules"] == [] and policy["shared"]
    pid = policy["id"]
    bw = (await admin.post(f"/qos/policies/{pid}/bandwidth_limit_rules", {
        "bandwidth_limit_rule": {"max_kbps": 10000, "max_burst_kbps": 800}}))
    rule = bw["bandwidth_limit_rule"]
    assert rule["direction"] == "egress" and rule["max_kbps"] == 10000
    await admin.error("POST", f"/qos/policies/{pid}/bandwidth_limit_rules", 409, {
        "bandwidth_limit_rule": {"max_kbps": 1}})
    await admin.post(f"/qos/policies/{pid}/bandwidth_limit_rules", {
        "bandwidth_limit_rule": {"max_kbps": 5000, "direction": "ingress"}})
    await admin.error("POST", f"/qos/policies/{pid}/dscp_marking_rules", 400, {
        "dscp_marking_rule": {"dscp_mark": 7}})
    await admin.post(f"/qos/policies/{pid}/dscp_marking_rules", {
        "dscp_marking_rule": {"dscp_mark": 26}})
    await admin.error("POST", f"/qos/policies/{pid}/minimum_bandwidth_rules", 400, {
        "minimum_bandwidth_rule": {}})
    await admin.error("POST", f"/qos/policies/{pid}/bogus_rules", 404, {"x": {}})
    upd = await admin.put(f"/qos/policies/{pid}/bandwidth_limit_rules/{rule['id']}", {
        "bandwidth_limit_rule": {"max_kbps": 20000}})
    assert upd["bandwidth_limit_rule"]["max_kbps"] == 20000
    shown = (await other.get(f"/qos/policies/{pid}"))["policy"]
    assert len(shown["rules"]) == 3
    types = {t["type"] for t in (await demo.get("/qos/rule-types"))["rule_types"]}
    assert types == {"bandwidth_limit", "dscp_marking", "minimum_bandwidth"}
    # a member applies the shared policy to its network; a hidden one is refused
    hidden = (await admin.post("/qos/policies", {"policy": {"name": "hidden"}}))["policy"]
    net = await demo.network(qos_policy_id=pid)
    assert net["qos_policy_id"] == pid
    await demo.error("POST", "/networks", 404, {"network": {"qos_policy_id": hidden["id"]}},
                     kind="QosPolicyNotFound")
    await admin.error("DELETE", f"/qos/policies/{pid}", 409, kind="QosPolicyInUse")
    await demo.put(f"/networks/{net['id']}", {"network": {"qos_policy_id": None}})
    await admin.delete(f"/qos/policies/{pid}/bandwidth_limit_rules/{rule['id']}")
    await admin.delete(f"/qos/policies/{pid}")
    await admin.delete(f"/qos/policies/{hidden['id']}")
    await demo.delete(f"/networks/{net['id']}")


async def test_trunks(demo: Net, other: Net) -> None:
    net = await demo.network()
    await demo.subnet(net["id"], "10.150.0.0/24")
    parent, sub1, sub2 = [await demo.port(net["id"]) for _ in range(3)]
    trunk = (await demo.post("/trunks", {"trunk": {"name": "t", "port_id": parent["id"],
                                                   "sub_ports": [{"port_id": sub1["id"],
                                                                  "segmentation_type": "vlan",
                                                                  "segmentation_id": 101}]}})
             )["trunk"]
    assert trunk["sub_ports"] == [{"port_id": sub1["id"], "segmentation_type": "vlan",
                                   "segmentation_id": 101}]
    await demo.error("POST", "/trunks", 409, {"trunk": {"port_id": parent["id"]}})
    await demo.error("PUT", f"/trunks/{trunk['id']}/add_subports", 409, {"sub_ports": [
        {"port_id": sub2["id"], "segmentation_type": "vlan", "segmentation_id": 101}]})
    await demo.error("PUT", f"/trunks/{trunk['id']}/add_subports", 400, {"sub_ports": [
        {"port_id": sub2["id"], "segmentation_type": "vlan", "segmentation_id": 5000}]})
    added = await demo.put(f"/trunks/{trunk['id']}/add_subports", {"sub_ports": [
        {"port_id": sub2["id"], "segmentation_type": "vlan", "segmentation_id": 102}]})
    assert len(added["sub_ports"]) == 2
    assert len((await demo.get(f"/trunks/{trunk['id']}/get_subports"))["sub_ports"]) == 2
    details = (await demo.get(f"/ports/{parent['id']}"))["port"]["trunk_details"]
    assert details == {"trunk_id": trunk["id"], "sub_ports": [
        {"segmentation_id": seg, "segmentation_type": "vlan", "port_id": p["id"],
         "mac_address": p["mac_address"]} for seg, p in ((101, sub1), (102, sub2))]}
    listed = (await demo.get(f"/ports?network_id={net['id']}&fields=id&fields=trunk_details")
              )["ports"]
    assert {p["id"]: p.get("trunk_details", {}).get("trunk_id") for p in listed} == {
        parent["id"]: trunk["id"], sub1["id"]: None, sub2["id"]: None}
    assert "trunk_details" not in (await demo.get(f"/ports/{sub1['id']}"))["port"]
    await demo.error("DELETE", f"/ports/{parent['id']}", 409, kind="PortInUseAsTrunkParent")
    await other.error("GET", f"/trunks/{trunk['id']}", 404, kind="TrunkNotFound")
    await demo.put(f"/trunks/{trunk['id']}/remove_subports", {"sub_ports": [
        {"port_id": sub2["id"]}]})
    await demo.error("PUT", f"/trunks/{trunk['id']}/remove_subports", 404, {"sub_ports": [
        {"port_id": sub2["id"]}]})
    await demo.delete(f"/trunks/{trunk['id']}")
    for p in (parent, sub1, sub2):
        await demo.delete(f"/ports/{p['id']}")
    await demo.delete(f"/networks/{net['id']}")
