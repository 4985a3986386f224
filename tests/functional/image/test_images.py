"""Images: discovery, create, show, list, JSON patch, delete, actions and tags."""

from __future__ import annotations

import uuid

import httpx

from tests.functional.image.conftest import IMG, PATCH, create_image, patch, upload

CORE_KEYS = {
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
    "os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format",
    "created_at", "updated_at", "tags", "min_ram", "min_disk", "self", "file", "schema",
}


async def test_version_discovery(api: httpx.AsyncClient) -> None:
    r = await api.get("/image/")
    assert r.status_code == 300
    versions = r.json()["versions"]
    assert versions[0] == {"id": "v2.17", "status": "CURRENT",
                           "links": [{"rel": "self", "href": "http://testserver/image/v2/"}]}
    assert {v["id"] for v in versions} >= {"v2.0", "v2.6", "v2.9"}
    assert (await api.get("/image/versions")).status_code == 200
    assert (await api.get("/image")).status_code == 300


async def test_requires_token(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{IMG}/images")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401


async def test_create_defaults(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    r = await api.post(f"{IMG}/images", headers=demo, json={"name": "cirros"})
    assert r.status_code == 201, r.text
    img = r.json()
    assert img.keys() >= CORE_KEYS
    assert img["status"] == "queued"
    assert img["visibility"] == "shared"
    assert img["protected"] is False and img["os_hidden"] is False
    assert img["size"] is None and img["checksum"] is None and img["disk_format"] is None
    assert img["min_ram"] == 0 and img["min_disk"] == 0 and img["tags"] == []
    assert img["self"] == f"/v2/images/{img['id']}"
    assert img["file"] == f"/v2/images/{img['id']}/file"
    assert img["schema"] == "/v2/schemas/image"
    assert img["created_at"].endswith("Z") and len(img["created_at"]) == 20
    uuid.UUID(img["id"])
    assert r.headers["Location"].endswith(f"/image/v2/images/{img['id']}")
    assert "glance-direct" in r.headers["OpenStack-image-import-methods"]
    assert r.headers["OpenStack-image-store-ids"] == "file,backup"


async def test_create_every_core_property(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    image_id = str(uuid.uuid4())
    img = await create_image(
        api, demo, id=image_id, name="full", visibility="private", disk_format="qcow2",
        container_format="bare", min_disk=2, min_ram=512, protected=True, os_hidden=True,
        tags=["a", "b", "a"], hw_disk_bus="virtio", os_distro="cirros",
    )
    assert img["id"] == image_id
    assert (img["visibility"], img["disk_format"], img["container_format"]) == (
        "private", "qcow2", "bare")
    assert (img["min_disk"], img["min_ram"], img["protected"], img["os_hidden"]) == (
        2, 512, True, True)
    assert sorted(img["tags"]) == ["a", "b"]
    assert img["hw_disk_bus"] == "virtio" and img["os_distro"] == "cirros"
    shown = (await api.get(f"{IMG}/images/{image_id}", headers=demo)).json()
    assert shown == img
    # the same id again is a conflict
    r = await api.post(f"{IMG}/images", headers=demo, json={"id": image_id})
    assert r.status_code == 409
    assert r.json()["code"] == "409 Conflict"
    await patch(api, demo, image_id, [{"op": "replace", "path": "/protected", "value": False}])


async def test_every_format_accepted(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    for fmt in ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"):
        await create_image(api, demo, disk_format=fmt)
    for fmt in ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"):
        await create_image(api, demo, container_format=fmt)


async def test_create_bad_input(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    cases = [
        ({"disk_format": "floppy"}, 400),
        ({"container_format": "zip"}, 400),
        ({"visibility": "everyone"}, 400),
        ({"min_ram": "lots"}, 400),
        ({"min_disk": -1}, 400),
        ({"protected": "yes"}, 400),
        ({"name": "x" * 256}, 400),
        ({"tags": "notalist"}, 400),
        ({"tags": ["x" * 256]}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"free": 5}, 400),
        ({"k" * 256: "v"}, 400),
        ({"status": "active"}, 403),
        ({"size": 5}, 403),
        ({"checksum": "abc"}, 403),
        ({"self": "/x"}, 403),
        ({"file": "/x"}, 403),
        ({"stores": "file"}, 403),
        ({"location": "file:///etc/passwd"}, 403),
        ({"deleted": "true"}, 403),
        ({"os_glance_import_task": "x"}, 403),
        ({"visibility": "public"}, 403),  # publicize_image is admin only
        ({"owner": "someone-else"}, 403),
    ]
    for body, code in cases:
        r = await api.post(f"{IMG}/images", headers=demo, json=body)
        assert r.status_code == code, (body, r.text)
        assert "message" in r.json()
    r = await api.post(f"{IMG}/images", headers={**demo, "Content-Type": "application/json"},
                       content=b"{not json")
    assert r.status_code == 400
    r = await api.post(f"{IMG}/images", headers=demo, json=["a"])
    assert r.status_code == 400
    r = await api.post(f"{IMG}/images", headers=demo, json={"name": "a\x00b"})
    assert r.status_code == 400


async def test_property_and_tag_limits(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    props = {f"p{i}": "v" for i in range(129)}
    r = await api.post(f"{IMG}/images", headers=demo, json=props)
    assert r.status_code == 413
    r = await api.post(f"{IMG}/images", headers=demo, json={"tags": [str(i) for i in range(129)]})
    assert r.status_code == 413


async def test_admin_may_publicize_and_set_owner(
    api: httpx.AsyncClient, admin: dict[str, str], alice: tuple[str, dict[str, str]]
) -> None:
    project, _ = alice
    img = await create_image(api, admin, visibility="public", owner=project)
    assert img["visibility"] == "public" and img["owner"] == project


async def test_show_unknown(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    r = await api.get(f"{IMG}/images/{uuid.uuid4()}", headers=demo)
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == "404 Not Found" and body["title"] == "Not Found"
    assert "No image found" in body["message"]
    assert (await api.get(f"{IMG}/images/garbage", headers=demo)).status_code == 404


async def test_empty_image_id_is_not_found(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    """``/v2/images/`` (an empty id) is no image, as in Glance: 404, never a redirect to the
    list (a DELETE redirected there would be followed by some clients)."""
    for method in ("GET", "DELETE", "PATCH", "HEAD"):
        r = await api.request(method, f"{IMG}/images/", headers=demo)
        assert r.status_code == 404, (method, r.status_code)
        if method != "HEAD":
            assert r.json()["code"] == "404 Not Found"
    r = await api.get(f"{IMG}/images/{uuid.uuid4()}/", headers=demo)
    assert r.status_code == 404
    assert (await api.get(f"{IMG}/images", headers=demo)).status_code == 200
    assert (await api.get("/image/v2/", headers=demo)).status_code == 300  # versions


async def test_patch_properties(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    img = await create_image(api, demo, name="before", kept="1")
    image_id = img["id"]
    r = await patch(api, demo, image_id, [
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "add", "path": "/color", "value": "blue"},
        {"op": "add", "path": "/kept", "value": "2"},  # add replaces (v2.1 patch)
        {"op": "replace", "path": "/min_ram", "value": 256},
        {"op": "add", "path": "/tags", "value": ["t1", "t2"]},
        {"op": "replace", "path": "/os_hidden", "value": True},
    ])
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["name"], out["color"], out["kept"], out["min_ram"]) == ("after", "blue", "2", 256)
    assert sorted(out["tags"]) == ["t1", "t2"] and out["os_hidden"] is True
    assert out["updated_at"] >= img["updated_at"]
    r = await patch(api, demo, image_id, [{"op": "remove", "path": "/color"}])
    assert r.status_code == 200 and "color" not in r.json()
    shown = (await api.get(f"{IMG}/images/{image_id}", headers=demo)).json()
    assert "color" not in shown and shown["kept"] == "2"


async def test_patch_errors(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    image_id = (await create_image(api, demo))["id"]
    cases = [
        ([{"op": "replace", "path": "/nothere", "value": "x"}], 409),
        ([{"op": "remove", "path": "/nothere"}], 409),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/id", "value": str(uuid.uuid4())}], 403),
        ([{"op": "add", "path": "/os_glance_x", "value": "1"}], 403),
        ([{"op": "replace", "path": "/owner", "value": "other"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "add", "path": "/locations", "value": []}], 403),
        ([{"op": "move", "path": "/name", "from": "/x"}], 400),
        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400),
        ([{"op": "replace", "path": "/name"}], 400),
        ([{"op": "replace", "path": "name", "value": "x"}], 400),
        ([{"op": "add", "path": "/tags/0", "value": "x"}], 400),
        ([{"op": "add", "path": "/free", "value": 1}], 400),
        ({"op": "add"}, 400),
        (["not an object"], 400),
    ]
    for ops, code in cases:
        r = await patch(api, demo, image_id, ops)  # type: ignore[arg-type]
        assert r.status_code == code, (ops, r.text)
    r = await patch(api, demo, image_id, [], content_type="application/json")
    assert r.status_code == 415
    assert "application/openstack-images-v2.1-json-patch" in r.headers["Accept-Patch"]
    # the v2.0 (draft 4) patch format: add of an existing attribute is a conflict
    r = await patch(api, demo, image_id, [{"add": "/name", "value": "x"}],
                    content_type="application/openstack-images-v2.0-json-patch")
    assert r.status_code == 409
    r = await patch(api, demo, image_id, [{"replace": "/name", "value": "x"}],
                    content_type="application/openstack-images-v2.0-json-patch")
    assert r.status_code == 200 and r.json()["name"] == "x"
    r = await patch(api, demo, str(uuid.uuid4()), [])
    assert r.status_code == 404


async def test_format_change_only_while_queued(
    api: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    img = await create_image(api, demo, disk_format="iso", container_format="bare")
    r = await patch(api, demo, img["id"], [{"op": "replace", "path": "/disk_format",
                                            "value": "raw"}])
    assert r.status_code == 200
    assert (await upload(api, demo, img["id"], b"x" * 10)).status_code == 204
    r = await patch(api, demo, img["id"], [{"op": "replace", "path": "/disk_format",
                                            "value": "qcow2"}])
    assert r.status_code == 403


async def test_delete_and_protected(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    img = await create_image(api, demo, protected=True)
    r = await api.delete(f"{IMG}/images/{img['id']}", headers=demo)
    assert r.status_code == 403
    assert "protected" in r.json()["message"]
    assert (await patch(api, demo, img["id"], [
        {"op": "replace", "path": "/protected", "value": False}])).status_code == 200
    assert (await api.delete(f"{IMG}/images/{img['id']}", headers=demo)).status_code == 204
    assert (await api.get(f"{IMG}/images/{img['id']}", headers=demo)).status_code == 404
    assert (await api.delete(f"{IMG}/images/{img['id']}", headers=demo)).status_code == 404


async def test_tags(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    image_id = (await create_image(api, demo))["id"]
    assert (await api.put(f"{IMG}/images/{image_id}/tags/blue", headers=demo)).status_code == 204
    assert (await api.put(f"{IMG}/images/{image_id}/tags/blue", headers=demo)).status_code == 204
    assert (await api.put(f"{IMG}/images/{image_id}/tags/red", headers=demo)).status_code == 204
    tags = (await api.get(f"{IMG}/images/{image_id}", headers=demo)).json()["tags"]
    assert sorted(tags) == ["blue", "red"]
    r = await api.delete(f"{IMG}/images/{image_id}/tags/blue", headers=demo)
    assert r.status_code == 204
    r = await api.delete(f"{IMG}/images/{image_id}/tags/blue", headers=demo)
    assert r.status_code == 404
    long_tag = "x" * 256
    r = await api.put(f"{IMG}/images/{image_id}/tags/{long_tag}", headers=demo)
    assert r.status_code == 400


async def test_deactivate_reactivate(
    api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str]
) -> None:
    img = await create_image(api, demo, disk_format="raw", container_format="bare",
                             visibility="community")
    image_id = img["id"]
    r = await api.post(f"{IMG}/images/{image_id}/actions/deactivate", headers=demo)
    assert r.status_code == 403  # queued images cannot be deactivated
    assert (await upload(api, demo, image_id, b"data")).status_code == 204
    r = await api.post(f"{IMG}/images/{image_id}/actions/deactivate", headers=demo)
    assert r.status_code == 204
    shown = (await api.get(f"{IMG}/images/{image_id}", headers=demo)).json()
    assert shown["status"] == "deactivated"
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=demo)
    assert r.status_code == 403
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=admin)
    assert r.status_code == 200 and r.content == b"data"
    r = await api.post(f"{IMG}/images/{image_id}/actions/reactivate", headers=demo)
    assert r.status_code == 204
    assert (await api.get(f"{IMG}/images/{image_id}/file", headers=demo)).content == b"data"


async def test_schemas(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    image = (await api.get(f"{IMG}/schemas/image", headers=demo)).json()
    assert image["name"] == "image"
    assert image["additionalProperties"] == {"type": "string"}
    assert "qcow2" in image["properties"]["disk_format"]["enum"]
    assert image["properties"]["visibility"]["enum"] == ["community", "public", "private",
                                                          "shared"]
    images = (await api.get(f"{IMG}/schemas/images", headers=demo)).json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    member = (await api.get(f"{IMG}/schemas/member", headers=demo)).json()
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = (await api.get(f"{IMG}/schemas/members", headers=demo)).json()
    assert members["name"] == "members"
    assert (await api.get(f"{IMG}/schemas/nothing", headers=demo)).status_code == 404


async def test_info(api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str]) -> None:
    body = (await api.get(f"{IMG}/info/import", headers=demo)).json()
    assert body["import-methods"]["value"] == ["glance-direct", "web-download", "copy-image"]
    stores = (await api.get(f"{IMG}/info/stores", headers=demo)).json()["stores"]
    assert stores == [{"id": "file", "default": "true"},
                      {"id": "backup", "description": "second store"}]
    assert (await api.get(f"{IMG}/info/stores/detail", headers=demo)).status_code == 403
    detail = (await api.get(f"{IMG}/info/stores/detail", headers=admin)).json()["stores"]
    assert detail[0]["type"] == "file" and "data_dir" in detail[0]["properties"]
    usage = (await api.get(f"{IMG}/info/usage", headers=demo)).json()["usage"]
    assert set(usage) == {"image_count_total", "image_count_uploading", "image_size_total",
                          "image_stage_total"}
    assert usage["image_count_total"]["usage"] >= 1


async def test_patch_content_type_header_name(api: httpx.AsyncClient, demo: dict[str, str]
                                              ) -> None:
    image_id = (await create_image(api, demo))["id"]
    r = await api.patch(f"{IMG}/images/{image_id}", content=b'[]',
                        headers={**demo, "Content-Type": PATCH + "; charset=UTF-8"})
    assert r.status_code == 200


async def test_cache_api_not_enabled(api: httpx.AsyncClient, demo: dict[str, str],
                                     admin: dict[str, str]) -> None:
    assert (await api.get(f"{IMG}/cache", headers=demo)).status_code == 403
    r = await api.get(f"{IMG}/cache", headers=admin)
    assert r.status_code == 404 and "not supported" in r.json()["message"]
    r = await api.put(f"{IMG}/cache/{uuid.uuid4()}", headers=admin)
    assert r.status_code == 404
