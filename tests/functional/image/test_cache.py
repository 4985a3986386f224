"""The image cache (/v2/cache, Image API 2.14) over the swift store: downloads cached on the way
out and served from the cache after, the prefetcher, the pruner, clearing, policy and crash
safety. The cloud here keeps its images in Object Storage, so the cache is on by default."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.image import caching
from onestack.image.cache import ImageCache
from onestack.image.manager import ImageManager
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS, issue, password_auth, password_of
from tests.functional.image.conftest import new_project_user

IMG = "/image/v2"


@pytest.fixture(scope="module")
async def cloud(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("image-cache"), port=8996,
        services=["identity", "image", "object"],
        identity={"password_hash_rounds": TEST_ROUNDS},
        image={"stores": {"objects": {"type": "swift", "chunk_size": 65536}},
               "default_store": "objects", "cache_prefetcher_interval": 3600},
        object={"run_daemons": False},
    )
    running = Cloud(settings)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="module")
def mgr(cloud: Cloud) -> ImageManager:
    svc = next(s for s in cloud.services if s.spec.name == "image")
    return svc.manager  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def cache(mgr: ImageManager) -> ImageCache:
    assert mgr.cache is not None, "a remote store turns the cache on"
    return mgr.cache


@pytest.fixture(scope="module")
async def api(cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cloud.app),
                                 base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
async def admin(cloud: Cloud, api: httpx.AsyncClient) -> dict[str, str]:
    token = await issue(api, password_auth("admin", password_of(cloud, "admin"),
                                           project="admin"))
    return {"X-Auth-Token": token}


@pytest.fixture(scope="module")
async def demo(cloud: Cloud, api: httpx.AsyncClient) -> dict[str, str]:
    token = await issue(api, password_auth("demo", password_of(cloud, "demo"), project="demo"))
    return {"X-Auth-Token": token}


async def new_image(api: httpx.AsyncClient, headers: dict[str, str], data: bytes | None
                    ) -> str:
    r = await api.post(f"{IMG}/images", headers=headers, json={
        "name": f"c-{uuid.uuid4().hex[:6]}", "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201, r.text
    image_id: str = r.json()["id"]
    if data is not None:
        r = await api.put(f"{IMG}/images/{image_id}/file", content=data,
                          headers={**headers, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
    return image_id


async def listing(api: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    r = await api.get(f"{IMG}/cache", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def entry(body: dict[str, Any], image_id: str) -> dict[str, Any] | None:
    return next((e for e in body["cached_images"] if e["image_id"] == image_id), None)


async def remove_from_store(mgr: ImageManager, image_id: str) -> None:
    """Delete the image's object in Object Storage behind the Image service's back."""
    store = mgr.stores["objects"]
    await store.delete(store.url_for(image_id))


async def test_policy_admin_only(api: httpx.AsyncClient, demo: dict[str, str],
                                 admin: dict[str, str]) -> None:
    image_id = await new_image(api, demo, b"x" * 10)
    for method, path in (("GET", "/cache"), ("DELETE", "/cache"),
                         ("PUT", f"/cache/{image_id}"), ("DELETE", f"/cache/{image_id}")):
        r = await api.request(method, f"{IMG}{path}", headers=demo)
        assert r.status_code == 403, (method, path, r.text)
    body = await listing(api, admin)
    assert set(body) == {"cached_images", "queued_images"}
    assert (await api.get(f"{IMG}/cache")).status_code == 401


async def test_download_is_cached_then_served_from_cache(
        api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str],
        mgr: ImageManager, cache: ImageCache) -> None:
    data = os.urandom(150_000)
    image_id = await new_image(api, demo, data)
    assert entry(await listing(api, admin), image_id) is None
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=demo)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-md5"] == hashlib.md5(data).hexdigest()
    cached = entry(await listing(api, admin), image_id)
    assert cached is not None and cached["size"] == len(data) and cached["hits"] == 0
    assert cached["last_modified"] > 0 and cached["last_accessed"] > 0
    assert (cache.data / image_id).read_bytes() == data
    assert list(cache.incomplete.iterdir()) == []
    # with the object gone from Object Storage, downloads still come (from the cache)
    await remove_from_store(mgr, image_id)
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=demo)
    assert r.status_code == 200 and r.content == data
    r = await api.get(f"{IMG}/images/{image_id}/file",
                      headers={**demo, "Range": "bytes=100000-100009"})
    assert r.status_code == 206 and r.content == data[100000:100010]
    assert r.headers["content-range"] == f"bytes 100000-100009/{len(data)}"
    assert entry(await listing(api, admin), image_id)["hits"] == 2  # type: ignore[index]
    r = await api.head(f"{IMG}/images/{image_id}/file", headers=demo)
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
    assert entry(await listing(api, admin), image_id)["hits"] == 2  # type: ignore[index]


async def test_entry_evicted_while_read_streams_from_store(cache: ImageCache) -> None:
    image_id = str(uuid.uuid4())
    assert await cache.fill(image_id, _chunks([b"k" * 100]), 100, None)
    cache.evict(image_id)  # between the download's look and its read
    got = [c async for c in cache.read(image_id, lambda: _chunks([b"from the store"]))]
    assert got == [b"from the store"]


async def test_cached_private_image_stays_private(
        api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str],
        cache: ImageCache) -> None:
    image_id = await new_image(api, demo, b"secret" * 100)
    assert (await api.get(f"{IMG}/images/{image_id}/file", headers=demo)).status_code == 200
    assert cache.is_cached(image_id)
    _, other = await new_project_user(api, admin)
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=other)
    assert r.status_code == 404
    r = await api.get(f"{IMG}/images/{image_id}/file", headers={**other, "Range": "bytes=0-1"})
    assert r.status_code == 404
    assert (await api.put(f"{IMG}/cache/{image_id}", headers=other)).status_code == 403


async def test_range_download_of_uncached_image_is_not_cached(
        api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str]) -> None:
    data = os.urandom(20_000)
    image_id = await new_image(api, demo, data)
    r = await api.get(f"{IMG}/images/{image_id}/file", headers={**demo, "Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert entry(await listing(api, admin), image_id) is None


async def test_queue_prefetches(api: httpx.AsyncClient, demo: dict[str, str],
                                admin: dict[str, str], mgr: ImageManager,
                                cache: ImageCache) -> None:
    data = os.urandom(70_000)
    image_id = await new_image(api, demo, data)
    r = await api.put(f"{IMG}/cache/{image_id}", headers=admin)
    assert r.status_code == 202 and r.content == b""
    body = await listing(api, admin)
    assert image_id in body["queued_images"] and entry(body, image_id) is None
    mgr.wake_prefetcher()  # its next run (the interval here is an hour)
    for _ in range(100):
        body = await listing(api, admin)
        if entry(body, image_id) is not None:
            break
        await asyncio.sleep(0.05)
    assert entry(body, image_id) == {**entry(body, image_id), "size": len(data)}  # type: ignore[dict-item]
    assert image_id not in body["queued_images"]
    assert (cache.data / image_id).read_bytes() == data


async def test_queue_refuses_unknown_and_inactive(api: httpx.AsyncClient, demo: dict[str, str],
                                                  admin: dict[str, str]) -> None:
    r = await api.put(f"{IMG}/cache/{uuid.uuid4()}", headers=admin)
    assert r.status_code == 404, r.text
    queued_image = await new_image(api, demo, None)
    r = await api.put(f"{IMG}/cache/{queued_image}", headers=admin)
    assert r.status_code == 400 and "active" in r.json()["message"]
    r = await api.delete(f"{IMG}/cache/{uuid.uuid4()}", headers=admin)
    assert r.status_code == 404


async def test_delete_entry_and_image_delete_evicts(
        api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str],
        cache: ImageCache) -> None:
    first = await new_image(api, demo, b"a" * 1000)
    second = await new_image(api, demo, b"b" * 1000)
    for image_id in (first, second):
        assert (await api.get(f"{IMG}/images/{image_id}/file", headers=demo)).status_code == 200
        assert cache.is_cached(image_id)
    assert (await api.delete(f"{IMG}/cache/{first}", headers=admin)).status_code == 204
    assert entry(await listing(api, admin), first) is None
    assert (await api.delete(f"{IMG}/images/{second}", headers=demo)).status_code == 204
    assert not cache.is_cached(second)
    assert not (cache.meta / f"{second}.json").exists()


async def test_clear_targets(api: httpx.AsyncClient, demo: dict[str, str],
                             admin: dict[str, str], cache: ImageCache) -> None:
    cached = await new_image(api, demo, b"c" * 500)
    queued = await new_image(api, demo, b"q" * 500)
    assert (await api.get(f"{IMG}/images/{cached}/file", headers=demo)).status_code == 200
    cache.enqueue(queued)  # queued without waking the prefetcher
    r = await api.delete(f"{IMG}/cache", headers={**admin, "x-image-cache-clear-target": "x"})
    assert r.status_code == 400
    r = await api.delete(f"{IMG}/cache", headers={**admin, "x-image-cache-clear-target": "queue"})
    assert r.status_code == 204
    body = await listing(api, admin)
    assert entry(body, cached) is not None and body["queued_images"] == []
    cache.enqueue(queued)
    r = await api.delete(f"{IMG}/cache", headers={**admin, "x-image-cache-clear-target": "cache"})
    assert r.status_code == 204
    body = await listing(api, admin)
    assert body["cached_images"] == [] and body["queued_images"] == [queued]
    assert (await api.get(f"{IMG}/images/{cached}/file", headers=demo)).status_code == 200
    assert (await api.delete(f"{IMG}/cache", headers=admin)).status_code == 204  # both
    assert await listing(api, admin) == {"cached_images": [], "queued_images": []}


async def test_pruner_evicts_least_recently_used(
        api: httpx.AsyncClient, demo: dict[str, str], admin: dict[str, str],
        cache: ImageCache) -> None:
    await api.delete(f"{IMG}/cache", headers=admin)
    ids = [await new_image(api, demo, bytes([n]) * 4000) for n in range(3)]
    saved, cache.max_size = cache.max_size, 9000  # room for two
    try:
        for image_id in ids[:2]:
            assert (await api.get(f"{IMG}/images/{image_id}/file",
                                  headers=demo)).status_code == 200
        # the first is used again: the second becomes the least recently used
        await asyncio.sleep(0.01)
        assert (await api.get(f"{IMG}/images/{ids[0]}/file", headers=demo)).status_code == 200
        assert (await api.get(f"{IMG}/images/{ids[2]}/file", headers=demo)).status_code == 200
        assert sorted(e["image_id"] for e in (await listing(api, admin))["cached_images"]
                      ) == sorted([ids[0], ids[2]])
        assert cache.size() <= 9000
        # an image larger than the whole cache is never written
        big = await new_image(api, demo, b"z" * 9001)
        assert (await api.get(f"{IMG}/images/{big}/file", headers=demo)).status_code == 200
        assert not cache.is_cached(big)
    finally:
        cache.max_size = saved


async def _chunks(parts: list[bytes], fail_after: int | None = None) -> AsyncIterator[bytes]:
    for n, part in enumerate(parts):
        if fail_after is not None and n == fail_after:
            raise OSError("store went away")
        yield part


async def test_broken_short_or_wrong_streams_leave_nothing(cache: ImageCache) -> None:
    parts = [b"1" * 100, b"2" * 100, b"3" * 100]
    good = hashlib.md5(b"".join(parts)).hexdigest()
    # the store breaks mid-stream
    image_id = str(uuid.uuid4())
    stream = cache.tee(image_id, _chunks(parts, fail_after=2), 300, good)
    with pytest.raises(OSError):
        async for _ in stream:
            pass
    assert not cache.is_cached(image_id) and list(cache.incomplete.iterdir()) == []
    # the client goes away after the first chunk
    stream = cache.tee(image_id, _chunks(parts), 300, good)
    assert await stream.__anext__() == parts[0]
    assert list(cache.incomplete.iterdir()) != []
    await stream.aclose()  # type: ignore[attr-defined]
    assert not cache.is_cached(image_id) and list(cache.incomplete.iterdir()) == []
    # data that does not match the image's checksum or size
    assert not await cache.fill(image_id, _chunks(parts), 300, "0" * 32)
    assert not await cache.fill(image_id, _chunks(parts), 301, good)
    assert not cache.is_cached(image_id) and list(cache.incomplete.iterdir()) == []
    assert await cache.fill(image_id, _chunks(parts), 300, good)
    cache.evict(image_id)


async def test_restart_removes_leftovers_and_entries_of_deleted_images(
        mgr: ImageManager, cache: ImageCache) -> None:
    leftover = cache.incomplete / str(uuid.uuid4())
    leftover.write_bytes(b"half an image")
    dead = cache.incomplete / f"{uuid.uuid4()}.{2**22 + 12345}.0a0b"  # no such pid
    dead.write_bytes(b"half an image of a process that is gone")
    mine = cache.incomplete / f"{uuid.uuid4()}.{os.getpid()}.0a0b"  # an earlier life of my pid
    mine.write_bytes(b"x")
    live = cache.incomplete / f"{uuid.uuid4()}.{os.getppid()}.0a0b"  # another live writer
    live.write_bytes(b"being written")
    gone = str(uuid.uuid4())  # an image deleted while the process was down
    (cache.data / gone).write_bytes(b"data of a deleted image")
    cache.prepare()
    assert not leftover.exists() and not dead.exists() and not mine.exists()
    assert live.exists()
    live.unlink()
    await caching.forget_deleted(mgr, cache)
    assert not cache.is_cached(gone)


async def test_disabled_cache_answers_404(tmp_path: Any, mgr: ImageManager) -> None:
    saved = mgr.conf.image_cache_enabled
    mgr.conf.image_cache_enabled = False
    try:
        assert caching.cache_for(mgr) is None
    finally:
        mgr.conf.image_cache_enabled = saved
    assert caching.cache_for(mgr) is not None
