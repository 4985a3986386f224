"""Flavors, keypairs, server update / metadata / tags / filters, hypervisors, zones, limits,
usage, external events and the image proxy, each with its microversion differences."""

from __future__ import annotations

import base64
import hashlib

import httpx

from tests.functional.compute.conftest import API, boot, mv, show, wait_for, wait_gone

SSH_ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDqUAvSBg7bxO3Mn3XgL7KlWUyxTt03Ai7Ml0cuVNpAQ"
               " test@example")


async def test_devstack_flavors(client: httpx.AsyncClient, demo_headers: dict[str, str]) -> None:
    r = await client.get(f"{API}/flavors/detail", headers=mv(demo_headers))
    by_name = {f["name"]: f for f in r.json()["flavors"]}
    assert by_name["m1.tiny"]["id"] == "1" and by_name["m1.tiny"]["ram"] == 512
    assert by_name["m1.nano"]["id"] == "42" and by_name["m1.micro"]["id"] == "84"
    assert {"ds512M", "ds1G", "ds2G", "ds4G", "m1.xlarge"} <= set(by_name)
    assert by_name["m1.tiny"]["extra_specs"] == {"hw_rng:allowed": "True"}
    assert "description" in by_name["m1.tiny"]
    r = await client.get(f"{API}/flavors/1", headers=mv(demo_headers, "2.54"))
    assert "description" not in r.json()["flavor"] and "extra_specs" not in r.json()["flavor"]
    r = await client.get(f"{API}/flavors?minRam=4096", headers=demo_headers)
    assert {f["name"] for f in r.json()["flavors"]} >= {"m1.medium", "m1.large"}
    assert "m1.tiny" not in {f["name"] for f in r.json()["flavors"]}


async def test_private_flavor_access(client: httpx.AsyncClient, admin_headers: dict[str, str],
                                     demo_headers: dict[str, str]) -> None:
    h = mv(admin_headers)
    r = await client.post(f"{API}/flavors", headers=h, json={"flavor": {
        "name": "secret", "ram": 64, "vcpus": 1, "disk": 1, "id": "secret-1",
        "os-flavor-access:is_public": False, "description": "hidden"}})
    assert r.status_code == 200 and r.json()["flavor"]["description"] == "hidden"
    r = await client.get(f"{API}/flavors/secret-1", headers=demo_headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/flavors", headers=h, json={"flavor": {
        "name": "secret", "ram": 64, "vcpus": 1, "disk": 1}})
    assert r.status_code == 409
    demo_project = (await client.get("/identity/v3/auth/tokens", headers={
        **admin_headers, "X-Subject-Token": demo_headers["X-Auth-Token"]})).json()[
        "token"]["project"]["id"]
    r = await client.post(f"{API}/flavors/secret-1/action", headers=h,
                          json={"addTenantAccess": {"tenant": demo_project}})
    assert r.json()["flavor_access"] == [{"flavor_id": "secret-1", "tenant_id": demo_project}]
    r = await client.get(f"{API}/flavors/secret-1", headers=demo_headers)
    assert r.status_code == 200
    r = await client.put(f"{API}/flavors/secret-1", headers=h,
                         json={"flavor": {"description": "now known"}})
    assert r.json()["flavor"]["description"] == "now known"
    r = await client.put(f"{API}/flavors/secret-1/os-extra_specs/hw:cpu_policy", headers=h,
                         json={"hw:cpu_policy": "shared"})
    assert r.json() == {"hw:cpu_policy": "shared"}
    r = await client.delete(f"{API}/flavors/secret-1", headers=demo_headers)
    assert r.status_code == 403
    r = await client.delete(f"{API}/flavors/secret-1", headers=h)
    assert r.status_code == 202
    for bad in ({"name": "b", "ram": 0, "vcpus": 1, "disk": 1},
                {"name": "b", "ram": "x", "vcpus": 1, "disk": 1},
                {"name": "b", "ram": 1, "vcpus": 1},
                {"name": "", "ram": 1, "vcpus": 1, "disk": 1}):
        r = await client.post(f"{API}/flavors", headers=h, json={"flavor": bad})
        assert r.status_code == 400, bad


