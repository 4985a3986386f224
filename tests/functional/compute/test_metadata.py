"""Compute's metadata API (``/compute-metadata``) as a guest sees it through the metadata
proxy: signed instance headers, the OpenStack and EC2 trees, the guest's password, and the
errors Nova answers (400 / 403 / 404 / 409); another instance's data never leaks."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from onestack.common.metadata_proxy import shared_secret, sign
from tests.functional.compute.conftest import API, boot, mv, wait_for
from tests.functional.compute.test_network import delete_and_wait, fresh_project

MD = "/compute-metadata"
NET = "/networking/v2.0"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCzaeIlyd+ctr1Xxr4BgAmU6jCVPcPTZZq4PW+FiUPp md@h"
USER_DATA = b"#!/bin/sh\necho metadata-user-data\n"


def signed(cloud: Any, server: dict[str, Any]) -> dict[str, str]:
    """The headers Networking's metadata proxy adds for ``server``."""
    secret = shared_secret(cloud.settings)
    return {
        "X-Instance-ID": server["id"],
        "X-Tenant-ID": server["tenant_id"],
        "X-Instance-ID-Signature": sign(secret, server["id"]),
        "X-Forwarded-For": "10.0.0.9",
    }


@pytest.fixture(scope="module")
async def servers(
    cloud: Any, client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str
) -> AsyncIterator[dict[str, dict[str, Any]]]:
    """``web``: a key, user data, metadata, a port on ``private``; ``bare``: none of them
    (deleted afterwards: the demo project's quota is other tests' too)."""
    name = f"md-{uuid.uuid4().hex[:6]}"
    r = await client.post(
        f"{API}/os-keypairs",
        headers=mv(demo_headers),
        json={"keypair": {"name": name, "public_key": KEY}},
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"{NET}/networks?name=private", headers=demo_headers)
    private = r.json()["networks"][0]
    web = await boot(
        client,
        demo_headers,
        image_id,
        name="web-md",
        key_name=name,
        user_data=base64.b64encode(USER_DATA).decode(),
        metadata={"role": "web"},
        networks=[{"uuid": private["id"]}],
    )
    bare = await boot(client, demo_headers, image_id, name="bare-md")
    out = {}
    for key, created in (("web", web), ("bare", bare)):
        out[key] = await wait_for(client, demo_headers, created["server"]["id"], "ACTIVE")
    out["web"]["_key_name"] = name
    out["web"]["_network_id"] = private["id"]
    yield out
    for server in out.values():
        await delete_and_wait(client, demo_headers, server["id"])
    await client.delete(f"{API}/os-keypairs/{name}", headers=demo_headers)


async def test_a_deleted_instance_is_not_found(
    cloud: Any, client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str
) -> None:
    created = await boot(client, demo_headers, image_id, name="gone-md")
    server = await wait_for(client, demo_headers, created["server"]["id"], "ACTIVE")
    await get(client, "/openstack/latest/meta_data.json", signed(cloud, server))
    await delete_and_wait(client, demo_headers, server["id"])
    await get(client, "/openstack/latest/meta_data.json", signed(cloud, server), 404)


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str], expect: int = 200
              ) -> httpx.Response:  # fmt: skip
    r = await client.get(MD + path, headers=headers)
    assert r.status_code == expect, f"{path}: {r.status_code} {r.text}"
    return r


async def test_root_lists_versions_without_naming_an_instance(client: httpx.AsyncClient) -> None:
    r = await get(client, "/", {})
    assert r.text.splitlines()[-2:] == ["2009-04-04", "latest"]
    assert "1.0" in r.text.splitlines()


async def test_openstack_tree_listings(
    cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]
) -> None:
    h = signed(cloud, servers["web"])
    versions = (await get(client, "/openstack", h)).text.splitlines()
    assert versions[0] == "2012-08-10" and versions[-1] == "latest" and "2020-10-14" in versions
    latest = (await get(client, "/openstack/latest/", h)).text.splitlines()
    assert latest == ["meta_data.json", "user_data", "password", "vendor_data.json",
                      "network_data.json", "vendor_data2.json"]  # fmt: skip
    folsom = (await get(client, "/openstack/2012-08-10", h)).text.splitlines()
    assert folsom == ["meta_data.json", "user_data"]
    bare = (await get(client, "/openstack/latest", signed(cloud, servers["bare"]))).text
    assert "user_data" not in bare.splitlines()
    await get(client, "/openstack/2011-01-01/meta_data.json", h, 404)
    await get(client, "/openstack/latest/nothing", h, 404)
    await get(client, "/openstack/2012-08-10/network_data.json", h, 404)


