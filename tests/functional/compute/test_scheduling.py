"""Scheduling among several fake hosts: groups, zones, aggregates with extra specs, hints,
a full cloud, and a failing host rescheduled to an alternate."""

from __future__ import annotations

import httpx
import pytest

from onestack.compute.manager import ComputeAgent
from onestack.compute.virt.fake import FakeDriver
from tests.functional.compute.conftest import API, boot, mv, wait_for, wait_gone

HOSTS = ("sched-a", "sched-b", "sched-c")


@pytest.fixture(scope="module")
async def hosts(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]):
    """Three more hosts; the in-process default host is disabled meanwhile, so every boot
    lands on one of these."""
    drivers = {h: FakeDriver(h, vcpus=4, memory_mb=2048, local_gb=20) for h in HOSTS}
    agent = ComputeAgent(cloud.platform, drivers=drivers)
    await agent.start()
    default = cloud.platform.host
    services = (await client.get(f"{API}/os-services", headers=mv(admin_headers))).json()
    ids = {s["host"]: s["id"] for s in services["services"] if s["binary"] == "nova-compute"}
    await client.put(
        f"{API}/os-services/{ids[default]}",
        headers=mv(admin_headers),
        json={"status": "disabled", "disabled_reason": "scheduling tests"},
    )
    yield agent, ids
    for host in HOSTS:
        await client.put(
            f"{API}/os-services/{ids[host]}",
            headers=mv(admin_headers),
            json={"status": "disabled", "disabled_reason": "tests done"},
        )
    await client.put(
        f"{API}/os-services/{ids[default]}", headers=mv(admin_headers), json={"status": "enabled"}
    )
    await agent.stop()


async def _boot_many(client, headers, image, n, **kw):
    ids = []
    for i in range(n):
        created = await boot(client, headers, image, name=f"s{i}", **kw)
        ids.append(created["server"]["id"])
    return [await wait_for(client, headers, sid, kw.get("_status", "ACTIVE")) for sid in ids]


async def _cleanup(client, headers, servers):
    for s in servers:
        await client.delete(f"{API}/servers/{s['id']}", headers=headers)
    for s in servers:
        await wait_gone(client, headers, s["id"])


async def _group(client, headers, policy, rules=None):
    body = {"name": policy, "policy": policy}
    if rules:
        body["rules"] = rules
    r = await client.post(
        f"{API}/os-server-groups", headers=mv(headers), json={"server_group": body}
    )
    assert r.status_code == 200, r.text
    return r.json()["server_group"]["id"]


