"""Networks: provider segments, MTU, sharing and external visibility, list conventions,
revision checks and in-use refusals."""

from __future__ import annotations

import uuid

from tests.functional.network.conftest import Net, project_id


async def test_versions_and_extensions(client, demo: Net) -> None:
    r = await client.get("/networking")
    assert r.status_code == 200
    assert r.json()["versions"][0]["id"] == "v2.0"
    assert r.json()["versions"][0]["links"][0]["href"].endswith("/networking/v2.0/")
    r = await client.get("/networking/v2.0/", headers=demo.headers)
    names = {res["collection"] for res in r.json()["resources"]}
    assert {"networks", "subnets", "ports", "rbac_policies"} <= names
    aliases = {e["alias"] for e in (await demo.get("/extensions"))["extensions"]}
    assert {"router", "security-group", "binding", "provider", "quotas", "external-net",
            "auto-allocated-topology", "standard-attr-tag", "revision-if-match"} <= aliases
    assert "qos" in aliases and "trunk" in aliases and "fwaas" not in aliases
    assert (await demo.get("/extensions/router"))["extension"]["alias"] == "router"
    await demo.error("GET", "/extensions/fwaas", 404, kind="ExtensionNotFound")


async def test_unauthenticated_and_unknown(client, demo: Net) -> None:
    r = await client.get("/networking/v2.0/networks")
    assert r.status_code == 401 and "NeutronError" in r.json()
    await demo.error("GET", f"/networks/{uuid.uuid4()}", 404, kind="NetworkNotFound")
    await demo.error("POST", "/networks", 400, {"network": {"bogus": 1}})
    await demo.error("POST", "/networks", 400, {"net": {}})
    r = await demo.req("POST", "/networks", 400, content=b"{nope")
    assert r.json()["NeutronError"]["message"] == "Malformed request body"
    await demo.error("POST", "/networks", 400, {"network": {"admin_state_up": "maybe"}})
    await demo.error("POST", "/networks", 400, {"network": {"name": "x" * 300}})


async def test_tenant_network_gets_vxlan(admin: Net, demo: Net) -> None:
    net = await demo.network()
    assert net["mtu"] == 1450 and net["status"] == "ACTIVE" and net["shared"] is False
    assert "provider:network_type" not in net
    seen = (await admin.get(f"/networks/{net['id']}"))["network"]
    assert seen["provider:network_type"] == "vxlan"
    assert 1 <= seen["provider:segmentation_id"] <= 1000
    assert seen["provider:physical_network"] is None
    await demo.delete(f"/networks/{net['id']}")


async def test_provider_networks(admin: Net, demo: Net) -> None:
    await demo.error("POST", "/networks", 403, {"network": {
        "provider:network_type": "vlan", "provider:physical_network": "public",
        "provider:segmentation_id": 300}})
    vlan = await admin.network(**{"provider:network_type": "vlan",
                                  "provider:physical_network": "public",
                                  "provider:segmentation_id": 300})
    assert vlan["mtu"] == 1500 and vlan["provider:segmentation_id"] == 300
    await admin.error("POST", "/networks", 409, {"network": {
        "provider:network_type": "vlan", "provider:physical_network": "public",
        "provider:segmentation_id": 300}}, kind="SegmentationIdInUse")
    for bad in (0, 4095, "x"):
        await admin.error("POST", "/networks", 400, {"network": {
            "provider:network_type": "vlan", "provider:physical_network": "public",
            "provider:segmentation_id": bad}})
    await admin.error("POST", "/networks", 400, {"network": {
        "provider:network_type": "vlan", "provider:physical_network": "nowhere",
        "provider:segmentation_id": 5}})
    await admin.error("POST", "/networks", 400, {"network": {"provider:network_type": "gre"}})
    await admin.error("POST", "/networks", 409, {"network": {
        "provider:network_type": "flat", "provider:physical_network": "public"}},
        kind="FlatNetworkInUse")
    vx = await admin.network(**{"provider:network_type": "vxlan",
                                "provider:segmentation_id": 70000})
    assert vx["mtu"] == 1450
    await admin.error("POST", "/networks", 400, {"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": 2**24}})
    await admin.error("POST", "/networks", 400, {"network": {"mtu": 9000}})
    geneve = await admin.network(**{"provider:network_type": "geneve"})
    local = await admin.network(**{"provider:network_type": "local"})
    assert local["mtu"] == 1500 and geneve["provider:segmentation_id"] >= 1
    multi = await admin.network(segments=[
        {"provider:network_type": "vlan", "provider:physical_network": "public",
         "provider:segmentation_id": 301},
        {"provider:network_type": "vxlan"}])
    assert len(multi["segments"]) == 2 and multi["mtu"] == 1450
    segs = (await admin.get(f"/segments?network_id={multi['id']}"))["segments"]
    assert sorted(s["network_type"] for s in segs) == ["vlan", "vxlan"]
    for net in (vlan, vx, geneve, local, multi):
        await admin.delete(f"/networks/{net['id']}")
    # the id is free again once its network is gone
    again = await admin.network(**{"provider:network_type": "vlan",
                                   "provider:physical_network": "public",
                                   "provider:segmentation_id": 300})
    await admin.delete(f"/networks/{again['id']}")