async def test_meta_data_json(cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]
                              ) -> None:  # fmt: skip
    web = servers["web"]
    r = await get(client, "/openstack/latest/meta_data.json", signed(cloud, web))
    assert r.headers["content-type"].startswith("application/json")
    meta = r.json()
    assert meta["uuid"] == web["id"] and meta["name"] == "web-md"
    assert meta["hostname"] == web["OS-EXT-SRV-ATTR:hostname"]
    assert meta["project_id"] == web["tenant_id"]
    assert meta["availability_zone"] == web["OS-EXT-AZ:availability_zone"] == "nova"
    assert meta["launch_index"] == 0 and meta["meta"] == {"role": "web"}
    name = web["_key_name"]
    assert meta["public_keys"] == {name: KEY + "\n"}
    assert meta["keys"] == [{"name": name, "type": "ssh", "data": KEY + "\n"}]
    assert meta["devices"] == [] and meta["dedicated_cpus"] == []
    assert len(base64.b64decode(meta["random_seed"])) == 512
    assert "admin_pass" not in meta  # only a config drive carries it
    old = (await get(client, "/openstack/2012-08-10/meta_data.json", signed(cloud, web))).json()
    assert old["uuid"] == web["id"]
    assert not {"project_id", "random_seed", "devices", "dedicated_cpus"} & set(old)


async def test_network_data_from_the_info_cache(
    cloud: Any, client: httpx.AsyncClient, demo_headers: dict[str, str], servers: dict[str, Any]
) -> None:
    web = servers["web"]
    r = await client.get(f"{NET}/ports?device_id={web['id']}", headers=demo_headers)
    port = r.json()["ports"][0]
    net = (await get(client, "/openstack/latest/network_data.json", signed(cloud, web))).json()
    assert [link["ethernet_mac_address"] for link in net["links"]] == [port["mac_address"]]
    assert net["links"][0]["vif_id"] == port["id"] and net["links"][0]["mtu"] > 0
    assert [n["network_id"] for n in net["networks"]] == [web["_network_id"]]
    assert net["networks"][0]["link"] == net["links"][0]["id"]
    bare = await get(client, "/openstack/latest/network_data.json", signed(cloud, servers["bare"]))
    assert bare.json() == {"links": [], "networks": [], "services": []}


async def test_user_data_and_vendor_data(
    cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]
) -> None:
    h = signed(cloud, servers["web"])
    assert (await get(client, "/openstack/latest/user_data", h)).content == USER_DATA
    assert (await get(client, "/openstack/2012-08-10/user_data", h)).content == USER_DATA
    await get(client, "/openstack/latest/user_data", signed(cloud, servers["bare"]), 404)
    for name in ("vendor_data.json", "vendor_data2.json"):
        assert (await get(client, f"/openstack/latest/{name}", h)).json() == {}


async def test_ec2_tree(cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]) -> None:
    web = servers["web"]
    h = signed(cloud, web)
    assert (await get(client, "/latest", h)).text.splitlines() == ["meta-data/", "user-data"]
    keys = (await get(client, "/latest/meta-data/", h)).text.splitlines()
    for key in ("ami-id", "hostname", "instance-id", "local-ipv4", "public-ipv4",
                "public-keys/", "placement/", "reservation-id"):  # fmt: skip
        assert key in keys, keys
    assert (await get(client, "/latest/meta-data/instance-id", h)).text == web["id"]
    assert (await get(client, "/2009-04-04/meta-data/ami-id", h)).text == web["image"]["id"]
    fixed = web["addresses"]["private"][0]["addr"]
    assert (await get(client, "/latest/meta-data/local-ipv4", h)).text == fixed
    assert (await get(client, "/latest/meta-data/public-ipv4", h)).text == ""
    az = (await get(client, "/latest/meta-data/placement/availability-zone", h)).text
    assert az == "nova"
    listing = (await get(client, "/latest/meta-data/public-keys", h)).text
    assert listing == f"0={web['_key_name']}"
    assert (await get(client, "/latest/meta-data/public-keys/0/", h)).text == "openssh-key"
    key = (await get(client, "/latest/meta-data/public-keys/0/openssh-key", h)).text
    assert key == KEY + "\n"
    assert (await get(client, "/latest/user-data", h)).content == USER_DATA
    bare = signed(cloud, servers["bare"])
    await get(client, "/latest/user-data", bare, 404)
    await get(client, "/latest/meta-data/public-keys", bare, 404)
    await get(client, "/latest/meta-data/nothing", h, 404)
    await get(client, "/1999-01-01/meta-data/", h, 404)


