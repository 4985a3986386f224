"""Container sync between two containers of this cluster: changes after the sync point go to
the X-Container-Sync-To container (PUTs with bytes, metadata and timestamp; DELETEs), which
accepts them only with its own X-Container-Sync-Key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx

from onestack.object.daemons import sync
from onestack.server import Cloud
from tests.functional.object.conftest import Account


async def test_container_sync_to_another_container(cloud: Cloud, client: httpx.AsyncClient,
                                                   demo: Account, other: Account) -> None:
    loop = asyncio.get_running_loop()

    def send(method: str, url: str, headers: dict[str, str], body: Iterator[bytes]) -> int:
        data = b"".join(body)
        future = asyncio.run_coroutine_threadsafe(
            client.request(method, url, headers=headers, content=data), loop)
        return future.result(timeout=60).status_code

    target = await other.container("sync-target", **{"X-Container-Sync-Key": "s3cret"})
    to = f"http://testserver{other.url}/{target}"
    r = await demo.request("PUT", "/sync-src-bad", headers={"X-Container-Sync-To": "//nope/x/a/c",
                                                           "X-Container-Sync-Key": "k"})
    assert r.status_code == 400
    source = await demo.container("sync-src", **{"X-Container-Sync-To": to,
                                                 "X-Container-Sync-Key": "s3cret"})
    await demo.request("PUT", f"/{source}/a", content=b"alpha",
                       headers={"X-Object-Meta-Color": "blue", "Content-Type": "text/x-a"})
    await demo.request("PUT", f"/{source}/b", content=b"beta")
    storage = next(s for s in cloud.services if s.spec.name == "object").storage
    report = await asyncio.to_thread(sync.run_once, storage, {}, send)
    assert report["puts"] >= 2 and report["failures"] == 0
    got = await other.request("GET", f"/{target}/a")
    assert got.content == b"alpha" and got.headers["x-object-meta-color"] == "blue"
    assert got.headers["content-type"] == "text/x-a"
    src = await demo.request("HEAD", f"/{source}/a")
    assert got.headers["x-timestamp"] == src.headers["x-timestamp"]
    # a delete follows; nothing already sent is sent again
    await demo.request("DELETE", f"/{source}/b")
    report = await asyncio.to_thread(sync.run_once, storage, {}, send)
    assert (report["puts"], report["deletes"]) == (0, 1)
    assert (await other.request("GET", f"/{target}/b")).status_code == 404
    assert (await other.request("GET", f"/{target}/a")).status_code == 200
    # a wrong key is refused by the receiving container
    r = await client.put(f"{other.url}/{target}/forged", content=b"x",
                         headers={"X-Container-Sync-Key": "guess"})
    assert r.status_code == 401
    assert (await other.request("GET", f"/{target}/forged")).status_code == 404


def test_realm_targets_resolve_through_the_config() -> None:
    realms = {"east": {"c1": "http://east.example/v1/"}}
    assert sync.resolve("//east/c1/AUTH_a/cont", realms) == "http://east.example/v1/AUTH_a/cont"
    assert sync.resolve("//west/c1/AUTH_a/cont", realms) is None
    assert sync.resolve("//east/c1/AUTH_a", realms) is None
    assert sync.resolve("ftp://x/v1/a/c", realms) is None
