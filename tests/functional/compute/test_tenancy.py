"""A project never sees or touches another project's servers, keypairs or groups."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import issue, make_user, password_auth
from tests.functional.compute.conftest import API, action, boot, mv, wait_for, wait_gone


@pytest.fixture(scope="module")
async def other_headers(cloud, client: httpx.AsyncClient, admin_headers: dict[str, str]):
    r = await client.post(
        "/identity/v3/projects",
        headers=admin_headers,
        json={"project": {"name": "compute-other", "domain_id": "default"}},
    )
    assert r.status_code == 201, r.text
    await make_user(cloud, "compute-other-user", "pw-other-1", project="compute-other")
    token = await issue(
        client, password_auth("compute-other-user", "pw-other-1", project="compute-other")
    )
    return {"X-Auth-Token": token}


async def test_servers_isolated(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
    image_id: str,
) -> None:
    created = await boot(client, demo_headers, image_id, name="mine")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    for method, path, body in [
        ("GET", f"/servers/{sid}", None),
        ("PUT", f"/servers/{sid}", {"server": {"name": "stolen"}}),
        ("DELETE", f"/servers/{sid}", None),
        ("POST", f"/servers/{sid}/action", {"os-stop": None}),
        ("GET", f"/servers/{sid}/metadata", None),
        ("GET", f"/servers/{sid}/os-instance-actions", None),
    ]:
        r = await client.request(method, f"{API}{path}", headers=mv(other_headers), json=body)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.get(f"{API}/servers/detail", headers=other_headers)
    assert sid not in [s["id"] for s in r.json()["servers"]]
    r = await client.get(f"{API}/servers?all_tenants=1", headers=other_headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/servers?all_tenants=1", headers=admin_headers)
    assert sid in [s["id"] for s in r.json()["servers"]]
    await action(client, demo_headers, sid, {"os-stop": None})
    await wait_for(client, demo_headers, sid, "SHUTOFF")
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


async def test_keypairs_and_groups_isolated(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    other_headers: dict[str, str],
    image_id: str,
) -> None:
    r = await client.post(
        f"{API}/os-keypairs",
        headers=mv(demo_headers, "2.10"),
        json={"keypair": {"name": "demo-only"}},
    )
    assert r.status_code == 201 and r.json()["keypair"]["private_key"]
    r = await client.get(f"{API}/os-keypairs/demo-only", headers=other_headers)
    assert r.status_code == 404
    r = await client.post(
        f"{API}/os-keypairs",
        headers=mv(other_headers, "2.10"),
        json={"keypair": {"name": "x", "user_id": "someone"}},
    )
    assert r.status_code == 403
    r = await client.post(
        f"{API}/os-server-groups",
        headers=mv(demo_headers),
        json={"server_group": {"name": "g", "policy": "affinity"}},
    )
    gid = r.json()["server_group"]["id"]
    r = await client.get(f"{API}/os-server-groups/{gid}", headers=other_headers)
    assert r.status_code == 404
    r = await client.post(
        f"{API}/servers",
        headers=mv(other_headers),
        json={
            "server": {"name": "g", "imageRef": image_id, "flavorRef": "42", "networks": "none"},
            "os:scheduler_hints": {"group": gid},
        },
    )
    assert r.status_code == 400
    await client.delete(f"{API}/os-server-groups/{gid}", headers=demo_headers)
    await client.delete(f"{API}/os-keypairs/demo-only", headers=demo_headers)


async def test_reader_cannot_write(cloud, client: httpx.AsyncClient, image_id: str) -> None:
    await make_user(cloud, "compute-reader", "pw-reader-1", role="reader")
    token = await issue(client, password_auth("compute-reader", "pw-reader-1", project="demo"))
    headers = {"X-Auth-Token": token}
    r = await client.get(f"{API}/servers", headers=headers)
    assert r.status_code == 200
    await boot(client, headers, image_id, expect=403)
    r = await client.post(
        f"{API}/flavors",
        headers=headers,
        json={"flavor": {"name": "r", "ram": 1, "vcpus": 1, "disk": 1}},
    )
    assert r.status_code == 403 and "forbidden" in r.json()
