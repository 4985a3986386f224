"""Subnets and ports: CIDR and pool validation, IPAM (also under 50 concurrent creates),
MACs, bindings, address pairs and port security."""

from __future__ import annotations

import asyncio
import ipaddress

from tests.functional.network.conftest import Net


async def test_subnet_validation(demo: Net) -> None:
    net = await demo.network()
    nid = net["id"]
    for cidr in ("10.0.0.0/33", "nonsense", "10.0.0.0", "::/0"):
        await demo.error("POST", "/subnets", 400, {"subnet": {
            "network_id": nid, "cidr": cidr, "ip_version": 4}})
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "fd00::/64", "ip_version": 4}})
    await demo.error("POST", "/subnets", 400, {"subnet": {"network_id": nid, "ip_version": 4}})
    await demo.error("POST", "/subnets", 400, {"subnet": {"network_id": nid, "cidr": "10.1.0.0/24",
                                                          "ip_version": 5}})
    await demo.error("POST", "/subnets", 404, {"subnet": {
        "network_id": "00000000-0000-0000-0000-000000000000", "cidr": "10.1.0.0/24",
        "ip_version": 4}}, kind="NetworkNotFound")
    sub = await demo.subnet(nid, "10.70.0.5/24", dns_nameservers=["8.8.8.8"],
                            host_routes=[{"destination": "10.9.0.0/16", "nexthop": "10.70.0.9"}])
    assert sub["cidr"] == "10.70.0.0/24" and sub["gateway_ip"] == "10.70.0.1"
    assert sub["allocation_pools"] == [{"start": "10.70.0.2", "end": "10.70.0.254"}]
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "10.70.0.128/25", "ip_version": 4}})
    await demo.error("POST", "/subnets", 409, {"subnet": {
        "network_id": nid, "cidr": "10.71.0.0/24", "ip_version": 4, "gateway_ip": "10.71.0.5",
        "allocation_pools": [{"start": "10.71.0.2", "end": "10.71.0.100"}]}},
        kind="GatewayConflictWithAllocationPools")
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "10.72.0.0/24", "ip_version": 4,
        "allocation_pools": [{"start": "10.72.0.2", "end": "10.73.0.9"}]}})
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "10.72.0.0/24", "ip_version": 4, "gateway_ip": "10.99.0.1"}})
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "10.72.0.0/24", "ip_version": 4,
        "dns_nameservers": ["8.8.8.8", "8.8.8.8"]}})
    nogw = await demo.subnet(nid, "10.74.0.0/28", gateway_ip=None)
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": "10.74.0.1", "end": "10.74.0.14"}]
    v6 = await demo.subnet(nid, "fd00:70::/64", ipv6_ra_mode="slaac",
                           ipv6_address_mode="slaac")
    assert v6["gateway_ip"] == "fd00:70::1" and v6["ip_version"] == 6
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "fd00:71::/64", "ip_version": 6,
        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}})
    await demo.error("POST", "/subnets", 400, {"subnet": {
        "network_id": nid, "cidr": "10.75.0.0/24", "ip_version": 4, "ipv6_ra_mode": "slaac"}})
    upd = (await demo.put(f"/subnets/{sub['id']}", {"subnet": {
        "name": "s", "dns_nameservers": [], "enable_dhcp": False}}))["subnet"]
    assert upd["dns_nameservers"] == [] and not upd["enable_dhcp"]
    await demo.error("PUT", f"/subnets/{sub['id']}", 400, {"subnet": {"cidr": "10.0.0.0/8"}})
    # a port takes one IPv4 address and its SLAAC address
    port = await demo.port(nid, fixed_ips=[{"subnet_id": sub["id"]}, {"subnet_id": v6["id"]}])
    v6_addr = next(ip["ip_address"] for ip in port["fixed_ips"] if ":" in ip["ip_address"])
    assert ipaddress.ip_address(v6_addr) in ipaddress.ip_network("fd00:70::/64")
    await demo.error("DELETE", f"/subnets/{sub['id']}", 409, kind="SubnetInUse")
    await demo.delete(f"/ports/{port['id']}")
    await demo.delete(f"/subnets/{sub['id']}")
    await demo.delete(f"/networks/{nid}")


