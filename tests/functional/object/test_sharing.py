"""Sharing: container ACLs between projects, referrers, and TempURLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from onestack.server import Cloud
from tests.functional.object.conftest import Account


async def test_read_acl_shares_with_another_project(demo: Account, other: Account) -> None:
    name = await demo.container()
    await demo.request("PUT", f"/{name}/doc", content=b"shared")
    url = f"{demo.url}/{name}/doc"
    assert (await other.client.get(url, headers=other.headers)).status_code == 403
    r = await demo.request("POST", f"/{name}", headers={
        "X-Container-Read": f"{other.project_id}:{other.user_id}"})
    assert r.status_code == 204
    r = await other.client.get(url, headers=other.headers)
    assert r.status_code == 200 and r.content == b"shared"
    r = await other.client.get(f"{demo.url}/{name}", headers=other.headers)
    assert r.status_code == 200 and r.text == "doc\n"
    # read is not write, and the grantee does not see or change the ACLs
    r = await other.client.put(f"{demo.url}/{name}/new", headers=other.headers, content=b"x")
    assert r.status_code == 403
    await demo.request("POST", f"/{name}", headers={"X-Container-Meta-Temp-URL-Key": "k"})
    r = await other.client.head(f"{demo.url}/{name}", headers=other.headers)
    assert "x-container-read" not in r.headers
    assert "x-container-meta-temp-url-key" not in r.headers
    r = await other.client.post(f"{demo.url}/{name}", headers={
        **other.headers, "X-Container-Read": "*:*"})
    assert r.status_code == 403
    r = await demo.request("HEAD", f"/{name}")
    assert r.headers["x-container-read"] == f"{other.project_id}:{other.user_id}"


async def test_write_acl_lets_another_project_upload(demo: Account, other: Account) -> None:
    name = await demo.container(**{"X-Container-Write": f"{other.project_id}:*"})
    url = f"{demo.url}/{name}/dropped"
    r = await other.client.put(url, headers=other.headers, content=b"from other")
    assert r.status_code == 201
    assert (await demo.request("GET", f"/{name}/dropped")).content == b"from other"
    assert (await other.client.get(url, headers=other.headers)).status_code == 403
    r = await other.client.delete(f"{demo.url}/{name}", headers=other.headers)
    assert r.status_code == 403  # the container itself stays the owner's
    r = await demo.request("PUT", "/bad-acl", headers={"X-Container-Write": ".r:*"})
    assert r.status_code == 400


async def test_public_referrer_acl(demo: Account) -> None:
    name = await demo.container(**{"X-Container-Read": ".r:*"})
    await demo.request("PUT", f"/{name}/public", content=b"for all")
    r = await demo.request("GET", f"/{name}/public", token=False)
    assert r.status_code == 200 and r.content == b"for all"
    assert (await demo.request("GET", f"/{name}", token=False)).status_code == 401
    await demo.request("POST", f"/{name}", headers={"X-Container-Read": ".r:*,.rlistings"})
    assert (await demo.request("GET", f"/{name}", token=False)).status_code == 200
    assert (await demo.request("PUT", f"/{name}/x", token=False, content=b"x")
            ).status_code == 401
    # a referrer rule for one domain only
    await demo.request("POST", f"/{name}", headers={"X-Container-Read": ".r:.example.com"})
    r = await demo.request("GET", f"/{name}/public", token=False,
                           headers={"Referer": "http://www.example.com/page"})
    assert r.status_code == 200
    r = await demo.request("GET", f"/{name}/public", token=False,
                           headers={"Referer": "http://evil.test/"})
    assert r.status_code == 401


def sign(key: str, method: str, expires: int, path: str, algo: str = "sha256") -> str:
    return hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                    getattr(hashlib, algo)).hexdigest()


async def test_tempurl(demo: Account) -> None:
    name = await demo.container()
    await demo.request("PUT", f"/{name}/file.bin", content=b"temp data")
    await demo.request("POST", headers={"X-Account-Meta-Temp-URL-Key": "secret"})
    path = f"/v1/AUTH_{demo.project_id}/{name}/file.bin"
    url = f"/object-store{path}"
    expires = int(time.time()) + 60
    sig = sign("secret", "GET", expires, path)
    r = await demo.client.get(f"{url}?temp_url_sig={sig}&temp_url_expires={expires}")
    assert r.status_code == 200 and r.content == b"temp data"
    assert r.headers["content-disposition"] == 'attachment; filename="file.bin"'
    r = await demo.client.head(f"{url}?temp_url_sig={sig}&temp_url_expires={expires}")
    assert r.status_code == 200  # a GET signature serves HEAD too
    sha1 = sign("secret", "GET", expires, path, "sha1")
    assert (await demo.client.get(f"{url}?temp_url_sig={sha1}&temp_url_expires={expires}")
            ).status_code == 200
    raw = hmac.new(b"secret", f"GET\n{expires}\n{path}".encode(), hashlib.sha512).digest()
    b64 = "sha512:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert (await demo.client.get(f"{url}?temp_url_sig={b64}&temp_url_expires={expires}")
            ).status_code == 200
    # forged, expired, wrong method
    forged = sign("wrong", "GET", expires, path)
    r = await demo.client.get(f"{url}?temp_url_sig={forged}&temp_url_expires={expires}")
    assert r.status_code == 401 and b"Temp URL invalid" in r.content
    past = int(time.time()) - 10
    old = sign("secret", "GET", past, path)
    assert (await demo.client.get(f"{url}?temp_url_sig={old}&temp_url_expires={past}")
            ).status_code == 401
    assert (await demo.client.put(f"{url}?temp_url_sig={sig}&temp_url_expires={expires}",
                                  content=b"x")).status_code == 401
    # a PUT signature uploads; a container key works too; a prefix signature covers a prefix
    put_sig = sign("secret", "PUT", expires, path.replace("file.bin", "up.bin"))
    r = await demo.client.put(
        f"{url.replace('file.bin', 'up.bin')}?temp_url_sig={put_sig}&temp_url_expires={expires}",
        content=b"uploaded")
    assert r.status_code == 201
    assert (await demo.request("GET", f"/{name}/up.bin")).content == b"uploaded"
    await demo.request("POST", f"/{name}", headers={"X-Container-Meta-Temp-URL-Key": "ckey"})
    prefix_path = f"prefix:/v1/AUTH_{demo.project_id}/{name}/file"
    psig = sign("ckey", "GET", expires, prefix_path)
    r = await demo.client.get(
        f"{url}?temp_url_sig={psig}&temp_url_expires={expires}&temp_url_prefix=file")
    assert r.status_code == 200
    r = await demo.client.get(
        f"{url.replace('file.bin', 'up.bin')}?temp_url_sig={psig}&temp_url_expires={expires}"
        "&temp_url_prefix=file")
    assert r.status_code == 401


async def test_service_accounts_need_a_service_token(cloud: Cloud, demo: Account) -> None:
    from tests.conftest import issue, password_auth, password_of

    service_token = await issue(demo.client, password_auth(
        "glance", password_of(cloud, "service"), project="service"))
    url = f"/object-store/v1/SERVICE_{demo.project_id}"
    r = await demo.client.put(f"{url}/private", headers=demo.headers)
    assert r.status_code == 403
    both = {**demo.headers, "X-Service-Token": service_token}
    assert (await demo.client.put(f"{url}/private", headers=both)).status_code == 201
    r = await demo.client.put(f"{url}/private/o", headers=both, content=b"kept for a service")
    assert r.status_code == 201
    assert (await demo.client.get(f"{url}/private/o", headers=demo.headers)).status_code == 403
    r = await demo.client.get(f"{url}/private/o", headers={
        **demo.headers, "X-Service-Token": demo.token})  # a token without the service role
    assert r.status_code == 403