async def test_signature_and_headers_refused_as_nova(
    cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]
) -> None:
    web, bare = servers["web"], servers["bare"]
    good = signed(cloud, web)
    path = "/openstack/latest/meta_data.json"
    for header in ("X-Instance-ID", "X-Instance-ID-Signature", "X-Tenant-ID"):
        r = await get(client, path, {k: v for k, v in good.items() if k != header}, 400)
        assert f"{header} header is missing" in r.text
    await get(client, path, {}, 400)
    # a wrong signature, another instance's signature, a signature by another secret
    await get(client, path, {**good, "X-Instance-ID-Signature": "0" * 64}, 403)
    theirs = signed(cloud, bare)["X-Instance-ID-Signature"]
    r = await get(client, path, {**good, "X-Instance-ID-Signature": theirs}, 403)
    assert r.headers["content-type"].startswith("text/plain") and "denied" in r.text
    await get(client, path, {**good, "X-Instance-ID-Signature": sign("x", web["id"])}, 403)
    odd: Any = {**good, "X-Instance-ID-Signature": "é".encode()}
    await get(client, path, odd, 403)
    await get(client, path, {**good, "X-Instance-ID": "ü-not-a-uuid".encode()}, 403)  # type: ignore[dict-item]
    twice = [*good.items(), ("X-Instance-ID", bare["id"])]
    r = await client.get(MD + path, headers=twice)
    assert r.status_code == 400 and "Multiple X-Instance-ID headers" in r.text
    # a signed id of no instance, of a tenant that is not the instance's: 404
    ghost = {**signed(cloud, {**web, "id": str(uuid.uuid4())})}
    await get(client, path, ghost, 404)
    await get(client, path, {**good, "X-Tenant-ID": "someone-else"}, 404)
    long_id = {**signed(cloud, {**web, "id": "x" * 300})}
    await get(client, path, long_id, 404)
    r = await client.post(MD + path, headers=good)
    assert r.status_code == 405


async def test_each_instance_sees_only_its_own_data(
    cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any]
) -> None:
    web, bare = servers["web"], servers["bare"]
    for server in (web, bare):
        meta = await get(client, "/openstack/latest/meta_data.json", signed(cloud, server))
        assert meta.json()["uuid"] == server["id"]
        assert (await get(client, "/latest/meta-data/instance-id", signed(cloud, server))
                ).text == server["id"]  # fmt: skip
    bare_meta = (await get(client, "/openstack/latest/meta_data.json", signed(cloud, bare))).json()
    assert "public_keys" not in bare_meta and bare_meta["meta"] == {}
    assert web["id"] not in orjson.dumps(bare_meta).decode()


async def test_password_posted_once_shown_and_cleared_through_compute(
    cloud: Any,
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_headers: dict[str, str],
    servers: dict[str, Any],
) -> None:
    web, bare = servers["web"], servers["bare"]
    h = signed(cloud, web)
    url = "/openstack/latest/password"
    api = f"{API}/servers/{web['id']}/os-server-password"
    assert (await get(client, url, h)).text == ""
    r = await client.post(MD + url, headers=h, content=b"x" * 257)
    assert r.status_code == 400, r.text
    r = await client.post(MD + url, headers=h, content=b"c2VjcmV0IGVuY3J5cHRlZA==")
    assert r.status_code == 200, r.text
    assert (await get(client, url, h)).text == "c2VjcmV0IGVuY3J5cHRlZA=="
    r = await client.post(MD + url, headers=h, content=b"another")
    assert r.status_code == 409, r.text
    assert (await get(client, url, signed(cloud, bare))).text == ""  # not the other's
    await get(client, "/openstack/2012-08-10/password", h, 404)  # Grizzly added it
    # the owner and an admin read it through Compute; another project never
    r = await client.get(api, headers=demo_headers)
    assert r.status_code == 200 and r.json() == {"password": "c2VjcmV0IGVuY3J5cHRlZA=="}
    r = await client.get(api, headers=admin_headers)
    assert r.status_code == 200 and r.json()["password"] == "c2VjcmV0IGVuY3J5cHRlZA=="
    other = await fresh_project(cloud, client, admin_headers)
    for method in ("GET", "DELETE"):
        r = await client.request(method, api, headers=other)
        assert r.status_code == 404, r.text
        assert "itemNotFound" in r.json()
    r = await client.get(f"{API}/servers/{uuid.uuid4()}/os-server-password", headers=demo_headers)
    assert r.status_code == 404
    r = await client.delete(api, headers=demo_headers)
    assert r.status_code == 204, r.text
    assert (await client.get(api, headers=demo_headers)).json() == {"password": ""}
    assert (await get(client, url, h)).text == ""
    r = await client.post(MD + url, headers=h, content=b"again")  # cleared: the guest may set it
    assert r.status_code == 200
    r = await client.delete(api, headers=admin_headers)
    assert r.status_code == 204


async def test_without_the_proxy_the_caller_is_found_by_its_fixed_ip(
    cloud: Any, client: httpx.AsyncClient, servers: dict[str, Any], monkeypatch: Any
) -> None:
    conf = cloud.settings.compute
    monkeypatch.setattr(conf, "metadata_service_proxy", False)
    monkeypatch.setattr(conf, "metadata_use_forwarded_for", True)
    web = servers["web"]
    fixed = web["addresses"]["private"][0]["addr"]
    r = await get(client, "/latest/meta-data/instance-id", {"X-Forwarded-For": fixed})
    assert r.text == web["id"]
    r = await get(client, "/latest/meta-data/instance-id", signed(cloud, web), 400)
    assert "metadata_service_proxy" in r.text
    await get(client, "/openstack/latest/meta_data.json", {"X-Forwarded-For": "192.0.2.77"}, 404)
    monkeypatch.setattr(conf, "metadata_use_forwarded_for", False)  # the peer: the test client
    await get(client, "/latest/meta-data/instance-id", {"X-Forwarded-For": fixed}, 404)
