"""Large objects, versioning, expiry, symlinks, bulk operations and quotas."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time

import pytest

from onestack.server import Cloud
from tests.functional.object.conftest import Account


def object_service(cloud: Cloud):  # type: ignore[no-untyped-def]
    return next(s for s in cloud.services if s.spec.name == "object")


async def test_dlo(demo: Account) -> None:
    segs = await demo.container("segs")
    name = await demo.container()
    parts = [b"A" * 1000, b"B" * 10, b"C" * 500]
    for i, part in enumerate(parts):
        await demo.request("PUT", f"/{segs}/big/{i:03d}", content=part)
    r = await demo.request("PUT", f"/{name}/big", content=b"",
                           headers={"X-Object-Manifest": f"{segs}/big/"})
    assert r.status_code == 201
    r = await demo.request("GET", f"/{name}/big")
    assert r.content == b"".join(parts)
    etags = "".join(hashlib.md5(p).hexdigest() for p in parts)
    assert r.headers["etag"] == f'"{hashlib.md5(etags.encode()).hexdigest()}"'
    r = await demo.request("GET", f"/{name}/big", headers={"Range": "bytes=995-1012"})
    assert r.status_code == 206 and r.content == b"".join(parts)[995:1013]
    r = await demo.request("GET", f"/{name}/big?multipart-manifest=get")
    assert r.content == b""
    r = await demo.request("HEAD", f"/{name}/big")
    assert r.headers["content-length"] == "1510"


async def test_slo(demo: Account, other: Account) -> None:
    segs = await demo.container("segs")
    name = await demo.container()
    parts = [b"x" * 2000, b"y" * 3000]
    manifest = []
    for i, part in enumerate(parts):
        r = await demo.request("PUT", f"/{segs}/s{i}", content=part)
        manifest.append({"path": f"/{segs}/s{i}", "etag": r.headers["etag"],
                         "size_bytes": len(part)})
    r = await demo.request("PUT", f"/{name}/slo?multipart-manifest=put",
                           content=json.dumps(manifest))
    assert r.status_code == 201, r.text
    r = await demo.request("GET", f"/{name}/slo")
    assert r.content == b"".join(parts)
    assert r.headers["x-static-large-object"] == "True"
    r = await demo.request("GET", f"/{name}/slo", headers={"Range": "bytes=1990-2009"})
    assert r.content == b"x" * 10 + b"y" * 10
    r = await demo.request("GET", f"/{name}/slo?multipart-manifest=get")
    assert [s["name"] for s in r.json()] == [f"/{segs}/s0", f"/{segs}/s1"]
    listing = (await demo.request("GET", f"/{name}?format=json")).json()
    assert listing[0]["bytes"] == 5000
    # bad manifests: a missing segment, a wrong etag, a wrong size, not JSON
    bad = [[{"path": f"/{segs}/missing"}],
           [{"path": f"/{segs}/s0", "etag": "0" * 32}],
           [{"path": f"/{segs}/s0", "size_bytes": 1}]]
    for body in bad:
        r = await demo.request("PUT", f"/{name}/bad?multipart-manifest=put",
                               content=json.dumps(body))
        assert r.status_code == 400 and b"Errors:" in r.content
    r = await demo.request("PUT", f"/{name}/bad?multipart-manifest=put", content=b"{not")
    assert r.status_code == 400
    assert (await demo.request("GET", f"/{name}/bad")).status_code == 404
    # segments in another account are not reachable
    foreign = [{"path": f"/{segs}/s0"}]
    other_c = await other.container()
    r = await other.request("PUT", f"/{other_c}/steal?multipart-manifest=put",
                            content=json.dumps(foreign))
    assert r.status_code == 400
    # delete the manifest and its segments
    r = await demo.request("DELETE", f"/{name}/slo?multipart-manifest=delete",
                           headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["Number Deleted"] == 3
    assert (await demo.request("GET", f"/{segs}/s0")).status_code == 404


async def test_stack_versioning(demo: Account) -> None:
    versions = await demo.container("versions")
    name = await demo.container(**{"X-Versions-Location": versions})
    for body in (b"v1", b"v2", b"v3"):
        await demo.request("PUT", f"/{name}/doc", content=body)
    assert (await demo.request("GET", f"/{name}/doc")).content == b"v3"
    r = await demo.request("GET", f"/{versions}?format=json")
    assert len(r.json()) == 2 and r.json()[0]["name"].startswith("003doc/")
    await demo.request("DELETE", f"/{name}/doc")
    assert (await demo.request("GET", f"/{name}/doc")).content == b"v2"
    await demo.request("DELETE", f"/{name}/doc")
    assert (await demo.request("GET", f"/{name}/doc")).content == b"v1"
    await demo.request("DELETE", f"/{name}/doc")
    assert (await demo.request("GET", f"/{name}/doc")).status_code == 404


async def test_history_versioning(demo: Account) -> None:
    history = await demo.container("history")
    name = await demo.container(**{"X-History-Location": history})
    await demo.request("PUT", f"/{name}/doc", content=b"one")
    await demo.request("PUT", f"/{name}/doc", content=b"two")
    await demo.request("DELETE", f"/{name}/doc")
    assert (await demo.request("GET", f"/{name}/doc")).status_code == 404
    r = await demo.request("GET", f"/{history}?format=json")
    assert len(r.json()) == 2
    r = await demo.request("PUT", "/both", headers={"X-History-Location": history,
                                                     "X-Versions-Location": history})
    assert r.status_code == 400


async def test_expiry_and_expirer(cloud: Cloud, demo: Account) -> None:
    from onestack.object.daemons import run_one

    name = await demo.container()
    r = await demo.request("PUT", f"/{name}/soon", content=b"x",
                           headers={"X-Delete-After": "2"})
    assert r.status_code == 201
    at = int((await demo.request("HEAD", f"/{name}/soon")).headers["x-delete-at"])
    assert at <= time.time() + 3
    await demo.request("PUT", f"/{name}/later", content=b"y",
                       headers={"X-Delete-At": str(int(time.time()) + 3600)})
    time.sleep(max(0.0, at - time.time() + 0.05))
    assert (await demo.request("GET", f"/{name}/soon")).status_code == 404
    report = run_one(object_service(cloud), "expirer")
    assert report["expired"] >= 1
    r = await demo.request("GET", f"/{name}?format=json")
    assert [o["name"] for o in r.json()] == ["later"]
    r = await demo.request("POST", f"/{name}/later", headers={"X-Object-Meta-A": "b"})
    assert (await demo.request("HEAD", f"/{name}/later")).headers.get("x-delete-at")


async def test_symlinks(demo: Account) -> None:
    name = await demo.container()
    await demo.request("PUT", f"/{name}/target", content=b"pointed at")
    r = await demo.request("PUT", f"/{name}/link", content=b"",
                           headers={"X-Symlink-Target": f"{name}/target"})
    assert r.status_code == 201
    r = await demo.request("GET", f"/{name}/link")
    assert r.content == b"pointed at"
    assert r.headers["content-location"].endswith(f"/{name}/target")
    r = await demo.request("GET", f"/{name}/link?symlink=get")
    assert r.content == b"" and r.headers["x-symlink-target"] == f"{name}/target"
    r = await demo.request("PUT", f"/{name}/bad", content=b"",
                           headers={"X-Symlink-Target": "notarget"})
    assert r.status_code == 412
    await demo.request("PUT", f"/{name}/loop1", content=b"",
                       headers={"X-Symlink-Target": f"{name}/loop2"})
    await demo.request("PUT", f"/{name}/loop2", content=b"",
                       headers={"X-Symlink-Target": f"{name}/loop1"})
    assert (await demo.request("GET", f"/{name}/loop1")).status_code == 409


async def test_bulk_delete_and_extract(demo: Account) -> None:
    name = await demo.container()
    for n in ("a", "b"):
        await demo.request("PUT", f"/{name}/{n}", content=b"x")
    body = f"/{name}/a\n/{name}/b\n/{name}/missing\n"
    r = await demo.request("POST", "?bulk-delete", content=body,
                           headers={"Accept": "application/json", "Content-Type": "text/plain"})
    assert r.status_code == 200
    assert r.json()["Number Deleted"] == 2 and r.json()["Number Not Found"] == 1
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for n, data in (("one.txt", b"1"), ("dir/two.txt", b"22")):
            info = tarfile.TarInfo(n)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    r = await demo.request("PUT", f"/{name}?extract-archive=tar.gz", content=buf.getvalue(),
                           headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["Number Files Created"] == 2, r.text
    assert (await demo.request("GET", f"/{name}/dir/two.txt")).content == b"22"
    r = await demo.request("PUT", f"/{name}?extract-archive=tar", content=b"not a tar")
    assert r.status_code == 400


async def test_container_quotas(demo: Account) -> None:
    name = await demo.container(**{"X-Container-Meta-Quota-Bytes": "10",
                                   "X-Container-Meta-Quota-Count": "2"})
    assert (await demo.request("PUT", f"/{name}/a", content=b"123456")).status_code == 201
    r = await demo.request("PUT", f"/{name}/b", content=b"123456")
    assert r.status_code == 413
    assert (await demo.request("GET", f"/{name}/b")).status_code == 404
    assert (await demo.request("PUT", f"/{name}/c", content=b"1")).status_code == 201
    assert (await demo.request("PUT", f"/{name}/d", content=b"1")).status_code == 413
    r = await demo.request("POST", f"/{name}", headers={"X-Container-Meta-Quota-Bytes": "ten"})
    assert r.status_code == 400


@pytest.mark.parametrize("fmt", ["tar", "tar.bz2"])
async def test_extract_formats(demo: Account, fmt: str) -> None:
    name = await demo.container()
    buf = io.BytesIO()
    mode = "w:bz2" if fmt == "tar.bz2" else "w"
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        info = tarfile.TarInfo("f")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"z"))
    r = await demo.request("PUT", f"/{name}?extract-archive={fmt}", content=buf.getvalue())
    assert r.status_code == 200 and b"Number Files Created: 1" in r.content


async def test_cors(demo: Account) -> None:
    name = await demo.container(**{
        "X-Container-Meta-Access-Control-Allow-Origin": "http://app.example",
        "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom"})
    await demo.request("PUT", f"/{name}/o", content=b"x", headers={"X-Object-Meta-A": "1"})
    r = await demo.request("OPTIONS", f"/{name}/o", token=False, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-auth-token"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "x-auth-token"
    r = await demo.request("OPTIONS", f"/{name}/o", token=False, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 401
    r = await demo.request("GET", f"/{name}/o", headers={"Origin": "http://app.example"})
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert "x-custom" in r.headers["access-control-expose-headers"].lower()
    assert "x-object-meta-a" in r.headers["access-control-expose-headers"]
    r = await demo.request("GET", f"/{name}/o", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_formpost(demo: Account) -> None:
    import hashlib as hl
    import hmac

    name = await demo.container(**{"X-Container-Meta-Temp-URL-Key": "formkey"})
    path = f"/v1/AUTH_{demo.project_id}/{name}/up/"
    expires = int(time.time()) + 60
    redirect = "http://app.example/done"
    message = f"{path}\n{redirect}\n1000\n2\n{expires}"
    signature = hmac.new(b"formkey", message.encode(), hl.sha1).hexdigest()
    fields = {"redirect": redirect, "max_file_size": "1000", "max_file_count": "2",
              "expires": str(expires), "signature": signature}

    def form(sig: str, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
        boundary = "formboundary42"
        out = []
        for key, value in {**fields, "signature": sig}.items():
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                       f"{value}\r\n".encode())
        for i, (fname, data) in enumerate(files):
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file{i}"; '
                       f'filename="{fname}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
                       + data + b"\r\n")
        out.append(f"--{boundary}--\r\n".encode())
        return b"".join(out), f"multipart/form-data; boundary={boundary}"

    body, ctype = form(signature, [("a.txt", b"first file"), ("b.txt", b"second")])
    r = await demo.client.post(f"/object-store{path}", content=body,
                               headers={"Content-Type": ctype})
    assert r.status_code == 303 and r.headers["location"].startswith(redirect + "?status=201")
    assert (await demo.request("GET", f"/{name}/up/a.txt")).content == b"first file"
    assert (await demo.request("GET", f"/{name}/up/b.txt")).content == b"second"
    body, ctype = form("0" * 40, [("c.txt", b"x")])
    r = await demo.client.post(f"/object-store{path}", content=body,
                               headers={"Content-Type": ctype})
    assert r.status_code == 401
    body, ctype = form(signature, [("big.txt", b"x" * 2000)])
    r = await demo.client.post(f"/object-store{path}", content=body,
                               headers={"Content-Type": ctype})
    assert "status=400" in r.headers["location"]
    assert (await demo.request("GET", f"/{name}/up/big.txt")).status_code == 404


async def test_staticweb(demo: Account) -> None:
    name = await demo.container(**{
        "X-Container-Read": ".r:*,.rlistings", "X-Container-Meta-Web-Index": "index.html",
        "X-Container-Meta-Web-Error": "error.html"})
    await demo.request("PUT", f"/{name}/index.html", content=b"<h1>home</h1>")
    await demo.request("PUT", f"/{name}/404error.html", content=b"<h1>lost</h1>")
    await demo.request("PUT", f"/{name}/docs/index.html", content=b"<h1>docs</h1>")
    r = await demo.request("GET", f"/{name}", token=False)
    assert r.status_code == 301 and r.headers["location"].endswith(f"/{name}/")
    r = await demo.request("GET", f"/{name}/", token=False)
    assert r.content == b"<h1>home</h1>"
    assert (await demo.request("GET", f"/{name}/docs/", token=False)).content == \
        b"<h1>docs</h1>"
    r = await demo.request("GET", f"/{name}/docs", token=False)
    assert r.status_code == 301
    r = await demo.request("GET", f"/{name}/nope", token=False)
    assert r.status_code == 404 and r.content == b"<h1>lost</h1>"
    await demo.request("POST", f"/{name}", headers={
        "X-Remove-Container-Meta-Web-Index": "x", "X-Container-Meta-Web-Listings": "true"})
    r = await demo.request("GET", f"/{name}/", token=False)
    assert r.status_code == 200 and b"docs/" in r.content and b"index.html" in r.content
    r = await demo.request("GET", f"/{name}/", headers={"Accept": "application/json"})
    assert r.status_code == 200 and "json" in r.headers["content-type"]  # owner: the API


async def test_daemons_report_in_metrics(cloud: Cloud, demo: Account) -> None:
    from onestack.object.daemons import run_one

    name = await demo.container()
    await demo.request("PUT", f"/{name}/o", content=b"x")
    run_one(object_service(cloud), "auditor")
    r = await demo.client.get("/metrics")
    assert 'onestack_object_daemon_stat{daemon="auditor",stat="checked"}' in r.text
    assert 'service="object"' in r.text and 'route="/v1/{account}/{container}/{object}"' in r.text


async def test_auditor_lists_an_object_a_crash_left_unlisted(cloud: Cloud,
                                                              demo: Account) -> None:
    from onestack.object.daemons import run_one

    name = await demo.container()
    await demo.request("PUT", f"/{name}/kept", content=b"data")
    storage = object_service(cloud).storage
    broker = storage.container_broker(f"AUTH_{demo.project_id}", name)
    assert broker is not None
    conn = broker._conn()
    with conn:  # as if the process died between the commit and the listing update
        conn.execute("DELETE FROM object WHERE name = 'kept'")
    assert (await demo.request("GET", f"/{name}")).status_code == 204
    assert run_one(object_service(cloud), "auditor")["listings_fixed"] >= 1
    assert (await demo.request("GET", f"/{name}")).text == "kept\n"
