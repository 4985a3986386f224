"""Multi-tenancy of the Image API: what another project's member and reader may do to images.

Project A owns private images (one active, one queued) and shared ones offered to project C.
Project B is a stranger; C is a member of A's shared images. As Glance documents it:
an image a caller cannot see answers 404 to everything (show, change, delete, data, import,
actions, tags, members); an image the caller sees but may not change answers 403; a member
changes only its own member status and adds no members; the reader role writes nothing.
And whatever the others try, A's images are unchanged afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from onestack.image.manager import ImageManager
from onestack.image.models import Image, ImageLocation, ImageMember, ImageProperty, ImageTag
from onestack.server import Cloud
from tests.functional.image.conftest import (
    IMG,
    PATCH,
    WEB_PORT,
    create_image,
    new_project_user,
    user_on,
)

H = dict[str, str]
OCTET = "application/octet-stream"
#: A web-download source nothing listens on (no request must ever get as far as trying it).
NOWHERE = f"http://127.0.0.1:{WEB_PORT}/nothing.raw"


@dataclass
class World:
    a: str
    b: str
    c: str
    a_member: H
    a_reader: H
    b_member: H
    b_reader: H
    c_member: H
    c_reader: H
    private: str  # A's, active, with data and tag "t"
    queued: str  # A's, private, queued with formats
    shared: str  # A's, active, shared with C (pending) and B (pending)
    shared_queued: str  # A's, queued with formats, shared with C
    namespace: str  # A's private metadef namespace


@pytest.fixture(scope="module")
async def client(image_cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 answer of a server error (instead of the exception)."""
    transport = httpx.ASGITransport(app=image_cloud.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _upload(api: httpx.AsyncClient, h: H, image_id: str) -> None:
    r = await api.put(f"{IMG}/images/{image_id}/file", content=b"tenant data",
                      headers={**h, "Content-Type": OCTET})
    assert r.status_code == 204, r.text


async def _add_member(api: httpx.AsyncClient, h: H, image_id: str, project: str) -> None:
    r = await api.post(f"{IMG}/images/{image_id}/members", headers=h, json={"member": project})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
async def world(api: httpx.AsyncClient, admin: H) -> World:
    a, a_member = await new_project_user(api, admin)
    b, b_member = await new_project_user(api, admin)
    c, c_member = await new_project_user(api, admin)
    fmt = {"disk_format": "raw", "container_format": "bare"}
    private = (await create_image(api, a_member, visibility="private", tags=["t"], **fmt))["id"]
    await _upload(api, a_member, private)
    queued = (await create_image(api, a_member, visibility="private", **fmt))["id"]
    shared = (await create_image(api, a_member, visibility="shared", tags=["t"], **fmt))["id"]
    await _upload(api, a_member, shared)
    shared_queued = (await create_image(api, a_member, visibility="shared", **fmt))["id"]
    for image_id in (shared, shared_queued):
        await _add_member(api, a_member, image_id, c)
    await _add_member(api, a_member, shared, b)
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    r = await api.post(f"{IMG}/metadefs/namespaces", headers=admin,
                       json={"namespace": namespace, "visibility": "private", "owner": a})
    assert r.status_code == 201, r.text
    return World(
        a=a, b=b, c=c,
        a_member=a_member, a_reader=await user_on(api, admin, a, "reader"),
        b_member=b_member, b_reader=await user_on(api, admin, b, "reader"),
        c_member=c_member, c_reader=await user_on(api, admin, c, "reader"),
        private=private, queued=queued, shared=shared, shared_queued=shared_queued,
        namespace=namespace,
    )


async def snapshot(mgr: ImageManager, owner: str) -> list[Any]:
    """A's images with everything hanging off them, as rows."""
    async with mgr.read() as session:
        ids = select(Image.id).where(Image.owner == owner)
        state = []
        for stmt in (
            select(Image).where(Image.owner == owner),
            select(ImageProperty).where(ImageProperty.image_id.in_(ids)),
            select(ImageTag).where(ImageTag.image_id.in_(ids)),
            select(ImageMember).where(ImageMember.image_id.in_(ids)),
            select(ImageLocation).where(ImageLocation.image_id.in_(ids)),
        ):
            rows = (await session.execute(stmt)).scalars().all()
            state.append(sorted(
                repr(sorted((c.key, getattr(row, c.key)) for c in row.__table__.columns))
                for row in rows
            ))
    return state


def is_glance_error(r: httpx.Response) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return (isinstance(body, dict) and set(body) == {"message", "code", "title"}
            and body["code"].startswith(str(r.status_code)))


Action = tuple[str, str, dict[str, Any]]


def image_actions(w: World, image_id: str) -> dict[str, Action]:
    """Every thing one can do to an image: name -> (method, path, request kwargs)."""
    base = f"{IMG}/images/{image_id}"
    octet = {"content": b"intruder", "headers": {"Content-Type": OCTET}}
    return {
        "show": ("GET", base, {}),
        "update": ("PATCH", base, {"content": b'[{"op": "replace", "path": "/name", '
                                              b'"value": "pwned"}]',
                                   "headers": {"Content-Type": PATCH}}),
        "delete": ("DELETE", base, {}),
        "download": ("GET", f"{base}/file", {}),
        "upload": ("PUT", f"{base}/file", octet),
        "stage": ("PUT", f"{base}/stage", octet),
        "import-direct": ("POST", f"{base}/import",
                          {"json": {"method": {"name": "glance-direct"}}}),
        "import-web": ("POST", f"{base}/import",
                       {"json": {"method": {"name": "web-download", "uri": NOWHERE}}}),
        "import-copy": ("POST", f"{base}/import",
                        {"json": {"method": {"name": "copy-image"}, "stores": ["backup"]}}),
        "deactivate": ("POST", f"{base}/actions/deactivate", {}),
        "reactivate": ("POST", f"{base}/actions/reactivate", {}),
        "add-tag": ("PUT", f"{base}/tags/intruder", {}),
        "delete-tag": ("DELETE", f"{base}/tags/t", {}),
        "list-members": ("GET", f"{base}/members", {}),
        "add-member": ("POST", f"{base}/members", {"json": {"member": w.b}}),
        "show-member": ("GET", f"{base}/members/{w.c}", {}),
        "accept-member": ("PUT", f"{base}/members/{w.c}", {"json": {"status": "accepted"}}),
        "delete-member": ("DELETE", f"{base}/members/{w.c}", {}),
        "tasks": ("GET", f"{base}/tasks", {}),
        "delete-from-store": ("DELETE", f"{IMG}/stores/file/{image_id}", {}),
    }


async def act(api: httpx.AsyncClient, h: H, action: Action) -> httpx.Response:
    method, url, kwargs = action
    kwargs = dict(kwargs)
    kwargs["headers"] = {**h, **kwargs.get("headers", {})}
    return await api.request(method, url, **kwargs)


async def listed_ids(api: httpx.AsyncClient, h: H, **params: Any) -> set[str]:
    r = await api.get(f"{IMG}/images", headers=h, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()["images"]}


# -- strangers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["b_member", "b_reader", "c_member", "c_reader"])
async def test_strangers_get_404_for_everything_on_private_images(
    client: httpx.AsyncClient, mgr: ImageManager, world: World, persona: str
) -> None:
    h: H = getattr(world, persona)
    before = await snapshot(mgr, world.a)
    problems = []
    targets = [world.private, world.queued]
    if persona.startswith("b_"):
        targets.append(world.shared_queued)  # shared, but not with B
    for image_id in targets:
        for name, action in image_actions(world, image_id).items():
            r = await act(client, h, action)
            if r.status_code != 404 or not is_glance_error(r):
                problems.append(f"{persona} {name} {image_id[:8]}: {r.status_code} {r.text[:120]}")
    assert not problems, "\n".join(problems)
    assert await snapshot(mgr, world.a) == before


@pytest.mark.parametrize("persona", ["b_member", "b_reader"])
async def test_strangers_list_nothing_private(
    client: httpx.AsyncClient, world: World, persona: str
) -> None:
    h: H = getattr(world, persona)
    hidden = {world.private, world.queued, world.shared_queued}
    for params in ({}, {"visibility": "private"}, {"visibility": "shared"},
                   {"visibility": "all"}, {"member_status": "all"}, {"owner": world.a},
                   {"id": f"in:{world.private},{world.queued}"}, {"tag": "t"}):
        assert not hidden & await listed_ids(client, h, **params), params
    for image_id in hidden:  # a marker one cannot see is as unknown as a made-up one
        r = await client.get(f"{IMG}/images", headers=h, params={"marker": image_id})
        assert r.status_code == 400 and is_glance_error(r), r.text
        assert image_id in r.json()["message"]


async def test_strangers_cannot_create_or_move_images_into_another_project(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post(f"{IMG}/images", headers=world.b_member, json={"owner": world.a})
    assert r.status_code == 403 and is_glance_error(r), r.text
    own = await create_image(client, world.b_member)
    r = await client.patch(f"{IMG}/images/{own['id']}",
                           headers={**world.b_member, "Content-Type": PATCH},
                           json=[{"op": "replace", "path": "/owner", "value": world.a}])
    assert r.status_code == 403 and is_glance_error(r), r.text
    assert not await listed_ids(client, world.a_member, owner=world.b)


async def test_strangers_see_no_tasks_and_no_private_namespace(
    client: httpx.AsyncClient, world: World
) -> None:
    for h in (world.b_member, world.b_reader):
        r = await client.get(f"{IMG}/tasks", headers=h)
        assert r.status_code == 403 and is_glance_error(r), r.text
        ns = f"{IMG}/metadefs/namespaces/{world.namespace}"
        for method, url in (("GET", ns), ("PUT", ns), ("DELETE", ns),
                            ("GET", f"{ns}/properties"), ("GET", f"{ns}/objects"),
                            ("GET", f"{ns}/tags"), ("POST", f"{ns}/tags/x")):
            kwargs: dict[str, Any] = {"json": {"namespace": world.namespace}} if method == "PUT" \
                else {}
            r = await client.request(method, url, headers=h, **kwargs)
            assert r.status_code == 404 and is_glance_error(r), (method, url, r.text)
        r = await client.get(f"{IMG}/metadefs/namespaces", headers=h)
        assert world.namespace not in {n["namespace"] for n in r.json()["namespaces"]}
    r = await client.get(f"{IMG}/metadefs/namespaces/{world.namespace}", headers=world.a_reader)
    assert r.status_code == 200, r.text


# -- members of a shared image -----------------------------------------------------------------


async def test_member_sees_the_shared_image_but_changes_only_its_membership(
    client: httpx.AsyncClient, mgr: ImageManager, world: World
) -> None:
    h, s = world.c_member, world.shared
    base = f"{IMG}/images/{s}"
    assert (await client.get(base, headers=h)).status_code == 200
    r = await client.get(f"{base}/file", headers=h)
    assert r.status_code == 200 and r.content == b"tenant data", r.text
    before = await snapshot(mgr, world.a)
    expected = {
        "update": 403, "delete": 403, "deactivate": 403, "reactivate": 403,
        "add-tag": 403, "delete-tag": 403, "add-member": 403, "delete-member": 403,
        "delete-from-store": 403, "import-copy": 403,
    }
    actions = image_actions(world, s)
    problems = []
    for name, status in expected.items():
        r = await act(client, h, actions[name])
        if r.status_code != status or not is_glance_error(r):
            problems.append(f"{name}: {r.status_code} {r.text[:120]}")
    queued = image_actions(world, world.shared_queued)
    for name in ("upload", "stage", "import-web"):
        r = await act(client, h, queued[name])
        if r.status_code != 403 or not is_glance_error(r):
            problems.append(f"{name} (queued): {r.status_code} {r.text[:120]}")
    # another member's membership: invisible (404) to read, forbidden (403) to change
    r = await client.get(f"{base}/members/{world.b}", headers=h)
    if r.status_code != 404:
        problems.append(f"show other member: {r.status_code}")
    r = await client.put(f"{base}/members/{world.b}", headers=h, json={"status": "accepted"})
    if r.status_code != 403:
        problems.append(f"accept for other member: {r.status_code}")
    # the owner cannot answer for its member
    r = await client.put(f"{base}/members/{world.c}", headers=world.a_member,
                         json={"status": "accepted"})
    if r.status_code != 403:
        problems.append(f"owner accepts for member: {r.status_code}")
    assert not problems, "\n".join(problems)
    assert await snapshot(mgr, world.a) == before
    r = await client.get(f"{base}/members", headers=h)
    assert r.status_code == 200
    assert [m["member_id"] for m in r.json()["members"]] == [world.c]
    owner_view = await client.get(f"{base}/members", headers=world.a_member)
    assert {m["member_id"] for m in owner_view.json()["members"]} == {world.b, world.c}


async def test_member_accepts_and_then_lists_the_shared_image(
    client: httpx.AsyncClient, world: World
) -> None:
    h, s = world.c_member, world.shared_queued
    assert s not in await listed_ids(client, h)
    assert s in await listed_ids(client, h, member_status="pending")
    r = await client.put(f"{IMG}/images/{s}/members/{world.c}", headers=h,
                         json={"status": "accepted"})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    assert s in await listed_ids(client, h)
    r = await client.put(f"{IMG}/images/{s}/members/{world.c}", headers=h,
                         json={"status": "rejected"})
    assert r.status_code == 200, r.text
    assert s not in await listed_ids(client, h)
    assert s not in await listed_ids(client, world.b_member, member_status="all")


async def test_member_reader_reads_but_neither_downloads_nor_answers(
    client: httpx.AsyncClient, world: World
) -> None:
    h, s = world.c_reader, world.shared
    assert (await client.get(f"{IMG}/images/{s}", headers=h)).status_code == 200
    r = await client.get(f"{IMG}/images/{s}/members", headers=h)
    assert r.status_code == 200 and [m["member_id"] for m in r.json()["members"]] == [world.c]
    r = await client.get(f"{IMG}/images/{s}/file", headers=h)
    assert r.status_code == 403 and is_glance_error(r), r.text
    r = await client.put(f"{IMG}/images/{s}/members/{world.c}", headers=h,
                         json={"status": "accepted"})
    assert r.status_code == 403 and is_glance_error(r), r.text


# -- readers of the owning project ------------------------------------------------------------


async def test_reader_of_the_owner_reads_and_writes_nothing(
    client: httpx.AsyncClient, mgr: ImageManager, world: World
) -> None:
    h = world.a_reader
    assert (await client.get(f"{IMG}/images/{world.private}", headers=h)).status_code == 200
    assert {world.private, world.queued} <= await listed_ids(client, h)
    before = await snapshot(mgr, world.a)
    problems = []
    writes = ("update", "delete", "download", "deactivate", "reactivate", "add-tag",
              "delete-tag", "delete-from-store")
    for name in writes:
        r = await act(client, h, image_actions(world, world.private)[name])
        if r.status_code != 403 or not is_glance_error(r):
            problems.append(f"{name}: {r.status_code} {r.text[:120]}")
    for name in ("upload", "stage", "import-web"):
        r = await act(client, h, image_actions(world, world.queued)[name])
        if r.status_code != 403 or not is_glance_error(r):
            problems.append(f"{name}: {r.status_code} {r.text[:120]}")
    for name in ("add-member", "delete-member", "accept-member"):
        r = await act(client, h, image_actions(world, world.shared)[name])
        if r.status_code != 403 or not is_glance_error(r):
            problems.append(f"{name}: {r.status_code} {r.text[:120]}")
    r = await client.post(f"{IMG}/images", headers=h, json={"name": "by-reader"})
    if r.status_code != 403:
        problems.append(f"create: {r.status_code}")
    r = await client.post(f"{IMG}/metadefs/namespaces", headers=h,
                          json={"namespace": f"ns-{uuid.uuid4().hex[:8]}"})
    if r.status_code != 403:
        problems.append(f"create namespace: {r.status_code}")
    assert not problems, "\n".join(problems)
    assert await snapshot(mgr, world.a) == before
