"""Security groups and rules: the default group on first use, validation, normalisation,
duplicates, in-use refusals."""

from __future__ import annotations

import asyncio

from tests.functional.network.conftest import Net, project_id


async def test_default_group_on_first_use(other: Net) -> None:
    groups = await asyncio.gather(*[other.get("/security-groups?name=default")
                                    for _ in range(5)])
    assert all(len(g["security_groups"]) == 1 for g in groups)
    group = groups[0]["security_groups"][0]
    rules = group["security_group_rules"]
    shape = sorted((r["direction"], r["ethertype"], r["remote_group_id"] == group["id"])
                   for r in rules)
    assert shape == [("egress", "IPv4", False), ("egress", "IPv6", False),
                     ("ingress", "IPv4", True), ("ingress", "IPv6", True)]
    assert all(r["belongs_to_default_sg"] for r in rules)
    await other.error("DELETE", f"/security-groups/{group['id']}", 409,
                      kind="SecurityGroupCannotRemoveDefault")
    await other.error("POST", "/security-groups", 409, {"security_group": {"name": "default"}})
    await other.error("PUT", f"/security-groups/{group['id']}", 409,
                      {"security_group": {"name": "renamed"}})


async def test_rules(demo: Net, other: Net) -> None:
    sg = (await demo.post("/security-groups", {"security_group": {
        "name": "web", "description": "d"}}))["security_group"]
    assert sg["stateful"] and len(sg["security_group_rules"]) == 2
    sid = sg["id"]

    async def rule(expect: int = 201, **attrs: object) -> dict:
        body = {"security_group_rule": {"security_group_id": sid, "direction": "ingress",
                                        **attrs}}
        r = await demo.req("POST", "/security-group-rules", expect, json=body)
        return r.json()

    ssh = (await rule(protocol="tcp", port_range_min=22, port_range_max=22,
                      remote_ip_prefix="10.0.0.7/8"))["security_group_rule"]
    assert ssh["remote_ip_prefix"] == "10.0.0.7/8" and ssh["normalized_cidr"] == "10.0.0.0/8"
    dup = await rule(409, protocol="6", port_range_min=22, port_range_max=22,
                     remote_ip_prefix="10.1.2.3/8")
    assert dup["NeutronError"]["type"] == "SecurityGroupRuleExists"
    assert ssh["id"] in dup["NeutronError"]["message"]
    icmp = (await rule(protocol="icmp", port_range_min=8, port_range_max=0))
    assert icmp["security_group_rule"]["protocol"] == "icmp"
    await rule(400, protocol="icmp", port_range_min=300)
    await rule(400, protocol="tcp", port_range_min=30, port_range_max=20)
    await rule(400, protocol="tcp", port_range_min=0, port_range_max=20)
    await rule(400, protocol="gre", port_range_min=1)
    await rule(400, protocol="bogus")
    await rule(400, protocol="300")
    await rule(400, ethertype="IPv6", remote_ip_prefix="10.0.0.0/8")
    await rule(400, ethertype="IPv4", protocol="ipv6-icmp")
    await rule(400, remote_ip_prefix="10.0.0.0/8", remote_group_id=sid)
    await rule(400, direction="sideways")
    await rule(400, remote_ip_prefix="not-a-cidr")
    await rule(404, remote_group_id="00000000-0000-0000-0000-000000000000")
    v6 = (await rule(ethertype="IPv6", protocol="ipv6-icmp"))["security_group_rule"]
    assert v6["ethertype"] == "IPv6"
    by_number = (await rule(protocol=132, port_range_min=5000))["security_group_rule"]
    assert by_number["protocol"] == "132" and by_number["port_range_max"] == 5000
    other_group = (await other.get("/security-groups"))["security_groups"][0]
    await rule(404, remote_group_id=other_group["id"])
    await other.error("POST", "/security-group-rules", 404, {"security_group_rule": {
        "security_group_id": sid, "direction": "ingress"}})
    listed = (await demo.get(f"/security-group-rules?security_group_id={sid}&direction=ingress"
                             ))["security_group_rules"]
    assert len(listed) == 4
    await demo.delete(f"/security-group-rules/{ssh['id']}")
    await demo.error("GET", f"/security-group-rules/{ssh['id']}", 404,
                     kind="SecurityGroupRuleNotFound")
    # a group in use by a port is not deleted
    net = await demo.network()
    port = await demo.port(net["id"], security_groups=[sid])
    assert port["security_groups"] == [sid]
    await demo.error("DELETE", f"/security-groups/{sid}", 409, kind="SecurityGroupInUse")
    await demo.error("POST", "/ports", 404, {"port": {
        "network_id": net["id"], "security_groups": [other_group["id"]]}})
    await demo.delete(f"/ports/{port['id']}")
    await demo.delete(f"/networks/{net['id']}")
    await demo.delete(f"/security-groups/{sid}")


async def test_rule_quota(admin: Net, other: Net) -> None:
    alt = await project_id(other)
    sg = (await other.post("/security-groups", {"security_group": {"name": "q"}})
          )["security_group"]
    used = (await admin.get(f"/quotas/{alt}/details"))["quota"]["security_group_rule"]["used"]
    await admin.put(f"/quotas/{alt}", {"quota": {"security_group_rule": used + 1}})
    await other.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "udp"}})
    await other.error("POST", "/security-group-rules", 409, {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp"}},
        kind="OverQuota")
    await admin.delete(f"/quotas/{alt}")
    await other.delete(f"/security-groups/{sg['id']}")
