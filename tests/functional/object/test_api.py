"""The core Swift API in-process: accounts, containers, objects, listings, status codes."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import httpx

from tests.functional.object.conftest import Account

NOT_FOUND = b"<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"


async def test_info_lists_limits_and_middlewares(client: httpx.AsyncClient) -> None:
    r = await client.get("/object-store/info")
    assert r.status_code == 200
    info = r.json()
    assert info["swift"]["max_file_size"] == 5 * 1024**3 + 2
    assert info["swift"]["container_listing_limit"] == 10000
    for name in ("tempurl", "slo", "bulk_delete", "versioned_writes", "symlink"):
        assert name in info
    assert r.headers["x-trans-id"].startswith("tx")


async def test_catalog_has_the_account_url(client: httpx.AsyncClient, demo: Account) -> None:
    r = await client.get("/identity/v3/auth/catalog", headers=demo.headers)
    urls = [e["url"] for s in r.json()["catalog"] if s["type"] == "object-store"
            for e in s["endpoints"]]
    assert urls and all(u.endswith(f"/object-store/v1/AUTH_{demo.project_id}") for u in urls)


async def test_no_token_is_401_and_another_account_403(demo: Account, other: Account) -> None:
    r = await demo.request("GET", token=False)
    assert r.status_code == 401
    assert b"Unauthorized" in r.content
    r = await demo.client.get(other.url, headers=demo.headers)
    assert r.status_code == 403
    assert r.content == b"<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>"
    r = await demo.request("GET", headers={"X-Auth-Token": "bogus"}, token=False)
    assert r.status_code == 401


async def test_account_metadata_and_counts(demo: Account) -> None:
    name = await demo.container()
    r = await demo.request("PUT", f"/{name}/o", content=b"12345")
    assert r.status_code == 201
    r = await demo.request("POST", headers={"X-Account-Meta-Color": "blue"})
    assert r.status_code == 204
    r = await demo.request("HEAD")
    assert r.status_code == 204
    assert r.headers["x-account-meta-color"] == "blue"
    assert int(r.headers["x-account-container-count"]) >= 1
    assert int(r.headers["x-account-bytes-used"]) >= 5
    r = await demo.request("POST", headers={"X-Remove-Account-Meta-Color": "x"})
    r = await demo.request("HEAD")
    assert "x-account-meta-color" not in r.headers
    # a member cannot set the account quota, nor create or delete accounts
    r = await demo.request("POST", headers={"X-Account-Meta-Quota-Bytes": "10"})
    assert r.status_code == 403
    assert (await demo.request("PUT")).status_code == 405
    assert (await demo.request("DELETE")).status_code == 405


async def test_container_lifecycle(demo: Account) -> None:
    name = await demo.container(**{"X-Container-Meta-Owner": "me"})
    r = await demo.request("PUT", f"/{name}")
    assert r.status_code == 202
    r = await demo.request("HEAD", f"/{name}")
    assert r.status_code == 204
    assert r.headers["x-container-meta-owner"] == "me"
    assert r.headers["x-container-object-count"] == "0"
    assert r.headers["x-storage-policy"] == "Policy-0"
    r = await demo.request("POST", f"/{name}", headers={"X-Container-Meta-Owner": "you"})
    assert r.status_code == 204
    assert (await demo.request("HEAD", f"/{name}")).headers["x-container-meta-owner"] == "you"
    await demo.request("PUT", f"/{name}/o", content=b"x")
    assert (await demo.request("DELETE", f"/{name}")).status_code == 409
    await demo.request("DELETE", f"/{name}/o")
    assert (await demo.request("DELETE", f"/{name}")).status_code == 204
    r = await demo.request("GET", f"/{name}")
    assert r.status_code == 404 and r.content == NOT_FOUND
    assert (await demo.request("DELETE", f"/{name}")).status_code == 404
    assert (await demo.request("POST", f"/{name}")).status_code == 404
    r = await demo.request("PUT", "/bad-policy", headers={"X-Storage-Policy": "gold"})
    assert r.status_code == 400


async def test_object_put_get_head_post_delete(demo: Account) -> None:
    name = await demo.container()
    data = b"hello world" * 100
    etag = hashlib.md5(data).hexdigest()
    r = await demo.request("PUT", f"/{name}/dir/obj.txt", content=data, headers={
        "ETag": etag, "X-Object-Meta-Kind": "greeting", "Content-Disposition": "inline",
        "Content-Encoding": "identity"})
    assert r.status_code == 201 and r.headers["etag"] == etag
    r = await demo.request("GET", f"/{name}/dir/obj.txt")
    assert r.status_code == 200 and r.content == data
    assert r.headers["etag"] == etag
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["x-object-meta-kind"] == "greeting"
    assert r.headers["content-disposition"] == "inline"
    assert r.headers["accept-ranges"] == "bytes"
    r = await demo.request("HEAD", f"/{name}/dir/obj.txt")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(data))
    r = await demo.request("POST", f"/{name}/dir/obj.txt", headers={
        "X-Object-Meta-New": "1", "Content-Type": "application/x-greeting"})
    assert r.status_code == 202
    r = await demo.request("HEAD", f"/{name}/dir/obj.txt")
    assert r.headers["x-object-meta-new"] == "1"
    assert "x-object-meta-kind" not in r.headers  # a POST replaces the user metadata
    assert r.headers["content-type"] == "application/x-greeting"
    listing = (await demo.request("GET", f"/{name}?format=json")).json()
    assert listing[0]["content_type"] == "application/x-greeting"
    assert (await demo.request("DELETE", f"/{name}/dir/obj.txt")).status_code == 204
    assert (await demo.request("GET", f"/{name}/dir/obj.txt")).status_code == 404
    assert (await demo.request("DELETE", f"/{name}/dir/obj.txt")).status_code == 404
    assert (await demo.request("POST", f"/{name}/dir/obj.txt")).status_code == 404
    assert (await demo.request("PUT", "/no-such-container/o", content=b"x")).status_code == 404


async def test_bad_etag_leaves_nothing_behind(demo: Account) -> None:
    name = await demo.container()
    r = await demo.request("PUT", f"/{name}/o", content=b"data", headers={"ETag": "0" * 32})
    assert r.status_code == 422
    assert b"Unprocessable Entity" in r.content
    assert (await demo.request("GET", f"/{name}/o")).status_code == 404
    assert (await demo.request("GET", f"/{name}")).status_code == 204  # empty listing


async def test_chunked_upload(demo: Account) -> None:
    name = await demo.container()
    parts = [b"a" * 70000, b"b" * 3, b"c" * 100000]

    async def body():  # type: ignore[no-untyped-def]
        for part in parts:
            yield part

    r = await demo.request("PUT", f"/{name}/chunked", content=body())
    assert r.status_code == 201
    r = await demo.request("GET", f"/{name}/chunked")
    assert r.content == b"".join(parts)
    assert r.headers["etag"] == hashlib.md5(b"".join(parts)).hexdigest()


async def test_ranges_and_conditions(demo: Account) -> None:
    name = await demo.container()
    data = bytes(range(256)) * 4
    r = await demo.request("PUT", f"/{name}/r", content=data)
    etag = r.headers["etag"]
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=-5"})
    assert r.content == data[-5:]
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=1000-"})
    assert r.content == data[1000:]
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges;boundary=")
    assert b"Content-Range: bytes 0-1/1024" in r.content and data[5:7] in r.content
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=5000-6000"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */1024"
    r = await demo.request("GET", f"/{name}/r", headers={"Range": "bytes=garbage"})
    assert r.status_code == 200 and r.content == data
    assert (await demo.request("GET", f"/{name}/r", headers={"If-None-Match": etag})
            ).status_code == 304
    assert (await demo.request("GET", f"/{name}/r", headers={"If-Match": "nope"})
            ).status_code == 412
    assert (await demo.request("GET", f"/{name}/r", headers={"If-Match": f'"{etag}"'})
            ).status_code == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    future = "Mon, 01 Jan 2091 00:00:00 GMT"
    assert (await demo.request("GET", f"/{name}/r", headers={"If-Modified-Since": future})
            ).status_code == 304
    assert (await demo.request("GET", f"/{name}/r", headers={"If-Unmodified-Since": old})
            ).status_code == 412
    r = await demo.request("PUT", f"/{name}/r", content=b"x", headers={"If-None-Match": "*"})
    assert r.status_code == 412


async def test_copy_and_copy_from(demo: Account, other: Account) -> None:
    name = await demo.container()
    await demo.request("PUT", f"/{name}/src", content=b"source",
                       headers={"X-Object-Meta-A": "1", "Content-Type": "text/x-src"})
    r = await demo.request("COPY", f"/{name}/src", headers={
        "Destination": f"{name}/dst", "X-Object-Meta-B": "2"})
    assert r.status_code == 201
    assert r.headers["x-copied-from"] == f"{name}/src"
    r = await demo.request("GET", f"/{name}/dst")
    assert r.content == b"source" and r.headers["x-object-meta-a"] == "1"
    assert r.headers["x-object-meta-b"] == "2" and r.headers["content-type"] == "text/x-src"
    r = await demo.request("PUT", f"/{name}/dst2", headers={
        "X-Copy-From": f"/{name}/src", "X-Fresh-Metadata": "true", "Content-Length": "0"})
    assert r.status_code == 201
    r = await demo.request("GET", f"/{name}/dst2")
    assert r.content == b"source" and "x-object-meta-a" not in r.headers
    r = await demo.request("PUT", f"/{name}/x", headers={
        "X-Copy-From": f"{name}/missing", "Content-Length": "0"})
    assert r.status_code == 404
    assert (await demo.request("COPY", f"/{name}/src")).status_code == 412
    # into another account: refused without access there
    r = await demo.request("COPY", f"/{name}/src", headers={
        "Destination": "c/o", "Destination-Account": f"AUTH_{other.project_id}"})
    assert r.status_code == 403


async def test_listings(demo: Account) -> None:
    name = await demo.container()
    names = ["a/1", "a/2", "b", "c/x/y", "d", "d0"]
    for n in names:
        await demo.request("PUT", f"/{name}/{n}", content=n.encode())
    base = f"/{name}"

    async def names_of(query: str) -> list[str]:
        r = await demo.request("GET", f"{base}?format=json&{query}")
        assert r.status_code == 200, r.text
        return [e.get("name") or e["subdir"] for e in r.json()]

    assert await names_of("") == names
    assert await names_of("prefix=a/") == ["a/1", "a/2"]
    assert await names_of("delimiter=/") == ["a/", "b", "c/", "d", "d0"]
    assert await names_of("delimiter=/&reverse=true") == ["d0", "d", "c/", "b", "a/"]
    assert await names_of("marker=b&end_marker=d0") == ["c/x/y", "d"]
    assert await names_of("limit=2") == ["a/1", "a/2"]
    assert await names_of("reverse=1&limit=2") == ["d0", "d"]
    assert await names_of("prefix=c/&delimiter=/") == ["c/x/"]
    r = await demo.request("GET", base)
    assert r.text == "".join(n + "\n" for n in names)
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    r = await demo.request("GET", f"{base}?format=xml")
    root = ET.fromstring(r.content)
    assert root.tag == "container" and root.attrib["name"] == name
    assert [o.findtext("name") for o in root.findall("object")] == names
    r = await demo.request("GET", base, headers={"Accept": "application/json"})
    assert r.json()[0]["bytes"] == 3 and r.json()[0]["hash"]
    assert (await demo.request("GET", f"{base}?limit=10001")).status_code == 412
    assert (await demo.request("GET", f"{base}?limit=x")).status_code == 412
    r = await demo.request("GET", "?format=json&prefix=" + name)
    assert [c["name"] for c in r.json()] == [name]
    assert r.json()[0]["count"] == len(names)
    r = await demo.request("GET", "?format=xml&prefix=" + name)
    assert ET.fromstring(r.content).find("container/name").text == name  # type: ignore[union-attr]


async def test_bad_input_is_4xx_never_500(demo: Account) -> None:
    name = await demo.container()
    long_obj = "o" * 1025
    assert (await demo.request("PUT", f"/{name}/{long_obj}", content=b"x")).status_code == 400
    assert (await demo.request("PUT", "/" + "c" * 257)).status_code == 400
    r = await demo.client.put(demo.url + f"/{name}/%FF%FE", headers=demo.headers, content=b"x")
    assert r.status_code == 412 and b"Invalid UTF8" in r.content
    r = await demo.client.put(demo.url + f"/{name}/a%00b", headers=demo.headers, content=b"x")
    assert r.status_code in (400, 412)
    bad_meta = [
        {"X-Object-Meta-" + "k" * 129: "v"},
        {"X-Object-Meta-K": "v" * 257},
        {f"X-Object-Meta-K{i}": "v" for i in range(91)},
        {f"X-Object-Meta-{i:03d}": "v" * 200 for i in range(25)},
        {"X-Delete-At": "1"},
        {"X-Delete-At": "soon"},
        {"X-Delete-After": "-5"},
        {"X-Timestamp": "yesterday"},
        {"X-Object-Manifest": "nocontainerprefix"},
        {"X-Copy-From": "nocontainer"},
    ]
    for headers in bad_meta:
        r = await demo.request("PUT", f"/{name}/m", content=b"x", headers=headers)
        assert 400 <= r.status_code < 500, (headers, r.status_code)
    assert (await demo.request("GET", f"/{name}/m")).status_code == 404
    r = await demo.request("PUT", f"/{name}/len", content=b"x",
                           headers={"Content-Length": str(6 * 1024**3)})
    assert r.status_code == 413
    r = await demo.request("PUT", f"/{name}/m", content=b"x",
                           headers={"X-Container-Meta-" + "k" * 200: "v"})
    assert r.status_code == 201  # headers of other kinds are not the object's
    for method in ("PATCH", "OPTIONS"):
        r = await demo.request(method, f"/{name}/m")
        assert r.status_code in (405, 401, 403, 200), r.status_code
    r = await demo.client.get("/object-store/v2/AUTH_x", headers=demo.headers)
    assert r.status_code == 404


async def test_reader_reads_but_does_not_write(demo: Account, reader: Account) -> None:
    name = await demo.container()
    await demo.request("PUT", f"/{name}/o", content=b"x")
    assert (await reader.request("GET", f"/{name}/o")).status_code == 200
    assert (await reader.request("GET", f"/{name}")).status_code == 200
    assert (await reader.request("PUT", f"/{name}/o2", content=b"x")).status_code == 403
    assert (await reader.request("DELETE", f"/{name}/o")).status_code == 403


async def test_large_body_in_blocks(demo: Account) -> None:
    import os

    name = await demo.container()
    data = os.urandom(3 * 1024 * 1024 + 12345)

    async def body():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    r = await demo.request("PUT", f"/{name}/big", content=body(),
                           headers={"ETag": hashlib.md5(data).hexdigest()})
    assert r.status_code == 201
    r = await demo.request("GET", f"/{name}/big")
    assert r.content == data
    r = await demo.request("PUT", f"/{name}/bad", content=data, headers={"ETag": "0" * 32})
    assert r.status_code == 422
    assert (await demo.request("GET", f"/{name}/bad")).status_code == 404