async def test_shared_and_external_visibility(admin: Net, demo: Net, other: Net) -> None:
    await demo.error("POST", "/networks", 403, {"network": {"shared": True}})
    private = await demo.network()
    shared = await admin.network(shared=True)
    hidden = await admin.network()
    ids = {n["id"] for n in (await other.get("/networks"))["networks"]}
    assert shared["id"] in ids and private["id"] not in ids and hidden["id"] not in ids
    public = (await other.get("/networks?router:external=true"))["networks"]
    assert [n["name"] for n in public] == ["public"]
    await other.error("GET", f"/networks/{private['id']}", 404, kind="NetworkNotFound")
    await other.error("PUT", f"/networks/{private['id']}", 404, {"network": {"name": "x"}})
    await other.error("DELETE", f"/networks/{private['id']}", 404)
    # a shared network is visible but not another project's to change
    await other.error("PUT", f"/networks/{shared['id']}", 403, {"network": {"name": "x"}})
    assert (await other.get(f"/networks?shared=true&id={shared['id']}"))["networks"]
    # a port of another project on the shared network pins the sharing
    port = await other.port(shared["id"])
    await admin.error("PUT", f"/networks/{shared['id']}", 409, {"network": {"shared": False}},
                      kind="InvalidSharedSetting")
    await other.delete(f"/ports/{port['id']}")
    await admin.put(f"/networks/{shared['id']}", {"network": {"shared": False}})
    assert not (await other.get(f"/networks?id={shared['id']}"))["networks"]
    for net, who in ((private, demo), (shared, admin), (hidden, admin)):
        await who.delete(f"/networks/{net['id']}")


async def test_update_revision_and_if_match(demo: Net, reader: Net) -> None:
    net = await demo.network(description="first")
    assert net["revision_number"] == 0
    updated = (await demo.put(f"/networks/{net['id']}",
                              {"network": {"name": "renamed", "mtu": 1400}}))["network"]
    assert updated["revision_number"] == 1 and updated["mtu"] == 1400
    assert updated["updated_at"] >= net["updated_at"]
    await demo.error("PUT", f"/networks/{net['id']}", 412, {"network": {"name": "n"}},
                     headers={"If-Match": "revision_number=0"},
                     kind="RevisionNumberConstraintFailed")
    await demo.put(f"/networks/{net['id']}", {"network": {"name": "n2"}},
                   headers={"If-Match": "revision_number=1"})
    await demo.error("PUT", f"/networks/{net['id']}", 400, {"network": {"status": "DOWN"}})
    await demo.error("PUT", f"/networks/{net['id']}", 400, {"network": {"mtu": 1500000}})
    await demo.error("PUT", f"/networks/{net['id']}", 403, {"network": {
        "router:external": True}})
    # a reader reads but does not write
    assert (await reader.get(f"/networks/{net['id']}"))["network"]["name"] == "n2"
    await reader.error("POST", "/networks", 403, {"network": {"name": "r"}})
    await reader.error("PUT", f"/networks/{net['id']}", 403, {"network": {"name": "r"}})
    await demo.error("DELETE", f"/networks/{net['id']}", 412,
                     headers={"If-Match": "revision_number=99"})
    await demo.delete(f"/networks/{net['id']}")


