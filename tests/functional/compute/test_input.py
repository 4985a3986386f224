"""Bad input answers the documented 4xx in Nova's format and leaves nothing behind."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tests.functional.compute.conftest import API, boot, mv


async def _count(cloud) -> int:
    from onestack.compute.core import SharedCore
    from onestack.compute.models import Instance

    core = SharedCore.get(cloud.platform)
    async with core.read() as s:
        return int((await s.execute(select(func.count()).select_from(Instance))).scalar() or 0)


BAD = [
    ({"name": "x" * 256}, "too long"),
    ({"name": "   "}, "name"),
    ({"name": 5}, "name"),
    ({"flavorRef": "nope"}, "Flavor nope could not be found"),
    ({"imageRef": "00000000-0000-0000-0000-000000000000"}, "could not be found"),
    ({"key_name": "missing"}, "Invalid key_name"),
    ({"networks": "everything"}, "networks"),
    ({"networks": [{"uuid": "00000000-0000-0000-0000-000000000000"}]}, "could not be found"),
    ({"min_count": 0}, "min_count"),
    ({"min_count": 3, "max_count": 2}, "min_count"),
    ({"user_data": "not base64!"}, "base 64"),
    ({"metadata": {"k": 1}}, "metadata"),
    ({"availability_zone": "nowhere"}, "availability zone"),
    ({"bogus": 1}, "Additional properties"),
    ({"personality": []}, "Additional properties"),
    ({"block_device_mapping_v2": [{"source_type": "volume", "uuid": "x"}]}, "failed to get volume"),
    ({"OS-DCF:diskConfig": "SIDEWAYS"}, "MANUAL"),
]


@pytest.mark.parametrize(("override", "message"), BAD)
async def test_bad_create(
    client: httpx.AsyncClient,
    cloud,
    demo_headers: dict[str, str],
    image_id: str,
    override: dict,
    message: str,
) -> None:
    before = await _count(cloud)
    body = {"name": "bad", "imageRef": image_id, "flavorRef": "42", "networks": "none", **override}
    r = await client.post(f"{API}/servers", headers=mv(demo_headers), json={"server": body})
    assert r.status_code == 400, r.text
    assert message in r.json()["badRequest"]["message"]
    assert await _count(cloud) == before


async def test_image_checks(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    demo_headers: dict[str, str],
    image_id: str,
) -> None:
    r = await client.post(
        "/image/v2/images",
        headers=admin_headers,
        json={
            "name": "queued",
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
            "min_ram": 4096,
        },
    )
    queued = r.json()["id"]
    await boot(client, demo_headers, queued, expect=400)
    r = await client.put(
        f"/image/v2/images/{queued}/file",
        content=b"\0" * 512,
        headers={**admin_headers, "Content-Type": "application/octet-stream"},
    )
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers),
        json={
            "server": {"name": "small", "imageRef": queued, "flavorRef": "42", "networks": "none"}
        },
    )
    assert r.status_code == 400 and "memory is too small" in r.text
    # a private image of another project is as good as missing
    r = await client.post(
        "/image/v2/images",
        headers=admin_headers,
        json={
            "name": "private",
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "private",
        },
    )
    private = r.json()["id"]
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers),
        json={"server": {"name": "p", "imageRef": private, "flavorRef": "42", "networks": "none"}},
    )
    assert r.status_code == 400 and "could not be found" in r.text


async def test_microversion_bodies(
    client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str
) -> None:
    # networks is required from 2.37 and a list of ports before it
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers, "2.37"),
        json={"server": {"name": "n", "imageRef": image_id, "flavorRef": "42"}},
    )
    assert r.status_code == 400 and "networks" in r.text
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers, "2.36"),
        json={"server": {"name": "n", "imageRef": image_id, "flavorRef": "42", "networks": "none"}},
    )
    assert r.status_code == 400
    # tags at create from 2.52, description from 2.19
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers, "2.51"),
        json={
            "server": {
                "name": "n",
                "imageRef": image_id,
                "flavorRef": "42",
                "networks": "none",
                "tags": ["a"],
            }
        },
    )
    assert r.status_code == 400
    r = await client.post(
        f"{API}/servers",
        headers=mv(demo_headers, "2.18"),
        json={"server": {"name": "n", "imageRef": image_id, "flavorRef": "42", "description": "d"}},
    )
    assert r.status_code == 400


async def test_malformed_and_missing(
    client: httpx.AsyncClient, demo_headers: dict[str, str]
) -> None:
    r = await client.post(f"{API}/servers", headers=demo_headers, content=b"[1]")
    assert r.status_code == 400 and "badRequest" in r.json()
    r = await client.get(f"{API}/servers/{'x' * 300}", headers=demo_headers)
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = await client.get(f"{API}/servers?limit=abc", headers=demo_headers)
    assert r.status_code == 400
    r = await client.get(f"{API}/servers?sort_key=secret", headers=demo_headers)
    assert r.status_code == 400
    r = await client.get(f"{API}/servers?status=FLYING", headers=mv(demo_headers))
    assert r.status_code == 400
    r = await client.get(f"{API}/servers?changes-since=yesterday", headers=demo_headers)
    assert r.status_code == 400
    r = await client.get(f"{API}/flavors/nope", headers=demo_headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/servers", headers={"X-Auth-Token": "bogus"})
    assert r.status_code == 401
    r = await client.get(f"{API}/servers")
    assert r.status_code == 401
