"""Types with extra specs and private access, QoS specs, quotas and limits, availability
zones, services, pools and capabilities; policy (admin only where Cinder says)."""

from __future__ import annotations

import httpx

from tests.functional.volume.conftest import create_volume, mv, project_of, wait_for, wait_gone


async def test_default_type_and_type_management(client: httpx.AsyncClient, admin_api: str,
                                                demo_api: str, admin_headers: dict[str, str],
                                                demo_headers: dict[str, str]) -> None:
    r = await client.get(f"{demo_api}/types/default", headers=demo_headers)
    assert r.status_code == 200 and r.json()["volume_type"]["name"] == "__DEFAULT__"
    r = await client.post(f"{demo_api}/types", headers=demo_headers,
                          json={"volume_type": {"name": "nope"}})
    assert r.status_code == 403 and "forbidden" in r.json()
    r = await client.post(f"{admin_api}/types", headers=admin_headers, json={"volume_type": {
        "name": "gold", "extra_specs": {"volume_backend_name": "file", "tier": "1"}}})
    assert r.status_code == 200, r.text
    gold = r.json()["volume_type"]
    assert gold["extra_specs"] == {"volume_backend_name": "file", "tier": "1"}
    r = await client.post(f"{admin_api}/types", headers=admin_headers,
                          json={"volume_type": {"name": "gold"}})
    assert r.status_code == 409
    r = await client.post(f"{admin_api}/types/{gold['id']}/extra_specs", headers=admin_headers,
                          json={"extra_specs": {"multiattach": "<is> True"}})
    assert r.status_code == 200
    r = await client.get(f"{demo_api}/types/{gold['id']}/extra_specs", headers=demo_headers)
    assert r.json()["extra_specs"] == {"multiattach": "<is> True"}  # users see what they may
    # a volume of that type lands on the backend it names, and the type is then in use
    vol = await create_volume(client, demo_api, demo_headers, volume_type="gold")
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "available")
    assert vol["volume_type"] == "gold" and vol["multiattach"] is False
    r = await client.delete(f"{admin_api}/types/{gold['id']}", headers=admin_headers)
    assert r.status_code == 400
    await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    await wait_gone(client, demo_api, demo_headers, "volumes", vol["id"])
    r = await client.delete(f"{admin_api}/types/{gold['id']}", headers=admin_headers)
    assert r.status_code == 202
    r = await client.get(f"{admin_api}/types", headers=admin_headers)
    default = next(t for t in r.json()["volume_types"] if t["name"] == "__DEFAULT__")
    r = await client.delete(f"{admin_api}/types/{default['id']}", headers=admin_headers)
    assert r.status_code == 400


