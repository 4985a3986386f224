"""Every writable field of the main Compute bodies, and every body route, with hostile values:
a 4xx in Nova's format, never a 500, and no server left behind."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from tests.functional.compute.conftest import API, mv, wait_for, wait_gone
from tests.hostile import RAW, WRONG

SERVER_FIELDS = ["name", "imageRef", "flavorRef", "networks", "key_name", "user_data",
                 "metadata", "availability_zone", "min_count", "max_count",
                 "security_groups", "block_device_mapping_v2", "config_drive",
                 "OS-DCF:diskConfig", "accessIPv4", "description", "tags", "hostname",
                 "adminPass"]
#: (field, hostile value name) pairs that are valid input after all
ACCEPTED = {("tags", "list"), ("max_count", "int"), ("max_count", "huge-int"),
            ("config_drive", "true")}
BODY_ROUTES = [("POST", "/servers"), ("POST", "/flavors"), ("POST", "/os-keypairs"),
               ("POST", "/os-server-groups"), ("POST", "/os-aggregates"),
               ("PUT", "/os-quota-sets/x"), ("POST", "/os-server-external-events")]


async def _servers(cloud) -> int:
    from onestack.compute.core import SharedCore
    from onestack.compute.models import Instance

    async with SharedCore.get(cloud.platform).read() as s:
        return int((await s.execute(select(func.count()).select_from(Instance))).scalar() or 0)


@pytest.mark.parametrize("field", SERVER_FIELDS)
async def test_server_fields(client: httpx.AsyncClient, cloud, admin_headers: dict[str, str],
                             image_id: str, field: str) -> None:
    before = await _servers(cloud)
    for name, value in WRONG.items():
        body = {"name": "h", "imageRef": image_id, "flavorRef": "42", "networks": "none",
                field: value}
        r = await client.post(f"{API}/servers", headers=mv(admin_headers),
                              json={"server": body})
        if r.status_code == 202:  # a value the field takes
            assert (field, name) in ACCEPTED, (field, name)
            listed = await client.get(f"{API}/servers", params={"name": "^h(-[0-9]+)?$"},
                                      headers=admin_headers)
            for server in listed.json()["servers"]:
                await wait_for(client, admin_headers, server["id"], "ACTIVE")
                await client.delete(f"{API}/servers/{server['id']}", headers=admin_headers)
                await wait_gone(client, admin_headers, server["id"])
            continue
        assert 400 <= r.status_code < 500, (field, name, r.status_code, r.text[:200])
        assert set(r.json()) & {"badRequest", "forbidden", "overLimit"}, r.text[:200]
    if not any(f == field for f, _ in ACCEPTED):
        assert await _servers(cloud) == before


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_raw_bodies(client: httpx.AsyncClient, admin_headers: dict[str, str],
                          method: str, path: str) -> None:
    for name, raw in RAW.items():
        r = await client.request(method, f"{API}{path}", headers=mv(admin_headers),
                                 content=raw)
        assert 400 <= r.status_code < 500, (path, name, r.status_code, r.text[:200])
    for name, value in WRONG.items():
        r = await client.request(method, f"{API}{path}", headers=mv(admin_headers),
                                 json={"x": value})
        assert 400 <= r.status_code < 500, (path, name, r.status_code, r.text[:200])


FIELDS = [
    ("POST", "/flavors", "flavor", {"name": "hf", "ram": 64, "vcpus": 1, "disk": 1},
     ["name", "ram", "vcpus", "disk", "id", "swap", "OS-FLV-EXT-DATA:ephemeral",
      "rxtx_factor", "os-flavor-access:is_public", "description"]),
    ("POST", "/os-keypairs", "keypair", {"name": "hk"}, ["name", "public_key", "type",
                                                          "user_id"]),
    ("POST", "/os-server-groups", "server_group", {"name": "hg", "policy": "affinity"},
     ["name", "policy", "rules"]),
    ("POST", "/os-aggregates", "aggregate", {"name": "ha"}, ["name", "availability_zone"]),
    ("PUT", "/os-quota-sets/hq", "quota_set", {}, ["instances", "cores", "ram"]),
]
#: (path, field, value name) combinations that are valid after all
VALID = {
    *{("/flavors", f, "int") for f in ("id", "ram", "vcpus", "disk", "swap",
                                       "OS-FLV-EXT-DATA:ephemeral", "rxtx_factor")},
    ("/flavors", "rxtx_factor", "float"),
    ("/flavors", "id", "float"),
    ("/flavors", "id", "negative"),
    ("/flavors", "os-flavor-access:is_public", "true"),
    *{("/os-quota-sets/hq", f, v) for f in ("instances", "cores", "ram")
      for v in ("int", "negative")},
}


@pytest.mark.parametrize(("method", "path", "key", "base", "fields"), FIELDS)
async def test_resource_fields(client: httpx.AsyncClient, admin_headers: dict[str, str],
                               method: str, path: str, key: str, base: dict,
                               fields: list[str]) -> None:
    for field in fields:
        for name, value in WRONG.items():
            r = await client.request(method, f"{API}{path}", headers=mv(admin_headers),
                                     json={key: {**base, field: value}})
            if r.status_code < 300:
                assert (path, field, name) in VALID, (path, field, name, r.text[:200])
                await _undo(client, admin_headers, path, r.json())
                continue
            assert 400 <= r.status_code < 500, (path, field, name, r.status_code, r.text[:200])


async def _undo(client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict) -> None:
    if path == "/flavors":
        await client.delete(f"{API}/flavors/{body['flavor']['id']}", headers=headers)
    elif path == "/os-aggregates":
        await client.delete(f"{API}/os-aggregates/{body['aggregate']['id']}", headers=headers)
    elif path.startswith("/os-quota-sets"):
        await client.delete(f"{API}{path}", headers=headers)


ACTIONS = ["os-start", "os-stop", "reboot", "pause", "unpause", "suspend", "resume", "lock",
           "unlock", "rescue", "unrescue", "resize", "confirmResize", "revertResize",
           "rebuild", "shelve", "unshelve", "createImage", "os-getConsoleOutput", "migrate",
           "os-migrateLive", "evacuate", "changePassword", "trigger_crash_dump",
           "os-resetState", "addSecurityGroup", "removeSecurityGroup", "restore",
           "forceDelete", "shelveOffload", "os-getVNCConsole", "os-getSPICEConsole",
           "os-getRDPConsole", "os-getSerialConsole"]


async def test_action_arguments(client: httpx.AsyncClient, admin_headers: dict[str, str],
                                image_id: str) -> None:
    """Each action with each hostile argument: never a 500, and the server still answers."""
    from tests.functional.compute.conftest import boot

    created = await boot(client, admin_headers, image_id, name="hact")
    sid = created["server"]["id"]
    await wait_for(client, admin_headers, sid, "ACTIVE")
    try:
        for name in ACTIONS:
            for label, value in WRONG.items():
                r = await client.post(f"{API}/servers/{sid}/action", headers=mv(admin_headers),
                                      json={name: value})
                assert r.status_code < 500, (name, label, r.status_code, r.text[:200])
                if r.status_code < 300:  # an action that took no arguments ran: settle
                    got = await client.get(f"{API}/servers/{sid}", headers=mv(admin_headers))
                    if got.status_code == 404:
                        return
                    for _ in range(500):
                        got = await client.get(f"{API}/servers/{sid}",
                                               headers=mv(admin_headers))
                        if got.status_code == 404 or \
                                got.json()["server"]["OS-EXT-STS:task_state"] is None:
                            break
                        await asyncio.sleep(0.01)
    finally:
        await client.delete(f"{API}/servers/{sid}", headers=admin_headers)
        r = await client.get(f"{API}/servers/{sid}", headers=admin_headers)
        if r.status_code == 200 and r.json()["server"]["status"] != "DELETED":
            await wait_gone(client, admin_headers, sid)
