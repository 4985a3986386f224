"""Sharing as Glance documents it: visibilities, members and what each party may do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.functional.image.conftest import IMG, create_image, new_project_user, patch, upload

Party = tuple[str, dict[str, str]]


@pytest.fixture
async def owner(api: httpx.AsyncClient, admin: dict[str, str]) -> Party:
    return await new_project_user(api, admin)


@pytest.fixture
async def other(api: httpx.AsyncClient, admin: dict[str, str]) -> Party:
    return await new_project_user(api, admin)


async def listed(api: httpx.AsyncClient, h: dict[str, str], image_id: str, **params: Any
                 ) -> bool:
    r = await api.get(f"{IMG}/images", headers=h, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return image_id in {i["id"] for i in r.json()["images"]}


async def active_image(api: httpx.AsyncClient, h: dict[str, str], visibility: str
                       ) -> dict[str, Any]:
    img = await create_image(api, h, visibility=visibility, disk_format="raw",
                             container_format="bare")
    assert (await upload(api, h, img["id"], b"payload")).status_code == 204
    return img


@pytest.mark.parametrize(
    ("visibility", "other_sees", "other_lists", "other_lists_all"),
    [
        ("public", True, True, True),
        ("community", True, False, True),
        ("shared", False, False, False),
        ("private", False, False, False),
    ],
)
async def test_visibility_matrix(
    api: httpx.AsyncClient, owner: Party, other: Party, admin: dict[str, str],
    visibility: str, other_sees: bool, other_lists: bool, other_lists_all: bool,
) -> None:
    _, oh = owner
    _, xh = other
    h = admin if visibility == "public" else oh
    img = await active_image(api, h, visibility)
    image_id = img["id"]
    if visibility == "public":  # the admin made it for the owner's sake; re-own it
        r = await patch(api, admin, image_id, [{"op": "replace", "path": "/owner",
                                                "value": owner[0]}])
        assert r.status_code == 200, r.text
    # the owner always sees, lists and downloads
    assert (await api.get(f"{IMG}/images/{image_id}", headers=oh)).status_code == 200
    assert await listed(api, oh, image_id)
    assert (await api.get(f"{IMG}/images/{image_id}/file", headers=oh)).content == b"payload"
    # another project
    r = await api.get(f"{IMG}/images/{image_id}", headers=xh)
    assert r.status_code == (200 if other_sees else 404)
    assert await listed(api, xh, image_id) is other_lists
    assert await listed(api, xh, image_id, visibility="all") is other_lists_all
    assert await listed(api, xh, image_id, visibility=visibility) is other_sees
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=xh)
    assert r.status_code == (200 if other_sees else 404)
    # nobody else may change or delete it
    r = await patch(api, xh, image_id, [{"op": "replace", "path": "/name", "value": "x"}])
    assert r.status_code == (403 if other_sees else 404)
    r = await api.delete(f"{IMG}/images/{image_id}", headers=xh)
    assert r.status_code == (403 if other_sees else 404)
    r = await upload(api, xh, image_id, b"x")
    assert r.status_code == (403 if other_sees else 404)
    # the admin sees everything (community only on request, as Glance lists)
    assert (await api.get(f"{IMG}/images/{image_id}", headers=admin)).status_code == 200
    assert await listed(api, admin, image_id, visibility="all")


async def test_member_lifecycle(
    api: httpx.AsyncClient, owner: Party, other: Party, admin: dict[str, str]
) -> None:
    _, oh = owner
    other_id, xh = other
    img = await active_image(api, oh, "shared")
    image_id = img["id"]
    assert (await api.get(f"{IMG}/images/{image_id}", headers=xh)).status_code == 404

    r = await api.post(f"{IMG}/images/{image_id}/members", headers=oh,
                       json={"member": other_id})
    assert r.status_code == 200, r.text
    member = r.json()
    assert member["member_id"] == other_id and member["image_id"] == image_id
    assert member["status"] == "pending" and member["schema"] == "/v2/schemas/member"
    r = await api.post(f"{IMG}/images/{image_id}/members", headers=oh,
                       json={"member": other_id})
    assert r.status_code == 409

    # pending: the member sees and boots it, but it is not in its default list
    assert (await api.get(f"{IMG}/images/{image_id}", headers=xh)).status_code == 200
    assert (await api.get(f"{IMG}/images/{image_id}/file", headers=xh)).status_code == 200
    assert not await listed(api, xh, image_id)
    assert await listed(api, xh, image_id, member_status="pending")
    assert await listed(api, xh, image_id, member_status="all")

    # only the member decides its status
    r = await api.put(f"{IMG}/images/{image_id}/members/{other_id}", headers=oh,
                      json={"status": "accepted"})
    assert r.status_code == 403
    r = await api.put(f"{IMG}/images/{image_id}/members/{other_id}", headers=xh,
                      json={"status": "maybe"})
    assert r.status_code == 400
    r = await api.put(f"{IMG}/images/{image_id}/members/{other_id}", headers=xh,
                      json={"status": "accepted"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert await listed(api, xh, image_id)
    assert await listed(api, xh, image_id, visibility="shared")

    r = await api.put(f"{IMG}/images/{image_id}/members/{other_id}", headers=xh,
                      json={"status": "rejected"})
    assert r.json()["status"] == "rejected"
    assert not await listed(api, xh, image_id)
    assert (await api.get(f"{IMG}/images/{image_id}", headers=xh)).status_code == 200

    # the owner lists every member; the member only itself
    third_id, third_h = await new_project_user(api, admin)
    await api.post(f"{IMG}/images/{image_id}/members", headers=oh, json={"member": third_id})
    owner_view = (await api.get(f"{IMG}/images/{image_id}/members", headers=oh)).json()
    assert {m["member_id"] for m in owner_view["members"]} == {other_id, third_id}
    assert owner_view["schema"] == "/v2/schemas/members"
    member_view = (await api.get(f"{IMG}/images/{image_id}/members", headers=xh)).json()
    assert [m["member_id"] for m in member_view["members"]] == [other_id]
    r = await api.get(f"{IMG}/images/{image_id}/members/{third_id}", headers=xh)
    assert r.status_code == 404
    r = await api.get(f"{IMG}/images/{image_id}/members/{other_id}", headers=xh)
    assert r.status_code == 200

    # a member may not add members, nor remove any; the owner removes
    r = await api.post(f"{IMG}/images/{image_id}/members", headers=xh, json={"member": "zzz"})
    assert r.status_code == 403
    r = await api.delete(f"{IMG}/images/{image_id}/members/{third_id}", headers=xh)
    assert r.status_code == 403
    r = await api.delete(f"{IMG}/images/{image_id}/members/{other_id}", headers=oh)
    assert r.status_code == 204
    assert (await api.get(f"{IMG}/images/{image_id}", headers=xh)).status_code == 404
    r = await api.delete(f"{IMG}/images/{image_id}/members/{other_id}", headers=oh)
    assert r.status_code == 404
    assert third_h  # the third project never accepted: still pending


async def test_members_only_for_shared(api: httpx.AsyncClient, owner: Party, other: Party
                                       ) -> None:
    _, oh = owner
    other_id, _ = other
    for visibility in ("private", "community"):
        img = await create_image(api, oh, visibility=visibility)
        r = await api.post(f"{IMG}/images/{img['id']}/members", headers=oh,
                           json={"member": other_id})
        assert r.status_code == 403
        assert "Only shared images have members" in r.json()["message"]
        r = await api.get(f"{IMG}/images/{img['id']}/members", headers=oh)
        assert r.status_code == 403


async def test_member_bad_input(api: httpx.AsyncClient, owner: Party) -> None:
    _, oh = owner
    img = await create_image(api, oh)
    for body in ({}, {"member": ""}, {"member": 5}, {"member": "x" * 300}):
        r = await api.post(f"{IMG}/images/{img['id']}/members", headers=oh, json=body)
        assert r.status_code == 400, body
    r = await api.put(f"{IMG}/images/{img['id']}/members/x", headers=oh, json={})
    assert r.status_code == 400


async def test_private_to_shared_keeps_members_hidden(
    api: httpx.AsyncClient, owner: Party, other: Party
) -> None:
    """Members of an image made private again lose access until it is shared again."""
    _, oh = owner
    other_id, xh = other
    img = await create_image(api, oh)
    await api.post(f"{IMG}/images/{img['id']}/members", headers=oh, json={"member": other_id})
    assert (await api.get(f"{IMG}/images/{img['id']}", headers=xh)).status_code == 200
    await patch(api, oh, img["id"], [{"op": "replace", "path": "/visibility",
                                      "value": "private"}])
    assert (await api.get(f"{IMG}/images/{img['id']}", headers=xh)).status_code == 404
    await patch(api, oh, img["id"], [{"op": "replace", "path": "/visibility",
                                      "value": "shared"}])
    assert (await api.get(f"{IMG}/images/{img['id']}", headers=xh)).status_code == 200


async def test_reader_role_cannot_write(api: httpx.AsyncClient, admin: dict[str, str]) -> None:
    _, reader = await new_project_user(api, admin, role="reader")
    r = await api.post(f"{IMG}/images", headers=reader, json={"name": "no"})
    assert r.status_code == 403
    assert (await api.get(f"{IMG}/images", headers=reader)).status_code == 200