async def test_unplaceable_type_ends_in_error(client: httpx.AsyncClient, admin_api: str,
                                              demo_api: str, admin_headers: dict[str, str],
                                              demo_headers: dict[str, str]) -> None:
    r = await client.post(f"{admin_api}/types", headers=admin_headers, json={"volume_type": {
        "name": "nowhere", "extra_specs": {"volume_backend_name": "absent"}}})
    vol = await create_volume(client, demo_api, demo_headers, volume_type="nowhere")
    vol = await wait_for(client, demo_api, demo_headers, "volumes", vol["id"], "error")
    r = await client.delete(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.status_code == 202
    await wait_gone(client, demo_api, demo_headers, "volumes", vol["id"])


async def test_private_type_access(client: httpx.AsyncClient, admin_api: str, demo_api: str,
                                   admin_headers: dict[str, str],
                                   demo_headers: dict[str, str]) -> None:
    r = await client.post(f"{admin_api}/types", headers=admin_headers, json={"volume_type": {
        "name": "secret", "os-volume-type-access:is_public": False}})
    secret = r.json()["volume_type"]
    r = await client.get(f"{demo_api}/types", headers=demo_headers)
    assert "secret" not in {t["name"] for t in r.json()["volume_types"]}
    body = await create_volume(client, demo_api, demo_headers, expect=404, volume_type="secret")
    assert "itemNotFound" in body
    demo_project = demo_api.rsplit("/", 1)[-1]
    r = await client.post(f"{admin_api}/types/{secret['id']}/action", headers=admin_headers,
                          json={"addProjectAccess": {"project": demo_project}})
    assert r.status_code == 202
    r = await client.get(f"{admin_api}/types/{secret['id']}/os-volume-type-access",
                         headers=admin_headers)
    assert r.json()["volume_type_access"] == [
        {"volume_type_id": secret["id"], "project_id": demo_project}]
    r = await client.get(f"{demo_api}/types/secret", headers=demo_headers)
    assert r.status_code == 200


async def test_qos_specs(client: httpx.AsyncClient, admin_api: str,
                         admin_headers: dict[str, str]) -> None:
    r = await client.post(f"{admin_api}/qos-specs", headers=admin_headers,
                          json={"qos_specs": {"name": "fast", "consumer": "front-end",
                                              "total_iops_sec": "1000"}})
    assert r.status_code == 200, r.text
    qos = r.json()["qos_specs"]
    assert qos["specs"] == {"total_iops_sec": "1000"} and qos["consumer"] == "front-end"
    r = await client.post(f"{admin_api}/types", headers=admin_headers,
                          json={"volume_type": {"name": "qos-typed"}})
    type_id = r.json()["volume_type"]["id"]
    r = await client.get(f"{admin_api}/qos-specs/{qos['id']}/associate", headers=admin_headers,
                         params={"vol_type_id": type_id})
    assert r.status_code == 202
    r = await client.get(f"{admin_api}/qos-specs/{qos['id']}/associations", headers=admin_headers)
    assert r.json()["qos_associations"] == [
        {"association_type": "volume_type", "name": "qos-typed", "id": type_id}]
    r = await client.delete(f"{admin_api}/qos-specs/{qos['id']}", headers=admin_headers)
    assert r.status_code == 400  # still associated
    r = await client.put(f"{admin_api}/qos-specs/{qos['id']}", headers=admin_headers,
                         json={"qos_specs": {"read_bytes_sec": "1048576"}})
    assert r.json()["qos_specs"] == {"read_bytes_sec": "1048576"}
    r = await client.get(f"{admin_api}/qos-specs/{qos['id']}/disassociate_all",
                         headers=admin_headers)
    r = await client.delete(f"{admin_api}/qos-specs/{qos['id']}", headers=admin_headers)
    assert r.status_code == 202


async def test_quotas_refuse_over_the_limit(client: httpx.AsyncClient, admin_api: str,
                                            admin_headers: dict[str, str], cloud) -> None:
    from tests.conftest import issue, make_user, password_auth

    await make_user(cloud, "quota-user", "pw-quota-1", project="demo")
    headers = {"X-Auth-Token": await issue(client, password_auth("quota-user", "pw-quota-1",
                                                                  project="demo"))}
    project = await project_of(client, headers)
    api = f"/volume/v3/{project}"
    r = await client.put(f"{admin_api}/os-quota-sets/{project}", headers=admin_headers,
                         json={"quota_set": {"gigabytes": 3}})
    assert r.status_code == 200 and r.json()["quota_set"]["gigabytes"] == 3
    try:
        r = await client.get(f"{api}/limits", headers=headers)
        absolute = r.json()["limits"]["absolute"]
        assert absolute["maxTotalVolumeGigabytes"] == 3
        body = await create_volume(client, api, headers, expect=413, size=4)
        assert body["overLimit"]["code"] == 413 and "gigabytes" in body["overLimit"]["message"]
        r = await client.get(f"{admin_api}/os-quota-sets/{project}", headers=admin_headers,
                             params={"usage": "true"})
        assert r.json()["quota_set"]["gigabytes"]["limit"] == 3
        r = await client.put(f"{api}/os-quota-sets/{project}", headers=headers,
                             json={"quota_set": {"gigabytes": 100}})
        assert r.status_code == 403
        r = await client.put(f"{admin_api}/os-quota-sets/{project}", headers=admin_headers,
                             json={"quota_set": {"bogus": 1}})
        assert r.status_code == 400
    finally:
        await client.delete(f"{admin_api}/os-quota-sets/{project}", headers=admin_headers)


async def test_zones_services_pools(client: httpx.AsyncClient, admin_api: str, demo_api: str,
                                    admin_headers: dict[str, str],
                                    demo_headers: dict[str, str]) -> None:
    r = await client.get(f"{demo_api}/os-availability-zone", headers=demo_headers)
    assert r.json()["availabilityZoneInfo"] == [{"zoneName": "nova",
                                                 "zoneState": {"available": True}}]
    r = await client.get(f"{demo_api}/os-services", headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{admin_api}/os-services", headers=mv(admin_headers))
    binaries = {s["binary"]: s for s in r.json()["services"]}
    assert set(binaries) == {"cinder-scheduler", "cinder-volume", "cinder-backup"}
    assert all(s["state"] == "up" and s["status"] == "enabled" for s in binaries.values())
    host = binaries["cinder-volume"]["host"]
    assert host.endswith("@file")
    r = await client.get(f"{admin_api}/scheduler-stats/get_pools", headers=admin_headers,
                         params={"detail": "true"})
    (pool,) = r.json()["pools"]
    assert pool["name"] == f"{host}#file"
    caps = pool["capabilities"]
    assert caps["total_capacity_gb"] >= caps["free_capacity_gb"] > 0
    assert caps["thin_provisioning_support"] is True and caps["volume_backend_name"] == "file"
    r = await client.get(f"{admin_api}/capabilities/{host}", headers=admin_headers)
    assert r.json()["volume_backend_name"] == "file" and r.json()["storage_protocol"] == "file"


async def test_tenancy(client: httpx.AsyncClient, admin_api: str, demo_api: str,
                       admin_headers: dict[str, str], demo_headers: dict[str, str]) -> None:
    vol = await create_volume(client, admin_api, admin_headers, name="admins-own")
    r = await client.get(f"{demo_api}/volumes/{vol['id']}", headers=demo_headers)
    assert r.status_code == 404
    r = await client.get(f"{demo_api}/volumes/detail", headers=demo_headers,
                         params={"all_tenants": "1"})
    assert vol["id"] not in {v["id"] for v in r.json()["volumes"]}
    r = await client.get(f"{admin_api}/volumes/detail", headers=mv(admin_headers),
                         params={"all_tenants": "1"})
    found = {v["id"]: v for v in r.json()["volumes"]}
    assert vol["id"] in found and "os-vol-host-attr:host" in found[vol["id"]]
    # another project's id in the URL
    r = await client.get(f"{admin_api}/volumes", headers=demo_headers)
    assert r.status_code == 400
    r = await client.post(f"{demo_api}/volumes/{vol['id']}/action", headers=demo_headers,
                          json={"os-reset_status": {"status": "error"}})
    assert r.status_code == 404
    await wait_for(client, admin_api, admin_headers, "volumes", vol["id"], "available")
    r = await client.post(f"{admin_api}/volumes/{vol['id']}/action", headers=admin_headers,
                          json={"os-reset_status": {"status": "error"}})
    assert r.status_code == 202
    r = await client.post(f"{admin_api}/volumes/{vol['id']}/action", headers=admin_headers,
                          json={"os-force_delete": {}})
    assert r.status_code == 202
    await wait_gone(client, admin_api, admin_headers, "volumes", vol["id"])
    r = await client.get("/volume/v3/volumes", headers=mv(demo_headers))  # 3.67: no project
    assert r.status_code == 200
