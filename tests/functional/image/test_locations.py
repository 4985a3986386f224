"""The location API of Image API 2.17: a service registers the data it put in a store as a
queued image's location (hashed, and checked against validation data); end users may not;
a process that dies while hashing is reconciled."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from onestack.image import recovery
from onestack.image.locations import HASH, VERIFY
from onestack.image.models import LEASES
from onestack.server import Cloud
from tests.conftest import issue, password_auth
from tests.functional.image.conftest import IMG, create_image, new_project_user, upload
from tests.functional.image.test_recovery import lease, leases_of

Party = tuple[str, dict[str, str]]
DATA = b"snapshot written by a service " * 3000


@pytest.fixture(scope="module")
async def service(image_cloud: Cloud, api: httpx.AsyncClient) -> dict[str, str]:
    """The image service user's token (roles service and admin on project service)."""
    password = (Path(image_cloud.settings.data_dir) / "service-password").read_text().strip()
    return {"X-Auth-Token": await issue(api, password_auth("glance", password,
                                                           project="service"))}


@pytest.fixture
async def party(api: httpx.AsyncClient, admin: dict[str, str]) -> Party:
    return await new_project_user(api, admin)


def written(mgr: Any, data: bytes = DATA, store: str = "file") -> str:
    """Data a service wrote into a store itself: its location URL."""
    path = Path(mgr.stores[store].path) / f"svc-{uuid.uuid4().hex}"
    path.parent.mkdir(parents=True, exist_ok=True)  # made by the first upload otherwise
    path.write_bytes(data)
    return path.as_uri()


async def show(api: httpx.AsyncClient, h: dict[str, str], image_id: str) -> dict[str, Any]:
    r = await api.get(f"{IMG}/images/{image_id}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def until(api: httpx.AsyncClient, h: dict[str, str], image_id: str, ready: Any
                ) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        image = await show(api, h, image_id)
        if ready(image):
            return image
        await asyncio.sleep(0.02)
    raise AssertionError(f"image {image_id} never got there: {image}")


async def add(api: httpx.AsyncClient, h: dict[str, str], image_id: str, **body: Any
              ) -> httpx.Response:
    return await api.post(f"{IMG}/images/{image_id}/locations", headers=h, json=body)


async def no_lease(mgr: Any, image_id: str) -> None:
    for _ in range(500):
        if not await leases_of(mgr, image_id):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the hashing never released its lease")


async def test_the_version_list_goes_to_2_17(api: httpx.AsyncClient) -> None:
    versions = (await api.get("/image/versions")).json()["versions"]
    assert versions[0]["id"] == "v2.17" and versions[0]["status"] == "CURRENT"
    assert {"v2.16", "v2.0"} <= {v["id"] for v in versions}


async def test_a_service_adds_a_location_then_it_is_hashed(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any
) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    url = written(mgr)
    # openstacksdk sends an empty validation_data when it has none
    r = await add(api, service, img["id"], url=url, validation_data={})
    assert r.status_code == 202, r.text
    shown = await show(api, h, img["id"])
    assert shown["status"] == "active" and shown["size"] == len(DATA)  # at once
    assert shown["os_hash_algo"] == "sha512"  # the hash is coming
    done = await until(api, h, img["id"], lambda i: i["os_hash_value"])
    assert done["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert done["checksum"] == hashlib.md5(DATA).hexdigest()
    await no_lease(mgr, img["id"])
    r = await api.get(f"{IMG}/images/{img['id']}/file", headers=h)
    assert r.status_code == 200 and r.content == DATA
    r = await api.get(f"{IMG}/images/{img['id']}/locations", headers=service)
    assert r.status_code == 200
    assert r.json() == [{"url": url, "metadata": {"store": "file"}}]
    # a location is added once: the image is no longer queued
    r = await add(api, service, img["id"], url=written(mgr))
    assert r.status_code == 409


async def test_validation_data_is_verified_before_the_image_is_active(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any
) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    expected = hashlib.sha256(DATA).hexdigest()
    r = await add(api, service, img["id"], url=written(mgr),
                  validation_data={"os_hash_algo": "sha256", "os_hash_value": expected})
    assert r.status_code == 202, r.text
    assert (await show(api, h, img["id"]))["status"] in ("importing", "active")
    done = await until(api, h, img["id"], lambda i: i["status"] == "active")
    assert done["os_hash_algo"] == "sha256" and done["os_hash_value"] == expected
    assert done["checksum"] == hashlib.md5(DATA).hexdigest()
    await no_lease(mgr, img["id"])


async def test_a_hash_that_does_not_match_undoes_the_location(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any
) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    url = written(mgr)
    wrong = hashlib.sha512(b"other data").hexdigest()
    r = await add(api, service, img["id"], url=url,
                  validation_data={"os_hash_algo": "sha512", "os_hash_value": wrong})
    assert r.status_code == 202
    back = await until(api, h, img["id"], lambda i: i["status"] == "queued")
    assert back["size"] is None and back["os_hash_value"] is None
    await no_lease(mgr, img["id"])
    r = await api.get(f"{IMG}/images/{img['id']}/locations", headers=service)
    assert r.json() == []
    assert not Path(url.removeprefix("file://")).exists()  # the refused data is removed
    # the image can still get its data another way
    assert (await upload(api, h, img["id"], b"abc")).status_code == 204


async def test_who_may_add_and_read_locations(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any,
    admin: dict[str, str],
) -> None:
    _, owner = party
    _, stranger = await new_project_user(api, admin)
    img = await create_image(api, owner, disk_format="raw", container_format="bare")
    url = written(mgr)
    # the owner: no http store here, so end users may not (Glance's rule)
    r = await add(api, owner, img["id"], url=url)
    assert r.status_code == 403 and "http store" in r.json()["message"]
    # another project does not even see the image
    assert (await add(api, stranger, img["id"], url=url)).status_code == 404
    r = await api.get(f"{IMG}/images/{img['id']}/locations", headers=owner)
    assert r.status_code == 403  # reading locations is for services only
    r = await api.get(f"{IMG}/images/{uuid.uuid4()}/locations", headers=service)
    assert r.status_code == 404
    assert (await show(api, owner, img["id"]))["status"] == "queued"  # nothing changed


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"url": ""}, 400),
        ({"url": 42}, 400),
        ({"url": "file:///etc/passwd"}, 400),  # no store owns it
        ({"url": "http://127.0.0.1:1/x"}, 400),  # no http store
        ({"url": "LOC", "validation_data": {"os_hash_value": "ab"}}, 400),
        ({"url": "LOC", "validation_data": {"os_hash_algo": "sha123", "os_hash_value": "ab"}},
         400),
        ({"url": "LOC", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "abc"}},
         400),
        ({"url": "LOC", "validation_data": {"os_hash_algo": "sha256",
                                            "os_hash_value": "z" * 64}}, 400),
        ({"url": "LOC", "validation_data": "sha512"}, 400),
        ({"url": "LOC", "metadata": {}}, 400),
    ],
)
async def test_bad_add_location_requests(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any,
    body: dict[str, Any], status: int,
) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    if body.get("url") == "LOC":
        body = {**body, "url": written(mgr)}
    r = await add(api, service, img["id"], **body)
    assert r.status_code == status, r.text
    assert r.json()["code"].startswith(str(status))
    assert (await show(api, h, img["id"]))["status"] == "queued"


