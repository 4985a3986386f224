"""Routers, floating IPs and port forwardings."""

from __future__ import annotations

from tests.functional.network.conftest import Net


async def _public(net: Net) -> dict:
    return (await net.get("/networks?name=public"))["networks"][0]


async def _free_public_ip(admin: Net, public: dict) -> str:
    """An address of the public subnet no port holds (other tests take random ones)."""
    ports = (await admin.get(f"/ports?network_id={public['id']}"))["ports"]
    used = {ip["ip_address"] for p in ports for ip in p["fixed_ips"]}
    return next(a for a in (f"172.24.4.{n}" for n in range(70, 250)) if a not in used)


async def test_router_gateway_interfaces_and_fips(admin: Net, demo: Net, other: Net) -> None:
    public = await _public(demo)
    net = await demo.network()
    sub = await demo.subnet(net["id"], "10.100.0.0/24")
    router = (await demo.post("/routers", {"router": {
        "name": "r", "external_gateway_info": {"network_id": public["id"]}}}))["router"]
    gw = router["external_gateway_info"]
    assert gw["network_id"] == public["id"] and gw["enable_snat"] is True
    assert {ip["ip_address"].count(":") > 0 for ip in gw["external_fixed_ips"]} == {False, True}
    await demo.error("POST", "/routers", 403, {"router": {"distributed": True}})
    await demo.error("PUT", f"/routers/{router['id']}", 403, {"router": {
        "external_gateway_info": {"network_id": public["id"], "external_fixed_ips": [
            {"ip_address": "172.24.4.99"}]}}})
    await demo.error("PUT", f"/routers/{router['id']}", 400, {"router": {
        "external_gateway_info": {"network_id": net["id"]}}})
    iface = await demo.put(f"/routers/{router['id']}/add_router_interface",
                           {"subnet_id": sub["id"]})
    assert iface["subnet_id"] == sub["id"] and iface["port_id"]
    port = (await demo.get(f"/ports/{iface['port_id']}"))["port"]
    assert port["device_owner"] == "network:router_interface"
    assert port["fixed_ips"][0]["ip_address"] == "10.100.0.1"
    await demo.error("PUT", f"/routers/{router['id']}/add_router_interface", 400,
                     {"subnet_id": sub["id"]})
    await demo.error("DELETE", f"/ports/{iface['port_id']}", 409)
    await demo.error("DELETE", f"/networks/{net['id']}", 409, kind="NetworkInUse")
    await demo.error("DELETE", f"/routers/{router['id']}", 409, kind="RouterInUse")
    routes = [{"destination": "10.200.0.0/16", "nexthop": "10.100.0.50"}]
    upd = (await demo.put(f"/routers/{router['id']}", {"router": {"routes": routes}}))["router"]
    assert upd["routes"] == routes
    await demo.error("PUT", f"/routers/{router['id']}", 400, {"router": {"routes": [
        {"destination": "10.201.0.0/16", "nexthop": "192.0.2.1"}]}}, kind="InvalidRoutes")
    more = await demo.put(f"/routers/{router['id']}/add_extraroutes", {"router": {"routes": [
        {"destination": "10.202.0.0/16", "nexthop": "10.100.0.51"}]}})
    assert len(more["router"]["routes"]) == 2
    await demo.put(f"/routers/{router['id']}", {"router": {"routes": []}})
    # floating IPs
    vm = await demo.port(net["id"], device_owner="compute:nova", device_id="vm")
    fip = (await demo.post("/floatingips", {"floatingip": {
        "floating_network_id": public["id"], "port_id": vm["id"]}}))["floatingip"]
    assert fip["status"] == "ACTIVE" and fip["router_id"] == router["id"]
    assert fip["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert fip["floating_ip_address"].startswith("172.24.4.")
    assert fip["port_details"]["device_id"] == "vm"
    await demo.error("POST", "/floatingips", 409, {"floatingip": {
        "floating_network_id": public["id"], "port_id": vm["id"]}},
        kind="FloatingIPPortAlreadyAssociated")
    await demo.error("POST", "/floatingips", 400, {"floatingip": {
        "floating_network_id": net["id"]}})
    await demo.error("POST", "/floatingips", 403, {"floatingip": {
        "floating_network_id": public["id"], "floating_ip_address": "172.24.4.200"}})
    await other.error("GET", f"/floatingips/{fip['id']}", 404, kind="FloatingIPNotFound")
    await demo.error("PUT", f"/routers/{router['id']}/remove_router_interface", 409,
                     {"subnet_id": sub["id"]}, kind="RouterInterfaceInUseByFloatingIP")
    off = (await demo.put(f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}
                          ))["floatingip"]
    assert off["port_id"] is None and off["status"] == "DOWN" and off["router_id"] is None
    # port forwardings on an unassociated floating IP
    pf = (await demo.post(f"/floatingips/{fip['id']}/port_forwardings", {"port_forwarding": {
        "internal_port_id": vm["id"], "internal_ip_address": vm["fixed_ips"][0]["ip_address"],
        "internal_port": 22, "external_port": 2222, "protocol": "tcp"}}))["port_forwarding"]
    await demo.error("POST", f"/floatingips/{fip['id']}/port_forwardings", 409, {
        "port_forwarding": {"internal_port_id": vm["id"],
                            "internal_ip_address": vm["fixed_ips"][0]["ip_address"],
                            "internal_port": 23, "external_port": 2222, "protocol": "tcp"}})
    listed = await demo.get(f"/floatingips/{fip['id']}/port_forwardings")
    assert [p["id"] for p in listed["port_forwardings"]] == [pf["id"]]
    await demo.put(f"/floatingips/{fip['id']}/port_forwardings/{pf['id']}",
                   {"port_forwarding": {"external_port": 2223}})
    shown = (await demo.get(f"/floatingips/{fip['id']}"))["floatingip"]
    assert shown["port_forwardings"][0]["external_port"] == 2223
    await demo.delete(f"/floatingips/{fip['id']}/port_forwardings/{pf['id']}")
    await demo.delete(f"/floatingips/{fip['id']}")
    # deleting the VM's port drops the association; then tear down
    await demo.delete(f"/ports/{vm['id']}")
    out = await demo.put(f"/routers/{router['id']}/remove_router_interface",
                         {"subnet_id": sub["id"]})
    assert out["port_id"] == iface["port_id"]
    await demo.error("PUT", f"/routers/{router['id']}/remove_router_interface", 404,
                     {"subnet_id": sub["id"]})
    cleared = (await demo.put(f"/routers/{router['id']}", {"router": {
        "external_gateway_info": {}}}))["router"]
    assert cleared["external_gateway_info"] is None
    await demo.delete(f"/routers/{router['id']}")
    await demo.delete(f"/networks/{net['id']}")
    await admin.error("GET", f"/routers/{router['id']}", 404, kind="RouterNotFound")


