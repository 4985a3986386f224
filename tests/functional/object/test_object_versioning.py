"""Object versioning, the newer API: X-Versions-Enabled, X-Object-Version-Id, ?version-id on
GET/HEAD/DELETE, ?versions listings, delete markers, suspension and the null version."""

from __future__ import annotations

from tests.functional.object.conftest import Account

MARKER = "application/x-deleted;swift_versions_deleted=1"


async def versioned(demo: Account) -> str:
    name = await demo.container("ver", **{"X-Versions-Enabled": "true"})
    r = await demo.request("HEAD", f"/{name}")
    assert r.headers["x-versions-enabled"] == "True"
    return name


async def put(demo: Account, path: str, body: bytes) -> str:
    r = await demo.request("PUT", path, content=body)
    assert r.status_code == 201, r.text
    return r.headers["x-object-version-id"]


async def versions(demo: Account, name: str, **params: str) -> list[dict]:
    r = await demo.request("GET", f"/{name}", params={"versions": "", "format": "json",
                                                     **params})
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_put_is_a_version_readable_by_id(demo: Account) -> None:
    name = await versioned(demo)
    ids = [await put(demo, f"/{name}/doc", body) for body in (b"one", b"two", b"three")]
    assert len(set(ids)) == 3 and ids == sorted(ids)
    r = await demo.request("GET", f"/{name}/doc")
    assert r.content == b"three" and r.headers["x-object-version-id"] == ids[2]
    for vid, body in zip(ids, (b"one", b"two", b"three"), strict=True):
        r = await demo.request("GET", f"/{name}/doc", params={"version-id": vid})
        assert r.status_code == 200 and r.content == body
        assert r.headers["x-object-version-id"] == vid
        r = await demo.request("HEAD", f"/{name}/doc", params={"version-id": vid})
        assert r.status_code == 200 and r.headers["content-length"] == str(len(body))
    # the plain listing shows the latest only; ?versions shows all, newest first
    r = await demo.request("GET", f"/{name}?format=json")
    assert [(e["name"], e["bytes"]) for e in r.json()] == [("doc", 5)]
    listed = await versions(demo, name)
    assert [(e["name"], e["version_id"], e["is_latest"]) for e in listed] == [
        ("doc", ids[2], True), ("doc", ids[1], False), ("doc", ids[0], False)]
    # the hidden versions container never shows in the account listing
    r = await demo.request("GET", "", params={"format": "json", "prefix": ""})
    assert all("\x00" not in c["name"] for c in r.json())


async def test_delete_writes_a_marker_and_versions_can_be_deleted(demo: Account) -> None:
    name = await versioned(demo)
    v1 = await put(demo, f"/{name}/doc", b"one")
    v2 = await put(demo, f"/{name}/doc", b"two")
    r = await demo.request("DELETE", f"/{name}/doc")
    assert r.status_code == 204
    marker = r.headers["x-object-version-id"]
    assert marker > v2
    assert (await demo.request("GET", f"/{name}/doc")).status_code == 404
    r = await demo.request("GET", f"/{name}/doc", params={"version-id": v2})
    assert r.content == b"two"
    listed = await versions(demo, name)
    first = listed[0]
    assert (first["version_id"], first["is_latest"], first["content_type"]) == (
        marker, True, MARKER)
    assert [e["version_id"] for e in listed] == [marker, v2, v1]
    # deleting the marker brings the newest version back
    r = await demo.request("DELETE", f"/{name}/doc", params={"version-id": marker})
    assert r.status_code == 204 and r.headers["x-object-version-id"] == marker
    r = await demo.request("GET", f"/{name}/doc")
    assert r.content == b"two" and r.headers["x-object-version-id"] == v2
    # deleting the current version by id makes the previous one current
    assert (await demo.request("DELETE", f"/{name}/doc",
                               params={"version-id": v2})).status_code == 204
    r = await demo.request("GET", f"/{name}/doc")
    assert r.content == b"one" and r.headers["x-object-version-id"] == v1
    assert [e["version_id"] for e in await versions(demo, name)] == [v1]
    # an old version deleted by id is gone; a container with versions cannot be deleted
    v3 = await put(demo, f"/{name}/doc", b"three")
    assert (await demo.request("DELETE", f"/{name}/doc",
                               params={"version-id": v1})).status_code == 204
    assert (await demo.request("GET", f"/{name}/doc",
                               params={"version-id": v1})).status_code == 404
    assert [e["version_id"] for e in await versions(demo, name)] == [v3]
    assert (await demo.request("DELETE", f"/{name}/doc",
                               params={"version-id": v3})).status_code == 204
    assert (await demo.request("GET", f"/{name}/doc")).status_code == 404
    assert await versions(demo, name) == []
    assert (await demo.request("DELETE", f"/{name}")).status_code == 204