async def test_keypair_import_and_fingerprints(client: httpx.AsyncClient,
                                               demo_headers: dict[str, str]) -> None:
    h = mv(demo_headers, "2.2")
    r = await client.post(f"{API}/os-keypairs", headers=h, json={"keypair": {
        "name": "ed", "public_key": SSH_ED25519}})
    assert r.status_code == 201, r.text
    blob = base64.b64decode(SSH_ED25519.split()[1])
    expected = ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    assert r.json()["keypair"]["fingerprint"] == expected
    assert "private_key" not in r.json()["keypair"] and r.json()["keypair"]["type"] == "ssh"
    r = await client.post(f"{API}/os-keypairs", headers=h, json={"keypair": {
        "name": "ed", "public_key": SSH_ED25519}})
    assert r.status_code == 409
    r = await client.post(f"{API}/os-keypairs", headers=h, json={"keypair": {
        "name": "bad", "public_key": "ssh-rsa not-a-key"}})
    assert r.status_code == 400
    r = await client.post(f"{API}/os-keypairs", headers=h, json={"keypair": {
        "name": "x509", "type": "x509"}})
    assert r.status_code == 201
    cert = r.json()["keypair"]["public_key"]
    assert cert.startswith("-----BEGIN CERTIFICATE-----") and r.json()["keypair"]["private_key"]
    r = await client.post(f"{API}/os-keypairs", headers=mv(demo_headers, "2.92"),
                          json={"keypair": {"name": "gen"}})
    assert r.status_code == 400  # no generation from 2.92
    r = await client.get(f"{API}/os-keypairs?limit=1", headers=mv(demo_headers, "2.35"))
    assert len(r.json()["keypairs"]) == 1 and r.json()["keypairs_links"]
    r = await client.get(f"{API}/os-keypairs/ed", headers=h)
    assert r.json()["keypair"]["user_id"]
    for name in ("ed", "x509"):
        r = await client.delete(f"{API}/os-keypairs/{name}", headers=h)
        assert r.status_code == 204
    r = await client.post(f"{API}/os-keypairs", headers=h, json={"keypair": {"name": "bad/"}})
    assert r.status_code == 400


async def test_server_update_metadata_tags_filters(client: httpx.AsyncClient,
                                                    demo_headers: dict[str, str],
                                                    image_id: str) -> None:
    h = mv(demo_headers)
    created = await boot(client, demo_headers, image_id, name="meta", metadata={"a": "1"},
                         tags=["blue"], description="first")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    r = await client.put(f"{API}/servers/{sid}", headers=h,
                         json={"server": {"name": "renamed", "description": "second"}})
    assert r.json()["server"]["name"] == "renamed"
    assert r.json()["server"]["description"] == "second"
    r = await client.put(f"{API}/servers/{sid}", headers=h, json={"server": {"flavor": "1"}})
    assert r.status_code == 400
    r = await client.post(f"{API}/servers/{sid}/metadata", headers=h,
                          json={"metadata": {"b": "2"}})
    assert r.json()["metadata"] == {"a": "1", "b": "2"}
    r = await client.put(f"{API}/servers/{sid}/metadata/c", headers=h, json={"meta": {"c": "3"}})
    assert r.json() == {"meta": {"c": "3"}}
    r = await client.delete(f"{API}/servers/{sid}/metadata/a", headers=h)
    assert r.status_code == 204
    r = await client.get(f"{API}/servers/{sid}/metadata", headers=h)
    assert r.json()["metadata"] == {"b": "2", "c": "3"}
    r = await client.put(f"{API}/servers/{sid}/tags/red", headers=h)
    assert r.status_code == 201
    r = await client.get(f"{API}/servers/{sid}/tags", headers=h)
    assert r.json()["tags"] == ["blue", "red"]
    r = await client.get(f"{API}/servers/{sid}/tags", headers=mv(demo_headers, "2.25"))
    assert r.status_code == 404
    r = await client.get(f"{API}/servers?tags=blue,red", headers=h)
    assert [s["id"] for s in r.json()["servers"]] == [sid]
    r = await client.get(f"{API}/servers?not-tags-any=red", headers=h)
    assert sid not in [s["id"] for s in r.json()["servers"]]
    r = await client.get(f"{API}/servers?name=^ren", headers=h)
    assert [s["id"] for s in r.json()["servers"]] == [sid]
    r = await client.get(f"{API}/servers?status=SHUTOFF", headers=h)
    assert sid not in [s["id"] for s in r.json()["servers"]]
    r = await client.get(f"{API}/servers?flavor=42&image={image_id}", headers=h)
    assert sid in [s["id"] for s in r.json()["servers"]]
    r = await client.get(f"{API}/servers/{sid}/ips", headers=h)
    assert r.json() == {"addresses": {}}
    got = await show(client, demo_headers, sid)
    assert got["tags"] == ["blue", "red"] and got["server_groups"] == []
    await client.delete(f"{API}/servers/{sid}", headers=h)
    await wait_gone(client, demo_headers, sid)