async def test_interface_by_port_and_snat(admin: Net, demo: Net) -> None:
    public = await _public(admin)
    net = await demo.network()
    await demo.subnet(net["id"], "10.101.0.0/24")
    port = await demo.port(net["id"])
    router = (await demo.post("/routers", {"router": {"name": "rp"}}))["router"]
    iface = await demo.put(f"/routers/{router['id']}/add_router_interface",
                           {"port_id": port["id"]})
    assert iface["port_id"] == port["id"]
    assert (await demo.get(f"/ports/{port['id']}"))["port"]["device_id"] == router["id"]
    address = await _free_public_ip(admin, public)
    await demo.error("PUT", f"/routers/{router['id']}", 403, {"router": {
        "external_gateway_info": {"network_id": public["id"], "enable_snat": False,
                                  "external_fixed_ips": [{"ip_address": address}]}}})
    gw = (await admin.put(f"/routers/{router['id']}", {"router": {"external_gateway_info": {
        "network_id": public["id"], "enable_snat": False,
        "external_fixed_ips": [{"ip_address": address}]}}}))["router"]
    assert gw["external_gateway_info"]["enable_snat"] is False
    assert gw["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == address
    await demo.put(f"/routers/{router['id']}/remove_router_interface", {"port_id": port["id"]})
    await demo.delete(f"/routers/{router['id']}")
    await demo.delete(f"/networks/{net['id']}")