async def test_container_with_versions_is_not_deleted(demo: Account) -> None:
    name = await versioned(demo)
    await put(demo, f"/{name}/a", b"1")
    await put(demo, f"/{name}/a", b"2")
    await demo.request("DELETE", f"/{name}/a")
    r = await demo.request("DELETE", f"/{name}")
    assert r.status_code == 409


async def test_null_version_and_suspension(demo: Account) -> None:
    name = await demo.container("nullver")
    assert (await demo.request("PUT", f"/{name}/old", content=b"before")).status_code == 201
    r = await demo.request("POST", f"/{name}", headers={"X-Versions-Enabled": "true"})
    assert r.status_code == 204
    assert (await demo.request("GET", f"/{name}/old")).headers["x-object-version-id"] == "null"
    v1 = await put(demo, f"/{name}/old", b"after")
    r = await demo.request("GET", f"/{name}/old", params={"version-id": "null"})
    assert r.status_code == 200 and r.content == b"before"
    assert [e["version_id"] for e in await versions(demo, name)] == [v1, "null"]
    # suspended: new writes are the null version; what was kept stays
    r = await demo.request("POST", f"/{name}", headers={"X-Versions-Enabled": "false"})
    assert r.status_code == 204
    assert (await demo.request("HEAD", f"/{name}")).headers["x-versions-enabled"] == "False"
    r = await demo.request("PUT", f"/{name}/old", content=b"suspended")
    assert r.status_code == 201 and "x-object-version-id" not in r.headers
    assert (await demo.request("GET", f"/{name}/old")).content == b"suspended"
    r = await demo.request("GET", f"/{name}/old", params={"version-id": v1})
    assert r.content == b"after"


async def test_versions_listing_pages(demo: Account) -> None:
    name = await versioned(demo)
    ids = {obj: [await put(demo, f"/{name}/{obj}", bytes([65 + i])) for i in range(3)]
           for obj in ("a", "b")}
    listed = await versions(demo, name)
    want = [(o, v) for o in ("a", "b") for v in reversed(ids[o])]
    assert [(e["name"], e["version_id"]) for e in listed] == want
    page = await versions(demo, name, limit="2")
    assert [(e["name"], e["version_id"]) for e in page] == want[:2]
    rest = await versions(demo, name, marker="a", version_marker=page[-1]["version_id"])
    assert [(e["name"], e["version_id"]) for e in rest] == want[2:]
    after_a = await versions(demo, name, marker="a")
    assert [(e["name"], e["version_id"]) for e in after_a] == want[3:]
    assert [e["name"] for e in await versions(demo, name, prefix="b")] == ["b"] * 3


async def test_bad_requests(demo: Account) -> None:
    name = await versioned(demo)
    plain = await demo.container("plain")
    await demo.request("PUT", f"/{plain}/x", content=b"x")
    for method, path, params, headers in [
        ("GET", f"/{plain}/x", {"version-id": "1"}, {}),
        ("DELETE", f"/{plain}/x", {"version-id": "1"}, {}),
        ("GET", f"/{name}/x", {"version-id": "not-a-timestamp"}, {}),
        ("PUT", f"/{name}/x", {"version-id": "1"}, {}),
        ("POST", f"/{name}", {}, {"X-Versions-Enabled": "maybe"}),
        ("POST", f"/{name}", {}, {"X-Versions-Location": plain}),
        ("GET", f"/{plain}", {"versions": ""}, {}),
        ("GET", f"/{name}", {"versions": "", "version_marker": "1"}, {}),
    ]:
        r = await demo.request(method, path, params=params, headers=headers)
        assert r.status_code == 400, (method, path, params, headers, r.status_code)
    legacy = await demo.container("legacy", **{"X-Versions-Location": plain})
    r = await demo.request("POST", f"/{legacy}", headers={"X-Versions-Enabled": "true"})
    assert r.status_code == 400


async def test_parallel_deletes_of_every_version_leave_nothing(demo: Account) -> None:
    """What ``swift delete --versions`` does: all versions deleted at once."""
    import asyncio

    name = await versioned(demo)
    ids = [await put(demo, f"/{name}/doc", bytes([i])) for i in range(4)]
    results = await asyncio.gather(*(
        demo.request("DELETE", f"/{name}/doc", params={"version-id": v})
        for v in reversed(ids)))  # the current one first: its delete promotes the next
    assert all(r.status_code in (204, 404) for r in results)
    assert (await demo.request("GET", f"/{name}/doc")).status_code == 404
    assert await versions(demo, name) == []
    assert (await demo.request("DELETE", f"/{name}")).status_code == 204