async def test_pagination(client: httpx.AsyncClient, demo_headers: dict[str, str],
                          image_id: str) -> None:
    r = await client.post(f"{API}/servers", headers=mv(demo_headers), json={"server": {
        "name": "page", "imageRef": image_id, "flavorRef": "42", "networks": "none",
        "min_count": 3, "return_reservation_id": True}})
    assert r.status_code == 202 and r.json()["reservation_id"].startswith("r-")
    rid = r.json()["reservation_id"]
    r = await client.get(f"{API}/servers?reservation_id={rid}&limit=2", headers=demo_headers)
    first = r.json()
    assert len(first["servers"]) == 2 and first["servers_links"][0]["rel"] == "next"
    nxt = first["servers_links"][0]["href"].split("/compute", 1)[1]
    r = await client.get(f"/compute{nxt}", headers=demo_headers)
    rest = r.json()["servers"]
    ids = [s["id"] for s in first["servers"] + rest]
    assert len(set(ids)) == 3
    for sid in ids:
        await wait_for(client, demo_headers, sid, "ACTIVE")
        await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    for sid in ids:
        await wait_gone(client, demo_headers, sid)
    r = await client.get(f"{API}/servers?marker=nope", headers=demo_headers)
    assert r.status_code == 400


async def test_hypervisors_zones_limits_usage(client: httpx.AsyncClient, cloud,
                                              admin_headers: dict[str, str],
                                              demo_headers: dict[str, str]) -> None:
    h = mv(admin_headers)
    r = await client.get(f"{API}/os-hypervisors/detail", headers=h)
    hv = next(x for x in r.json()["hypervisors"]
              if x["hypervisor_hostname"] == cloud.platform.host)
    assert hv["hypervisor_type"] == "fake" and "vcpus" not in hv  # 2.88 dropped the sizes
    r = await client.get(f"{API}/os-hypervisors/detail", headers=mv(admin_headers, "2.27"))
    hv_old = next(x for x in r.json()["hypervisors"]
                  if x["hypervisor_hostname"] == cloud.platform.host)
    assert hv_old["vcpus"] == 16 and isinstance(hv_old["id"], int)
    r = await client.get(f"{API}/os-hypervisors/statistics", headers=mv(admin_headers, "2.87"))
    assert r.json()["hypervisor_statistics"]["count"] >= 1
    r = await client.get(f"{API}/os-hypervisors/statistics", headers=h)
    assert r.status_code == 404
    r = await client.get(f"{API}/os-hypervisors", headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/os-availability-zone/detail", headers=h)
    names = [z["zoneName"] for z in r.json()["availabilityZoneInfo"]]
    assert "internal" in names and "nova" in names
    r = await client.get(f"{API}/limits", headers=mv(demo_headers))
    absolute = r.json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and "maxSecurityGroups" not in absolute
    r = await client.get(f"{API}/limits", headers=mv(demo_headers, "2.35"))
    assert "maxSecurityGroups" in r.json()["limits"]["absolute"]
    r = await client.get(f"{API}/os-simple-tenant-usage?detailed=1", headers=h)
    assert r.status_code == 200 and "tenant_usages" in r.json()
    r = await client.get(f"{API}/os-simple-tenant-usage", headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/os-quota-sets/x/defaults", headers=mv(demo_headers))
    assert r.json()["quota_set"]["instances"] == 10
    assert "injected_files" not in r.json()["quota_set"]
    r = await client.put(f"{API}/os-quota-sets/x", headers=h,
                         json={"quota_set": {"instances": "many"}})
    assert r.status_code == 400


async def test_external_events_and_image_proxy(client: httpx.AsyncClient,
                                               admin_headers: dict[str, str],
                                               demo_headers: dict[str, str],
                                               image_id: str) -> None:
    created = await boot(client, demo_headers, image_id, name="ev")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    r = await client.post(f"{API}/os-server-external-events", headers=mv(admin_headers),
                          json={"events": [
                              {"name": "network-vif-plugged", "server_uuid": sid,
                               "tag": "port-1"},
                              {"name": "network-changed",
                               "server_uuid": "00000000-0000-0000-0000-000000000000"}]})
    assert r.status_code == 207
    assert [e["code"] for e in r.json()["events"]] == [200, 404]
    r = await client.post(f"{API}/os-server-external-events", headers=mv(demo_headers),
                          json={"events": [{"name": "network-changed", "server_uuid": sid}]})
    assert r.status_code == 403
    r = await client.get(f"{API}/images/{image_id}", headers=mv(demo_headers, "2.35"))
    assert r.status_code == 200 and r.json()["image"]["status"] == "ACTIVE"
    assert r.json()["image"]["minRam"] == 64
    r = await client.get(f"{API}/images/detail", headers=mv(demo_headers, "2.35"))
    assert image_id in [i["id"] for i in r.json()["images"]]
    r = await client.get(f"{API}/images", headers=mv(demo_headers, "2.36"))
    assert r.status_code == 404
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


async def test_quota_class_default(client: httpx.AsyncClient, admin_headers: dict[str, str],
                                   demo_headers: dict[str, str]) -> None:
    h = mv(admin_headers)
    r = await client.put(f"{API}/os-quota-class-sets/default", headers=h,
                         json={"quota_class_set": {"key_pairs": 7}})
    assert r.status_code == 200 and r.json()["quota_class_set"]["key_pairs"] == 7
    try:
        r = await client.get(f"{API}/os-quota-class-sets/default", headers=h)
        assert r.json()["quota_class_set"]["key_pairs"] == 7
        r = await client.get(f"{API}/os-quota-sets/any/defaults", headers=mv(demo_headers))
        assert r.json()["quota_set"]["key_pairs"] == 7
        r = await client.get(f"{API}/limits", headers=demo_headers)
        assert r.json()["limits"]["absolute"]["maxTotalKeypairs"] == 7
        r = await client.put(f"{API}/os-quota-class-sets/default", headers=mv(demo_headers),
                             json={"quota_class_set": {"key_pairs": 1}})
        assert r.status_code == 403
        r = await client.put(f"{API}/os-quota-class-sets/default", headers=h,
                             json={"quota_class_set": {"key_pairs": "x"}})
        assert r.status_code == 400
    finally:
        await client.put(f"{API}/os-quota-class-sets/default", headers=h,
                         json={"quota_class_set": {"key_pairs": 100}})