async def test_subnet_from_pools(admin: Net, demo: Net) -> None:
    net = await demo.network()
    sub = (await demo.post("/subnets", {"subnet": {
        "network_id": net["id"], "use_default_subnetpool": True, "ip_version": 4}}))["subnet"]
    assert ipaddress.ip_network(sub["cidr"]).prefixlen == 26 and sub["subnetpool_id"]
    pool = (await demo.post("/subnetpools", {"subnetpool": {
        "name": "mine", "prefixes": ["10.210.0.0/24"], "default_prefixlen": 26}}))["subnetpool"]
    assert pool["ip_version"] == 4 and pool["min_prefixlen"] == 24
    made = [(await demo.post("/subnets", {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}}))["subnet"]
        for _ in range(4)]
    got = sorted(ipaddress.ip_network(s["cidr"]) for s in made)
    assert [str(c) for c in got] == [f"10.210.0.{i}/26" for i in (0, 64, 128, 192)]
    await demo.error("POST", "/subnets", 409, {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}},
        kind="SubnetAllocationError")
    await demo.error("DELETE", f"/subnetpools/{pool['id']}", 409, kind="SubnetPoolInUse")
    await demo.error("POST", "/subnetpools", 403, {"subnetpool": {
        "prefixes": ["10.211.0.0/24"], "shared": True}})
    await demo.delete(f"/networks/{net['id']}")
    await demo.delete(f"/subnetpools/{pool['id']}")
    scope = (await admin.post("/address-scopes", {"address_scope": {
        "name": "scope", "ip_version": 4, "shared": True}}))["address_scope"]
    assert (await demo.get(f"/address-scopes/{scope['id']}"))["address_scope"]["shared"]
    await admin.delete(f"/address-scopes/{scope['id']}")