async def test_list_filters_fields_sort_and_pages(demo: Net) -> None:
    tag = uuid.uuid4().hex[:8]
    made = []
    for i in range(5):
        net = await demo.network(name=f"page-{tag}-{i}", admin_state_up=i % 2 == 0)
        await demo.put(f"/networks/{net['id']}/tags", {"tags": [tag, f"n{i}"]})
        made.append(net)
    got = (await demo.get(f"/networks?tags={tag}&admin_state_up=false"))["networks"]
    assert sorted(n["name"] for n in got) == [f"page-{tag}-1", f"page-{tag}-3"]
    got = (await demo.get(f"/networks?tags={tag},n0"))["networks"]
    assert [n["name"] for n in got] == [f"page-{tag}-0"]
    got = (await demo.get(f"/networks?tags-any=n1,n2&tags={tag}"))["networks"]
    assert len(got) == 2
    got = (await demo.get(f"/networks?tags={tag}&not-tags=n1"))["networks"]
    assert len(got) == 4
    got = (await demo.get(f"/networks?name=page-{tag}-1&name=page-{tag}-2&fields=id&fields=name"
                          ))["networks"]
    assert all(set(n) == {"id", "name"} for n in got) and len(got) == 2
    got = (await demo.get(f"/networks?tags={tag}&sort_key=name&sort_dir=desc"))["networks"]
    assert [n["name"] for n in got] == [f"page-{tag}-{i}" for i in range(4, -1, -1)]
    page = await demo.get(f"/networks?tags={tag}&sort_key=name&sort_dir=asc&limit=2")
    assert [n["name"] for n in page["networks"]] == [f"page-{tag}-0", f"page-{tag}-1"]
    nxt = next(link for link in page["networks_links"] if link["rel"] == "next")
    r = await demo.client.get(nxt["href"], headers=demo.headers)
    assert [n["name"] for n in r.json()["networks"]] == [f"page-{tag}-2", f"page-{tag}-3"]
    await demo.error("GET", "/networks?sort_key=bogus", 400)
    await demo.error("GET", "/networks?limit=-1", 400)
    await demo.error("GET", "/networks?admin_state_up=perhaps", 400)
    await demo.error("GET", f"/networks?marker={uuid.uuid4()}&limit=1", 404)
    net = made[0]
    assert (await demo.get(f"/networks/{net['id']}/tags"))["tags"] == sorted([tag, "n0"])
    await demo.req("PUT", f"/networks/{net['id']}/tags/extra", 201)
    await demo.req("GET", f"/networks/{net['id']}/tags/extra", 204)
    await demo.req("DELETE", f"/networks/{net['id']}/tags/extra", 204)
    await demo.error("GET", f"/networks/{net['id']}/tags/extra", 404, kind="TagNotFound")
    await demo.req("DELETE", f"/networks/{net['id']}/tags", 204)
    assert (await demo.get(f"/networks/{net['id']}"))["network"]["tags"] == []
    await demo.error("PUT", f"/networks/{net['id']}/tags", 400, {"tags": ["x" * 300]})
    await demo.error("PUT", f"/bogus/{net['id']}/tags", 404, {"tags": []})
    for net in made:
        await demo.delete(f"/networks/{net['id']}")


async def test_network_in_use(demo: Net) -> None:
    net = await demo.network()
    await demo.subnet(net["id"], "10.61.0.0/24")
    port = await demo.port(net["id"])
    await demo.error("DELETE", f"/networks/{net['id']}", 409, kind="NetworkInUse")
    await demo.delete(f"/ports/{port['id']}")
    await demo.delete(f"/networks/{net['id']}")
    assert not (await demo.get(f"/subnets?network_id={net['id']}"))["subnets"]


async def test_admin_creates_for_another_project(admin: Net, demo: Net) -> None:
    demo_project = await project_id(demo)
    net = await admin.network(project_id=demo_project)
    assert net["project_id"] == demo_project == net["tenant_id"]
    assert (await demo.get(f"/networks/{net['id']}"))["network"]["id"] == net["id"]
    await demo.error("POST", "/networks", 400, {"network": {"project_id": "someone-else"}})
    await demo.error("POST", "/networks", 400, {"network": {"project_id": demo_project,
                                                             "tenant_id": "other"}})
    await demo.delete(f"/networks/{net['id']}")


async def test_bulk_create(demo: Net) -> None:
    body = {"networks": [{"name": "bulk-a"}, {"name": "bulk-b"}]}
    made = (await demo.post("/networks", body))["networks"]
    assert [n["name"] for n in made] == ["bulk-a", "bulk-b"]
    for net in made:
        await demo.delete(f"/networks/{net['id']}")