async def test_missing_data_and_a_location_already_used(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any
) -> None:
    _, h = party
    first = await create_image(api, h, disk_format="raw", container_format="bare")
    second = await create_image(api, h, disk_format="raw", container_format="bare")
    nothing = (Path(mgr.stores["file"].path) / f"svc-{uuid.uuid4().hex}").as_uri()
    assert (await add(api, service, first["id"], url=nothing)).status_code == 400
    url = written(mgr)
    assert (await add(api, service, first["id"], url=url)).status_code == 202
    # two images never share data (deleting one would delete the other's)
    r = await add(api, service, second["id"], url=url)
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    await no_lease(mgr, first["id"])


async def test_without_secure_hash_the_given_values_are_taken(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any
) -> None:
    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    given = hashlib.sha512(DATA).hexdigest()
    mgr.conf.do_secure_hash = False
    try:
        r = await add(api, service, img["id"], url=written(mgr),
                      validation_data={"os_hash_algo": "sha512", "os_hash_value": given})
    finally:
        mgr.conf.do_secure_hash = True
    assert r.status_code == 202
    shown = await show(api, h, img["id"])
    assert shown["status"] == "active" and shown["os_hash_value"] == given
    assert shown["checksum"] is None  # nothing was read
    assert await leases_of(mgr, img["id"]) == []


@pytest.mark.parametrize("kind", [VERIFY, HASH])
async def test_hashing_whose_process_died_is_reconciled(
    api: httpx.AsyncClient, party: Party, service: dict[str, str], mgr: Any, kind: str
) -> None:
    from tests.functional.image.test_recovery import set_image

    _, h = party
    img = await create_image(api, h, disk_format="raw", container_format="bare")
    url = written(mgr)
    r = await add(api, service, img["id"], url=url)
    assert r.status_code == 202
    await until(api, h, img["id"], lambda i: i["os_hash_value"])
    await no_lease(mgr, img["id"])
    # as a process that died mid-way left it
    if kind == VERIFY:
        await set_image(mgr, img["id"], status="importing", checksum=None, os_hash_value=None)
    else:
        await set_image(mgr, img["id"], checksum=None, os_hash_value=None)
    await lease(mgr, img["id"], kind)
    assert await recovery.reconcile(mgr) >= 1
    shown = await show(api, h, img["id"])
    if kind == VERIFY:
        assert shown["status"] == "queued" and shown["size"] is None
        assert (await api.get(f"{IMG}/images/{img['id']}/locations",
                              headers=service)).json() == []
        assert not Path(url.removeprefix("file://")).exists()
    else:
        assert shown["status"] == "active" and shown["os_hash_algo"] is None
    async with mgr.read() as s:
        assert list(await s.execute(select(LEASES).where(
            LEASES.c.resource_id == img["id"]))) == []