async def test_anti_affinity_and_affinity(
    hosts, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    anti = await _group(client, admin_headers, "anti-affinity")
    servers = await _boot_many(client, admin_headers, image_id, 3, hints={"group": anti})
    assert sorted(s["OS-EXT-SRV-ATTR:host"] for s in servers) == list(HOSTS)
    created = await boot(client, admin_headers, image_id, hints={"group": anti})
    full = await wait_for(client, admin_headers, created["server"]["id"], "ERROR")
    assert "No valid host was found" in full["fault"]["message"]
    await _cleanup(client, admin_headers, [*servers, full["id"] and {"id": full["id"]}])
    near = await _group(client, admin_headers, "affinity")
    servers = await _boot_many(client, admin_headers, image_id, 3, hints={"group": near})
    assert len({s["OS-EXT-SRV-ATTR:host"] for s in servers}) == 1
    r = await client.get(f"{API}/os-server-groups/{near}", headers=mv(admin_headers))
    assert sorted(r.json()["server_group"]["members"]) == sorted(s["id"] for s in servers)
    await _cleanup(client, admin_headers, servers)
    rules = await _group(client, admin_headers, "anti-affinity", {"max_server_per_host": 2})
    servers = await _boot_many(client, admin_headers, image_id, 6, hints={"group": rules})
    per_host = {h: sum(s["OS-EXT-SRV-ATTR:host"] == h for s in servers) for h in HOSTS}
    assert set(per_host.values()) == {2}
    await _cleanup(client, admin_headers, servers)


async def test_hints_and_forced_host(
    hosts, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    first = (
        await _boot_many(client, admin_headers, image_id, 1, availability_zone="nova:sched-b")
    )[0]
    assert first["OS-EXT-SRV-ATTR:host"] == "sched-b"
    same = (await _boot_many(client, admin_headers, image_id, 1, hints={"same_host": first["id"]}))[
        0
    ]
    assert same["OS-EXT-SRV-ATTR:host"] == "sched-b"
    other = (
        await _boot_many(
            client, admin_headers, image_id, 1, hints={"different_host": [first["id"]]}
        )
    )[0]
    assert other["OS-EXT-SRV-ATTR:host"] != "sched-b"
    requested = await boot(client, admin_headers, image_id, host="sched-a", version="2.74")
    requested = await wait_for(client, admin_headers, requested["server"]["id"], "ACTIVE")
    assert requested["OS-EXT-SRV-ATTR:host"] == "sched-a"
    await boot(client, admin_headers, image_id, host="sched-a", version="2.73", expect=400)
    await boot(client, admin_headers, image_id, host="nowhere", version="2.74", expect=400)
    await _cleanup(client, admin_headers, [first, same, other, requested])


async def test_zones_and_aggregate_extra_specs(
    hosts, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    h = mv(admin_headers)
    r = await client.post(
        f"{API}/os-aggregates",
        headers=h,
        json={"aggregate": {"name": "ssd", "availability_zone": "fast"}},
    )
    agg = r.json()["aggregate"]["id"]
    await client.post(
        f"{API}/os-aggregates/{agg}/action", headers=h, json={"add_host": {"host": "sched-c"}}
    )
    await client.post(
        f"{API}/os-aggregates/{agg}/action",
        headers=h,
        json={"set_metadata": {"metadata": {"ssd": "true"}}},
    )
    r = await client.get(f"{API}/os-availability-zone", headers=h)
    assert "fast" in [z["zoneName"] for z in r.json()["availabilityZoneInfo"]]
    in_zone = (await _boot_many(client, admin_headers, image_id, 1, availability_zone="fast"))[0]
    assert in_zone["OS-EXT-SRV-ATTR:host"] == "sched-c"
    assert in_zone["OS-EXT-AZ:availability_zone"] == "fast"
    r = await client.post(
        f"{API}/flavors",
        headers=h,
        json={"flavor": {"name": "ssd-only", "ram": 64, "vcpus": 1, "disk": 1}},
    )
    flavor = r.json()["flavor"]["id"]
    await client.post(
        f"{API}/flavors/{flavor}/os-extra_specs",
        headers=h,
        json={"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}},
    )
    on_ssd = await _boot_many(client, admin_headers, image_id, 2, flavor=flavor)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in on_ssd} == {"sched-c"}
    await _cleanup(client, admin_headers, [in_zone, *on_ssd])
    await client.post(
        f"{API}/os-aggregates/{agg}/action", headers=h, json={"remove_host": {"host": "sched-c"}}
    )
    r = await client.delete(f"{API}/os-aggregates/{agg}", headers=h)
    assert r.status_code == 200
    await client.delete(f"{API}/flavors/{flavor}", headers=h)


async def test_failing_host_is_rescheduled(
    hosts, cloud, client: httpx.AsyncClient, admin_headers: dict[str, str], image_id: str
) -> None:
    agent, _ids = hosts
    # the next two builds fail on whichever hosts the scheduler tries first: the third
    # attempt goes to the alternate not tried yet and builds the server
    from onestack.compute.virt.driver import VirtError

    budget = {"failures": 2}
    tried: list[str] = []
    for name in ("sched-a", "sched-b", "sched-c"):
        driver = agent.drivers[name]

        async def spawn(guest, _real=driver.spawn, _name=name):  # type: ignore[no-untyped-def]
            tried.append(_name)
            if budget["failures"] > 0:
                budget["failures"] -= 1
                raise VirtError(f"{_name} fails this build (test)")
            await _real(guest)

        driver.spawn = spawn  # type: ignore[method-assign]
    try:
        server = (await _boot_many(client, admin_headers, image_id, 1))[0]
        for name in ("sched-a", "sched-b", "sched-c"):
            del agent.drivers[name].spawn  # the class's own again
        r = await client.get(
            f"{API}/servers/{server['id']}/os-instance-actions/"
            f"{(await _req(client, admin_headers, server['id']))}",
            headers=mv(admin_headers),
        )
        events = r.json()["instanceAction"]["events"]
        assert [e["result"] for e in events].count("Error") == 2, events
        assert len(tried) == 3 and len(set(tried)) == 3, tried  # never the same host twice
        assert server["OS-EXT-SRV-ATTR:host"] == tried[-1]
        for name in ("sched-a", "sched-b"):
            agent.drivers[name].fail_spawn = True  # type: ignore[attr-defined]
        agent.drivers["sched-c"].fail_spawn = True  # type: ignore[attr-defined]
        created = await boot(client, admin_headers, image_id)
        failed = await wait_for(client, admin_headers, created["server"]["id"], "ERROR")
        assert "Exceeded max scheduling attempts 3" in failed["fault"]["message"]
    finally:
        for driver in agent.drivers.values():
            driver.fail_spawn = False  # type: ignore[attr-defined]
            vars(driver).pop("spawn", None)
    await _cleanup(client, admin_headers, [server, failed])
    placement = cloud.platform.clients.for_service("placement", user="nova")
    r = await placement.get(f"/allocations/{failed['id']}")
    assert r.json()["allocations"] == {}


async def _req(client, headers, sid):
    r = await client.get(f"{API}/servers/{sid}/os-instance-actions", headers=headers)
    return r.json()["instanceActions"][-1]["request_id"]


async def test_quota_limits_boots(
    hosts,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
    image_id: str,
) -> None:
    r = await client.get(f"{API}/os-quota-sets/demo", headers=demo_headers)
    demo_project = (
        await client.get(
            "/identity/v3/auth/tokens",
            headers={**admin_headers, "X-Subject-Token": demo_headers["X-Auth-Token"]},
        )
    ).json()["token"]["project"]["id"]
    r = await client.put(
        f"{API}/os-quota-sets/{demo_project}",
        headers=mv(admin_headers),
        json={"quota_set": {"instances": 2, "cores": 100}},
    )
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 2
    try:
        r = await client.post(
            f"{API}/servers",
            headers=mv(demo_headers),
            json={
                "server": {
                    "name": "q",
                    "imageRef": image_id,
                    "flavorRef": "42",
                    "networks": "none",
                    "min_count": 3,
                }
            },
        )
        assert r.status_code == 403 and "forbidden" in r.json(), r.text
        r = await client.post(
            f"{API}/servers",
            headers=mv(demo_headers),
            json={
                "server": {
                    "name": "q",
                    "imageRef": image_id,
                    "flavorRef": "42",
                    "networks": "none",
                    "min_count": 1,
                    "max_count": 5,
                }
            },
        )
        assert r.status_code == 202
        r = await client.get(f"{API}/servers?name=^q-", headers=demo_headers)
        names = sorted(s["name"] for s in r.json()["servers"])
        assert names == ["q-1", "q-2"]
        servers = [
            await wait_for(client, demo_headers, s["id"], "ACTIVE") for s in r.json()["servers"]
        ]
        r = await client.get(f"{API}/limits", headers=demo_headers)
        assert r.json()["limits"]["absolute"]["totalInstancesUsed"] == 2
        await boot(client, demo_headers, image_id, expect=403)
        await _cleanup(client, demo_headers, servers)
    finally:
        await client.delete(f"{API}/os-quota-sets/{demo_project}", headers=admin_headers)


async def test_unified_limits(hosts, cloud, client: httpx.AsyncClient,
                              admin_headers: dict[str, str], demo_headers: dict[str, str],
                              image_id: str) -> None:
    """With ``quota_driver = "unified"`` Keystone's ``servers`` limit wins over the default."""
    from onestack.compute.core import SharedCore
    from onestack.compute.quotas import UnifiedOrConfigured, _unified

    core = SharedCore.get(cloud.platform)
    r = await client.get("/identity/v3/services?type=compute", headers=admin_headers)
    service_id = r.json()["services"][0]["id"]
    r = await client.post("/identity/v3/registered_limits", headers=admin_headers, json={
        "registered_limits": [{"service_id": service_id, "resource_name": "servers",
                               "default_limit": 1}]})
    assert r.status_code == 201, r.text
    limit_id = r.json()["registered_limits"][0]["id"]
    before = (core.quotas.limits, core.quotas.enforcer.source)
    unified = UnifiedOrConfigured(_unified(core), core.quotas.limits)  # type: ignore[arg-type]
    core.quotas.limits = unified
    core.quotas.enforcer.source = unified
    try:
        first = await boot(client, demo_headers, image_id, name="u1")
        await boot(client, demo_headers, image_id, name="u2", expect=403)
        r = await client.get(f"{API}/limits", headers=demo_headers)
        assert r.json()["limits"]["absolute"]["maxTotalInstances"] == 1
        await wait_for(client, demo_headers, first["server"]["id"], "ACTIVE")
        await _cleanup(client, demo_headers, [first["server"]])
    finally:
        core.quotas.limits, core.quotas.enforcer.source = before
        await client.delete(f"/identity/v3/registered_limits/{limit_id}", headers=admin_headers)
