"""Servers on the Networking API: ports made, bound and released by Compute, addresses,
interfaces, security groups, floating IPs, bad input and tenancy (both services in-process)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from onestack.compute.manager import ComputeAgent
from tests.conftest import issue, make_user, password_auth
from tests.functional.compute.conftest import API, action, boot, mv, show, wait_for, wait_gone
from tests.functional.network.conftest import Net

NET = "/networking/v2.0"


@pytest.fixture(scope="module")
async def demo_net(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> Net:
    return Net(client, demo_headers)


@pytest.fixture(scope="module")
async def admin_net(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Net:
    return Net(client, admin_headers)


@pytest.fixture(scope="module")
async def private(demo_net: Net) -> dict[str, Any]:
    nets = (await demo_net.get("/networks?name=private"))["networks"]
    assert len(nets) == 1, nets
    return dict(nets[0])


def agent_of(cloud: Any) -> ComputeAgent:
    return next(a for a in cloud.agents if isinstance(a, ComputeAgent))


async def ports_of(net: Net, server_id: str) -> list[dict[str, Any]]:
    return list((await net.get(f"/ports?device_id={server_id}"))["ports"])


async def fresh_project(cloud: Any, client: httpx.AsyncClient, admin: dict[str, str]) -> dict:
    """A new project with one member (no networks of its own yet): its token headers."""
    name = f"cn-{uuid.uuid4().hex[:8]}"
    r = await client.post(
        "/identity/v3/projects",
        headers=admin,
        json={"project": {"name": name, "domain_id": "default"}},
    )
    assert r.status_code == 201, r.text
    await make_user(cloud, f"{name}-user", "pw-cn-1", project=name)
    token = await issue(client, password_auth(f"{name}-user", "pw-cn-1", project=name))
    return {"X-Auth-Token": token}


async def delete_and_wait(client: httpx.AsyncClient, headers: dict[str, str], sid: str) -> None:
    r = await client.delete(f"{API}/servers/{sid}", headers=headers)
    assert r.status_code == 204, r.text
    await wait_gone(client, headers, sid)


async def test_boot_on_a_network_makes_a_bound_port_and_delete_removes_it(
    cloud: Any,
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    created = await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}])
    sid = created["server"]["id"]
    server = await wait_for(client, demo_headers, sid, "ACTIVE")
    ports = await ports_of(admin_net, sid)
    assert len(ports) == 1
    port = ports[0]
    assert port["device_owner"] == "compute:nova"
    assert port["project_id"] == server["tenant_id"]
    assert port["binding:host_id"] == cloud.platform.host
    assert port["status"] == "ACTIVE"
    default = (await demo_net.get("/security-groups?name=default"))["security_groups"][0]
    assert port["security_groups"] == [default["id"]]
    # addresses: by network name, as Nova renders them
    ip = port["fixed_ips"][0]["ip_address"]
    assert server["addresses"] == {
        "private": [
            {
                "version": 4,
                "addr": ip,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
            }
        ]
    }
    r = await client.get(f"{API}/servers/{sid}/ips", headers=demo_headers)
    assert r.json() == {"addresses": {"private": [{"version": 4, "addr": ip}]}}
    r = await client.get(f"{API}/servers/{sid}/ips/private", headers=demo_headers)
    assert r.json() == {"private": [{"version": 4, "addr": ip}]}
    r = await client.get(f"{API}/servers/{sid}/ips/public", headers=demo_headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/servers/detail?ip={ip.replace('.', '[.]')}$", headers=demo_headers)
    assert [s["id"] for s in r.json()["servers"]] == [sid]
    # the virt driver was given the port
    guest = agent_of(cloud).drivers[cloud.platform.host].guests[sid]  # type: ignore[attr-defined]
    info = guest.spec.network_info
    assert [p["id"] for p in info] == [port["id"]]
    assert info[0]["devname"] == "tap" + port["id"][:11]
    assert info[0]["network"]["name"] == "private" and info[0]["network"]["mtu"]
    assert info[0]["fixed_ips"][0]["subnet"]["cidr"]
    assert info[0]["binding:vif_type"] == port["binding:vif_type"]
    await delete_and_wait(client, demo_headers, sid)
    assert await ports_of(admin_net, sid) == []


async def test_user_port_is_bound_and_kept(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    port = await demo_net.port(private["id"], name="mine")
    created = await boot(client, demo_headers, image_id, networks=[{"port": port["id"]}])
    sid = created["server"]["id"]
    server = await wait_for(client, demo_headers, sid, "ACTIVE")
    bound = (await admin_net.get(f"/ports/{port['id']}"))["port"]
    assert bound["device_id"] == sid and bound["binding:host_id"]
    assert server["addresses"]["private"][0]["addr"] == port["fixed_ips"][0]["ip_address"]
    # a port in use cannot boot another server
    err = await boot(client, demo_headers, image_id, networks=[{"port": port["id"]}], expect=409)
    assert "in use" in err["conflictingRequest"]["message"]
    await delete_and_wait(client, demo_headers, sid)
    kept = (await admin_net.get(f"/ports/{port['id']}"))["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    await demo_net.delete(f"/ports/{port['id']}")


async def test_fixed_ip_and_tags(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    subnet = (await demo_net.get(f"/subnets?network_id={private['id']}"))["subnets"][0]
    import ipaddress

    cidr = ipaddress.ip_network(subnet["cidr"])
    wanted = str(cidr[-10])
    created = await boot(
        client,
        demo_headers,
        image_id,
        networks=[{"uuid": private["id"], "fixed_ip": wanted, "tag": "data"}],
    )
    sid = created["server"]["id"]
    server = await wait_for(client, demo_headers, sid, "ACTIVE")
    assert server["addresses"]["private"][0]["addr"] == wanted
    r = await client.get(f"{API}/servers/{sid}/os-interface", headers=mv(demo_headers))
    (attachment,) = r.json()["interfaceAttachments"]
    assert attachment["tag"] == "data" and attachment["fixed_ips"][0]["ip_address"] == wanted
    # the same address again: in use
    err = await boot(
        client,
        demo_headers,
        image_id,
        networks=[{"uuid": private["id"], "fixed_ip": wanted}],
        expect=400,
    )
    assert "in use" in err["badRequest"]["message"]
    await delete_and_wait(client, demo_headers, sid)


@pytest.mark.parametrize(
    ("networks", "code", "text"),
    [
        ([{"uuid": "00000000-0000-0000-0000-000000000000"}], 400, "could not be found"),
        ([{"uuid": "not-a-uuid"}], 400, "proper format"),
        ([{"port": "00000000-0000-0000-0000-000000000000"}], 400, "could not be found"),
        ([{"uuid": "PRIVATE", "fixed_ip": "192.0.2.1"}], 400, "not valid for network"),
        ([{"uuid": "PRIVATE", "fixed_ip": "nope"}], 400, "Invalid fixed IP"),
        ([{"uuid": "PRIVATE", "bogus": 1}], 400, "Additional properties"),
        ([{}], 400, "uuid"),
        ("everything", 400, "networks"),
    ],
)
async def test_bad_networks(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
    private: dict[str, Any],
    networks: Any,
    code: int,
    text: str,
) -> None:
    if isinstance(networks, list):
        networks = [
            {k: private["id"] if v == "PRIVATE" else v for k, v in n.items()} for n in networks
        ]
    before = len((await admin_net.get("/ports"))["ports"])
    body = await boot(client, demo_headers, image_id, networks=networks, expect=code)
    assert text in str(body), body
    assert len((await admin_net.get("/ports"))["ports"]) == before  # nothing leaked


async def test_unknown_security_group_is_refused(
    client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str, private: dict
) -> None:
    body = await boot(
        client,
        demo_headers,
        image_id,
        networks=[{"uuid": private["id"]}],
        security_groups=[{"name": "no-such-group"}],
        expect=400,
    )
    assert "Security group no-such-group not found" in body["badRequest"]["message"]


async def test_another_projects_network_is_not_usable(
    cloud: Any,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
    image_id: str,
    private: dict[str, Any],
) -> None:
    other = await fresh_project(cloud, client, admin_headers)
    body = await boot(client, other, image_id, networks=[{"uuid": private["id"]}], expect=400)
    assert f"Network {private['id']} could not be found" in body["badRequest"]["message"]
    # a port of another project neither
    port = await Net(client, demo_headers).port(private["id"])
    body = await boot(client, other, image_id, networks=[{"port": port["id"]}], expect=400)
    assert "could not be found" in body["badRequest"]["message"]
    await Net(client, demo_headers).delete(f"/ports/{port['id']}")


async def test_auto_and_omitted_networks(
    cloud: Any,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
) -> None:
    # demo has one network: both auto and (below 2.37) no networks use it
    auto = (await boot(client, demo_headers, image_id, networks="auto"))["server"]["id"]
    legacy = (await boot(client, demo_headers, image_id, version="2.36"))["server"]["id"]
    for sid in (auto, legacy):
        server = await wait_for(client, demo_headers, sid, "ACTIVE")
        assert list(server["addresses"]) == ["private"]
    # a project without networks: auto gets the auto-allocated topology
    other = await fresh_project(cloud, client, admin_headers)
    fresh = (await boot(client, other, image_id, networks="auto"))["server"]["id"]
    server = await wait_for(client, other, fresh, "ACTIVE")
    assert list(server["addresses"]) == ["auto_allocated_network"]
    # now with two networks: ambiguous
    other_net = Net(client, other)
    second = await other_net.network(name="second")
    await other_net.subnet(second["id"], "10.77.0.0/24")
    body = await boot(client, other, image_id, networks="auto", expect=409)
    assert "Multiple possible networks found" in body["conflictingRequest"]["message"]
    await boot(client, other, image_id, version="2.36", expect=409)
    for headers, sid in ((demo_headers, auto), (demo_headers, legacy), (other, fresh)):
        await delete_and_wait(client, headers, sid)
        assert await ports_of(admin_net, sid) == []


async def test_interfaces_attach_and_detach(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    sid = (await boot(client, demo_headers, image_id))["server"]["id"]  # networks none
    await wait_for(client, demo_headers, sid, "ACTIVE")
    assert (await show(client, demo_headers, sid))["addresses"] == {}
    url = f"{API}/servers/{sid}/os-interface"
    r = await client.post(
        url, headers=demo_headers, json={"interfaceAttachment": {"net_id": private["id"]}}
    )
    assert r.status_code == 200, r.text
    made = r.json()["interfaceAttachment"]
    assert made["net_id"] == private["id"] and made["port_id"]
    mine = await demo_net.port(private["id"], name="attach-me")
    r = await client.post(
        url, headers=demo_headers, json={"interfaceAttachment": {"port_id": mine["id"]}}
    )
    assert r.status_code == 200, r.text
    r = await client.get(url, headers=demo_headers)
    assert {a["port_id"] for a in r.json()["interfaceAttachments"]} == {made["port_id"], mine["id"]}
    r = await client.get(f"{url}/{mine['id']}", headers=demo_headers)
    assert r.json()["interfaceAttachment"]["mac_addr"] == mine["mac_address"]
    assert len((await show(client, demo_headers, sid))["addresses"]["private"]) == 2
    # bad input
    bad = {"interfaceAttachment": {"net_id": private["id"], "port_id": mine["id"]}}
    r = await client.post(url, headers=demo_headers, json=bad)
    assert r.status_code == 400
    r = await client.post(
        url, headers=demo_headers, json={"interfaceAttachment": {"port_id": mine["id"]}}
    )
    assert r.status_code == 409, r.text  # in use
    r = await client.delete(f"{url}/00000000-0000-0000-0000-000000000000", headers=demo_headers)
    assert r.status_code == 404
    # detach: the port Compute made goes, the user's stays (unbound)
    for port_id in (made["port_id"], mine["id"]):
        r = await client.delete(f"{url}/{port_id}", headers=demo_headers)
        assert r.status_code == 202, r.text
    r = await admin_net.req("GET", f"/ports/{made['port_id']}")
    assert r.status_code == 404
    assert (await admin_net.get(f"/ports/{mine['id']}"))["port"]["device_id"] == ""
    assert (await show(client, demo_headers, sid))["addresses"] == {}
    await delete_and_wait(client, demo_headers, sid)
    await demo_net.delete(f"/ports/{mine['id']}")


async def test_floating_ip_shows_in_addresses_and_security_groups_act_on_ports(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
        "server"
    ]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    (port,) = await ports_of(admin_net, sid)
    public = (await admin_net.get("/networks?name=public"))["networks"][0]
    fip = (
        await demo_net.post(
            "/floatingips",
            {"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}},
        )
    )["floatingip"]
    deadline = time.monotonic() + 10
    while True:  # the network-changed event refreshes the info cache
        addresses = (await show(client, demo_headers, sid))["addresses"]["private"]
        if len(addresses) == 2:
            break
        assert time.monotonic() < deadline, addresses
        await asyncio.sleep(0.05)
    assert addresses[1] == {
        "version": 4,
        "addr": fip["floating_ip_address"],
        "OS-EXT-IPS:type": "floating",
        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
    }
    # the old proxies (below 2.44)
    await action(
        client,
        demo_headers,
        sid,
        {"removeFloatingIp": {"address": fip["floating_ip_address"]}},
        version="2.43",
    )
    assert len((await show(client, demo_headers, sid))["addresses"]["private"]) == 1
    again = {"removeFloatingIp": {"address": fip["floating_ip_address"]}}
    r = await action(client, demo_headers, sid, again, version="2.43", expect=409)
    assert "not associated" in r.text
    await action(
        client,
        demo_headers,
        sid,
        {"addFloatingIp": {"address": fip["floating_ip_address"]}},
        version="2.43",
    )
    assert len((await show(client, demo_headers, sid))["addresses"]["private"]) == 2
    unknown = {"addFloatingIp": {"address": "192.0.2.99"}}
    r = await action(client, demo_headers, sid, unknown, version="2.43", expect=404)
    assert "floating IP not found" in r.text
    r = await action(client, demo_headers, sid, unknown, expect=404)  # gone in 2.44
    assert "2.44" in r.text
    # security groups on the ports
    group = (
        await demo_net.post("/security-groups", {"security_group": {"name": f"web-{sid[:6]}"}})
    )["security_group"]
    await action(client, demo_headers, sid, {"addSecurityGroup": {"name": group["name"]}})
    assert group["id"] in (await admin_net.get(f"/ports/{port['id']}"))["port"]["security_groups"]
    r = await client.get(f"{API}/servers/{sid}/os-security-groups", headers=demo_headers)
    assert group["name"] in {g["name"] for g in r.json()["security_groups"]}
    await action(client, demo_headers, sid, {"addSecurityGroup": {"name": "no-such"}}, expect=400)
    await action(client, demo_headers, sid, {"removeSecurityGroup": {"name": group["name"]}})
    assert (
        group["id"] not in (await admin_net.get(f"/ports/{port['id']}"))["port"]["security_groups"]
    )
    await delete_and_wait(client, demo_headers, sid)
    await demo_net.delete(f"/floatingips/{fip['id']}")
    await demo_net.delete(f"/security-groups/{group['id']}")


async def test_failed_build_and_vif_timeout_leak_no_port(
    cloud: Any,
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    driver = agent_of(cloud).drivers[cloud.platform.host]
    driver.fail_spawn = True  # type: ignore[attr-defined]
    try:
        sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
            "server"
        ]["id"]
        await wait_for(client, demo_headers, sid, "ERROR")
    finally:
        driver.fail_spawn = False  # type: ignore[attr-defined]
    assert await ports_of(admin_net, sid) == []
    await delete_and_wait(client, demo_headers, sid)
    # no network-vif-plugged comes (the Networking service's notifier off): ERROR after the
    # timeout with a fault, the port deleted
    network_conf = cloud.platform.settings.network
    compute_conf = cloud.platform.settings.compute
    old = network_conf.nova_notify, compute_conf.vif_plugging_timeout
    network_conf.nova_notify, compute_conf.vif_plugging_timeout = False, 0.5
    try:
        sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
            "server"
        ]["id"]
        server = await wait_for(client, demo_headers, sid, "ERROR")
    finally:
        network_conf.nova_notify, compute_conf.vif_plugging_timeout = old
    assert "network-vif-plugged" in server["fault"]["message"]
    assert await ports_of(admin_net, sid) == []
    await delete_and_wait(client, demo_headers, sid)


async def test_port_quota_refuses_the_boot(
    cloud: Any,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
) -> None:
    other = await fresh_project(cloud, client, admin_headers)
    other_net = Net(client, other)
    net = await other_net.network(name="only")
    await other_net.subnet(net["id"], "10.78.0.0/24")
    project = net["project_id"]
    await other_net.port(net["id"])
    used = (await admin_net.get(f"/quotas/{project}/details.json"))["quota"]["port"]["used"]
    await admin_net.put(f"/quotas/{project}", {"quota": {"port": used + 1}})  # one port left
    wanted = [{"uuid": net["id"]}]
    body = await boot(client, other, image_id, networks=wanted, min_count=2, expect=403)
    assert "Maximum number of ports exceeded" in body["forbidden"]["message"]
    sid = (await boot(client, other, image_id, networks=wanted))["server"]["id"]
    await wait_for(client, other, sid, "ACTIVE")
    body = await boot(client, other, image_id, networks=wanted, expect=403)
    assert "Maximum number of ports exceeded" in body["forbidden"]["message"]
    await delete_and_wait(client, other, sid)


async def test_port_deleted_in_networking_leaves_the_addresses(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    demo_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
        "server"
    ]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    (port,) = await ports_of(admin_net, sid)
    await demo_net.delete(f"/ports/{port['id']}")
    deadline = time.monotonic() + 10
    while (await show(client, demo_headers, sid))["addresses"]:  # network-vif-deleted
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    r = await client.get(f"{API}/servers/{sid}/os-interface", headers=demo_headers)
    assert r.json() == {"interfaceAttachments": []}
    await delete_and_wait(client, demo_headers, sid)


async def test_shelve_unbinds_and_unshelve_binds_the_ports_again(
    cloud: Any,
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
        "server"
    ]["id"]
    before = (await wait_for(client, demo_headers, sid, "ACTIVE"))["addresses"]
    await action(client, demo_headers, sid, {"shelve": None})
    await wait_for(client, demo_headers, sid, "SHELVED_OFFLOADED")
    (port,) = await ports_of(admin_net, sid)
    assert port["binding:host_id"] == ""
    await action(client, demo_headers, sid, {"unshelve": None})
    server = await wait_for(client, demo_headers, sid, "ACTIVE")
    (port,) = await ports_of(admin_net, sid)
    assert port["binding:host_id"] == cloud.platform.host and port["status"] == "ACTIVE"
    assert server["addresses"] == before
    guest = agent_of(cloud).drivers[cloud.platform.host].guests[sid]  # type: ignore[attr-defined]
    assert [p["id"] for p in guest.spec.network_info] == [port["id"]]
    await delete_and_wait(client, demo_headers, sid)
    assert await ports_of(admin_net, sid) == []


async def test_delete_while_waiting_for_the_vif_stops_the_wait(
    cloud: Any,
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_net: Net,
    image_id: str,
    private: dict[str, Any],
) -> None:
    network_conf = cloud.platform.settings.network
    compute_conf = cloud.platform.settings.compute
    old = network_conf.nova_notify, compute_conf.vif_plugging_timeout
    network_conf.nova_notify, compute_conf.vif_plugging_timeout = False, 120.0
    try:
        sid = (await boot(client, demo_headers, image_id, networks=[{"uuid": private["id"]}]))[
            "server"
        ]["id"]
        deadline = time.monotonic() + 10
        while not await ports_of(admin_net, sid):  # the build is waiting now
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        started = time.monotonic()
        await delete_and_wait(client, demo_headers, sid)
        assert time.monotonic() - started < 10
    finally:
        network_conf.nova_notify, compute_conf.vif_plugging_timeout = old
    deadline = time.monotonic() + 10
    while await ports_of(admin_net, sid):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert sid not in agent_of(cloud).drivers[cloud.platform.host].guests  # type: ignore[attr-defined]