async def test_subnet_pool_default_quota(admin: Net, demo: Net, other: Net) -> None:
    """``default_quota``: each project's prefix space in the pool, in addresses (IPv4) or /64s
    (IPv6); over it -> 409 SubnetPoolQuotaExceeded, other projects unaffected."""
    pool = (await admin.post("/subnetpools", {"subnetpool": {
        "name": "quota4", "prefixes": ["10.220.0.0/22"], "default_prefixlen": 26,
        "shared": True, "default_quota": 128}}))["subnetpool"]
    assert pool["default_quota"] == 128
    net = await demo.network()
    body = {"subnet": {"network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}}
    for _ in range(2):  # two /26: 128 addresses
        await demo.post("/subnets", body)
    await demo.error("POST", "/subnets", 409, body, kind="SubnetPoolQuotaExceeded")
    await demo.error("POST", "/subnets", 409, {"subnet": {**body["subnet"], "prefixlen": 28}},
                     kind="SubnetPoolQuotaExceeded")
    await demo.error("POST", "/subnets", 409, {"subnet": {**body["subnet"],
                                                          "cidr": "10.220.3.0/30"}},
                     kind="SubnetPoolQuotaExceeded")
    theirs = await other.network()
    await other.post("/subnets", {"subnet": {**body["subnet"], "network_id": theirs["id"]}})
    await admin.put(f"/subnetpools/{pool['id']}", {"subnetpool": {"default_quota": 192}})
    await demo.post("/subnets", body)
    await admin.error("PUT", f"/subnetpools/{pool['id']}", 400,
                      {"subnetpool": {"default_quota": -1}})
    v6 = (await admin.post("/subnetpools", {"subnetpool": {
        "name": "quota6", "prefixes": ["fd00:220::/48"], "default_prefixlen": 64,
        "shared": True, "default_quota": 2}}))["subnetpool"]
    body6 = {"subnet": {"network_id": net["id"], "subnetpool_id": v6["id"], "ip_version": 6}}
    await demo.post("/subnets", body6)
    await demo.post("/subnets", body6)
    await demo.error("POST", "/subnets", 409, body6, kind="SubnetPoolQuotaExceeded")
    await demo.delete(f"/networks/{net['id']}")
    await other.delete(f"/networks/{theirs['id']}")
    await admin.delete(f"/subnetpools/{pool['id']}")
    await admin.delete(f"/subnetpools/{v6['id']}")


async def test_port_addresses_and_macs(admin: Net, demo: Net, other: Net) -> None:
    net = await demo.network()
    sub = await demo.subnet(net["id"], "10.80.0.0/24")
    port = await demo.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.10"}], name="p")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.80.0.10"}]
    assert port["mac_address"].startswith("fa:16:3e:") and port["status"] == "DOWN"
    assert port["binding:vnic_type"] == "normal" and "binding:host_id" not in port
    await demo.error("POST", "/ports", 409, {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.80.0.10"}]}}, kind="IpAddressAlreadyAllocated")
    await demo.error("POST", "/ports", 400, {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.99.0.10"}]}}, kind="InvalidIpForNetwork")
    await demo.error("POST", "/ports", 400, {"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": sub["id"], "ip_address": "10.80.0.255"}]}}, kind="InvalidIpForSubnet")
    await demo.error("POST", "/ports", 409, {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.80.0.1"}]}}, kind="IpAddressInUse")
    await demo.error("POST", "/ports", 409, {"port": {"network_id": net["id"],
                                                       "mac_address": port["mac_address"]}},
                     kind="MacAddressInUse")
    await demo.error("POST", "/ports", 400, {"port": {"network_id": net["id"],
                                                       "mac_address": "zz:16:3e:00:00:01"}})
    await other.error("POST", "/ports", 404, {"port": {"network_id": net["id"]}})
    await other.error("GET", f"/ports/{port['id']}", 404, kind="PortNotFound")
    await demo.error("POST", "/ports", 403, {"port": {"network_id": net["id"],
                                                       "binding:host_id": "h1"}})
    # moving the address frees the old one
    moved = (await demo.put(f"/ports/{port['id']}", {"port": {"fixed_ips": [
        {"ip_address": "10.80.0.11"}]}}))["port"]
    assert moved["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.80.0.11"}]
    again = await demo.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.10"}])
    found = (await demo.get("/ports?fixed_ips=ip_address=10.80.0.11"))["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    found = (await demo.get("/ports?fixed_ips=ip_address_substr=10.80.0.1"))["ports"]
    assert {p["id"] for p in found} == {port["id"], again["id"]}
    await demo.delete(f"/ports/{again['id']}")
    assert (await demo.port(net["id"], fixed_ips=[{"ip_address": "10.80.0.10"}]))
    # allowed address pairs need port security
    await demo.error("POST", "/ports", 409, {"port": {
        "network_id": net["id"], "port_security_enabled": False,
        "allowed_address_pairs": [{"ip_address": "10.80.0.200"}]}})
    pair = await demo.port(net["id"], allowed_address_pairs=[{"ip_address": "10.80.0.0/28"}])
    assert pair["allowed_address_pairs"][0]["mac_address"] == pair["mac_address"]
    insecure = await demo.port(net["id"], port_security_enabled=False)
    assert insecure["security_groups"] == [] and not insecure["port_security_enabled"]
    await demo.error("PUT", f"/ports/{pair['id']}", 409, {"port": {
        "port_security_enabled": False}})
    await demo.delete(f"/networks/{net['id']}", 409)
    for p in (await demo.get(f"/ports?network_id={net['id']}"))["ports"]:
        await demo.delete(f"/ports/{p['id']}")
    await demo.delete(f"/networks/{net['id']}")


async def test_binding_by_mechanism(admin: Net) -> None:
    net = await admin.network()
    await admin.subnet(net["id"], "10.81.0.0/24")
    port = await admin.port(net["id"], device_owner="compute:nova", device_id="vm-1",
                            **{"binding:host_id": "compute-1"})
    assert port["binding:vif_type"] == "bridge" and port["status"] == "ACTIVE"
    assert port["binding:vif_details"]["bridge_name"] == "osbr" + net["id"][:10]
    unbound = (await admin.put(f"/ports/{port['id']}", {"port": {"binding:host_id": ""}}
                               ))["port"]
    assert unbound["binding:vif_type"] == "unbound" and unbound["status"] == "DOWN"
    await admin.delete(f"/networks/{net['id']}", 409)
    await admin.delete(f"/ports/{port['id']}")
    await admin.delete(f"/networks/{net['id']}")


async def test_ipam_concurrency_never_duplicates(demo: Net) -> None:
    """50 parallel creates on a /26: at most 61 addresses exist, none twice; the rest are
    refused with IpAddressGenerationFailure and leave no port behind."""
    net = await demo.network()
    sub = await demo.subnet(net["id"], "10.90.0.0/26")
    body = {"port": {"network_id": net["id"]}}
    first = [demo.req("POST", "/ports", json=body) for _ in range(40)]
    done = await asyncio.gather(*first)
    second = await asyncio.gather(*[demo.req("POST", "/ports", json=body) for _ in range(30)])
    responses = [*done, *second]
    ok = [r.json()["port"] for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(ok) == 61
    addresses = [p["fixed_ips"][0]["ip_address"] for p in ok]
    assert len(set(addresses)) == 61
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network(sub["cidr"]) for a in addresses)
    assert "10.90.0.1" not in addresses
    assert {r.status_code for r in refused} == {409}
    assert {r.json()["NeutronError"]["type"] for r in refused} == {"IpAddressGenerationFailure"}
    listed = (await demo.get(f"/ports?network_id={net['id']}&fields=id"))["ports"]
    assert len(listed) == 61
    # deleting releases: the next port gets the freed address
    await demo.delete(f"/ports/{ok[0]['id']}")
    again = await demo.port(net["id"])
    assert again["fixed_ips"][0]["ip_address"] == addresses[0]
    await asyncio.gather(*[demo.delete(f"/ports/{p['id']}") for p in [*ok[1:], again]])
    await demo.delete(f"/networks/{net['id']}")
