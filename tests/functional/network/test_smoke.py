"""A first walk through the core: a network, a subnet, a port."""

from __future__ import annotations

from tests.functional.network.conftest import Net, project_id


async def test_network_subnet_port(demo: Net) -> None:
    net = await demo.network()
    assert "provider:network_type" not in net and net["mtu"] == 1450
    sub = await demo.subnet(net["id"], "10.50.0.0/24")
    assert sub["gateway_ip"] == "10.50.0.1"
    port = await demo.port(net["id"])
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    assert port["security_groups"]
    await demo.delete(f"/ports/{port['id']}")
    await demo.delete(f"/networks/{net['id']}")


async def test_default_topology(admin: Net, demo: Net) -> None:
    nets = (await admin.get("/networks?name=public"))["networks"]
    assert len(nets) == 1 and nets[0]["router:external"] and nets[0]["is_default"]
    assert nets[0]["provider:network_type"] == "flat"
    assert nets[0]["provider:physical_network"] == "public"
    subnets = (await admin.get(f"/subnets?network_id={nets[0]['id']}"))["subnets"]
    assert sorted(s["cidr"] for s in subnets) == ["172.24.4.0/24", "2001:db8::/64"]
    pools = (await demo.get("/subnetpools?name=shared-default-subnetpool-v4"))["subnetpools"]
    assert len(pools) == 1 and pools[0]["shared"] and pools[0]["is_default"]
    private = (await demo.get("/networks?name=private"))["networks"]
    assert len(private) == 1
    assert "provider:network_type" not in private[0]
    routers = (await demo.get("/routers?name=router1"))["routers"]
    assert routers[0]["external_gateway_info"]["network_id"] == nets[0]["id"]
    ports = (await demo.get(f"/ports?device_id={routers[0]['id']}"))["ports"]
    assert [p["device_owner"] for p in ports] == ["network:router_interface"]


async def test_bootstrap_resumes_without_duplicates(cloud, admin: Net) -> None:
    """A start after one that died mid-way (its claim stale) finishes, making nothing twice."""
    from sqlalchemy import update

    from onestack.network import bootstrap
    from onestack.network.models import Meta
    from onestack.network.service import NetworkService

    mgr = next(s for s in cloud.services if isinstance(s, NetworkService)).manager
    async with mgr.write() as session:
        await session.execute(update(Meta).where(Meta.key == bootstrap.KEY).values(
            value="in-progress:2000-01-01T00:00:00"))
    await bootstrap.first_start(mgr)
    for path, key in (("/networks?name=public", "networks"),
                      ("/networks?name=private", "networks"),
                      ("/routers?name=router1", "routers"),
                      ("/subnetpools?name=shared-default-subnetpool-v4", "subnetpools")):
        assert len((await admin.get(path))[key]) == 1, path
    async with mgr.read() as session:
        from sqlalchemy import select

        assert (await session.execute(select(Meta.value).where(
            Meta.key == bootstrap.KEY))).scalar() == "done"


async def test_bootstrap_finds_projects_as_the_service_user(cloud, admin: Net, demo: Net) -> None:
    """The bootstrap learns the admin and demo project ids with the service user's token:
    the admin password (file or setting) is not needed, so a Networking server alone works."""
    from onestack.network import bootstrap
    from onestack.network.service import NetworkService

    mgr = next(s for s in cloud.services if isinstance(s, NetworkService)).manager
    kept = mgr.settings.data_dir / "admin-password"
    hidden = kept.with_name("admin-password.hidden")
    kept.rename(hidden)
    saved = mgr.settings.admin_password
    object.__setattr__(mgr.settings, "admin_password", None)
    try:
        projects = await bootstrap._projects(mgr)
    finally:
        hidden.rename(kept)
        object.__setattr__(mgr.settings, "admin_password", saved)
    assert projects == {"admin": await project_id(admin), "demo": await project_id(demo)}
