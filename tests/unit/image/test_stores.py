"""The filesystem image store and the store configuration."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from onestack.common.config import load_settings
from onestack.image import stores
from onestack.image.stores import filesystem
from onestack.image.stores.filesystem import FilesystemStore

from .helpers import chunks, stream

DATA = os.urandom(3 * 1024 * 1024 + 12345)


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore("file", tmp_path / "images", chunk_size=256 * 1024)


async def read_all(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


def leftovers(store: FilesystemStore) -> list[str]:
    return sorted(p.name for p in store.path.iterdir()) if store.path.exists() else []


async def test_add_get_size_delete(store: FilesystemStore) -> None:
    location, written = await store.add("img-1", stream(DATA))
    path = store.path / "img-1"
    assert location == f"file://{path}"
    assert written == len(DATA) == await store.size(location)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(store) == ["img-1"]  # no temporary file left behind
    assert await read_all(store.get(location)) == DATA
    chunk_sizes = [len(c) async for c in store.get(location)]
    assert max(chunk_sizes) == 256 * 1024 and len(chunk_sizes) == 13

    await store.delete(location)
    await store.delete(location)  # idempotent
    assert leftovers(store) == []
    with pytest.raises(stores.NotFound):
        await store.size(location)
    with pytest.raises(stores.NotFound):
        await read_all(store.get(location))


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, 1), (1, 100), (256 * 1024 - 1, 2), (1000, 600 * 1024), (len(DATA) - 10, None),
     (len(DATA) - 10, 1000), (len(DATA), None), (len(DATA) + 5, 10), (7, 0), (0, None)],
)
async def test_get_range(store: FilesystemStore, offset: int, length: int | None) -> None:
    location, _ = await store.add("ranged", stream(DATA))
    end = None if length is None else offset + length
    assert await read_all(store.get(location, offset, length)) == DATA[offset:end]


async def test_get_refuses_negative_range(store: FilesystemStore) -> None:
    location, _ = await store.add("img", stream(b"abc"))
    with pytest.raises(ValueError):
        store.get(location, -1)
    with pytest.raises(ValueError):
        store.get(location, 0, -5)


async def test_empty_image(store: FilesystemStore) -> None:
    location, written = await store.add("empty", chunks([]))
    assert written == 0 and await store.size(location) == 0
    assert await read_all(store.get(location)) == b""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_get_closed_early_releases_the_file(store: FilesystemStore) -> None:
    location, _ = await store.add("img", stream(DATA))
    before = open_fds()
    reader = store.get(location)
    assert len(await reader.__anext__()) == 256 * 1024
    assert open_fds() == before + 1
    await reader.aclose()
    await asyncio.sleep(0.05)  # a read-ahead finishing in its thread closes the file
    assert open_fds() == before


async def test_failed_upload_leaves_nothing(store: FilesystemStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield DATA[:100_000]
        yield DATA[100_000:200_000]
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await store.add("img", broken())
    assert leftovers(store) == []
    # The image id is free again.
    _location, written = await store.add("img", stream(DATA))
    assert written == len(DATA)


async def test_cancelled_upload_leaves_nothing(store: FilesystemStore) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield DATA[:500_000]
        started.set()
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(store.add("img", slow()))
    await started.wait()
    await asyncio.sleep(0.05)
    assert len(leftovers(store)) == 1 and leftovers(store)[0].endswith(".part")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)  # the clean-up runs in the upload's thread
    assert leftovers(store) == []


async def test_cancelled_during_commit_removes_the_image(
    store: FilesystemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_commit = filesystem._Upload.commit

    def slow_commit(self: filesystem._Upload) -> None:
        real_commit(self)
        loop.call_soon_threadsafe(committed.set)
        time.sleep(0.3)

    monkeypatch.setattr(filesystem._Upload, "commit", slow_commit)
    task = asyncio.create_task(store.add("img", stream(DATA)))
    await committed.wait()
    assert leftovers(store) == ["img"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)
    assert leftovers(store) == []


async def test_storage_full(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: filesystem._Upload, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filesystem._Upload, "write", full)
    with pytest.raises(stores.StorageFull):
        await store.add("img", stream(DATA))
    assert leftovers(store) == []


async def test_duplicate_is_refused_and_keeps_the_first(store: FilesystemStore) -> None:
    location, _ = await store.add("img", stream(b"first"))
    consumed: list[bytes] = []

    async def second() -> AsyncIterator[bytes]:
        consumed.append(b"x")
        yield b"second"

    with pytest.raises(stores.Duplicate):
        await store.add("img", second())
    assert consumed == []  # refused before reading the body
    assert await read_all(store.get(location)) == b"first"
    assert leftovers(store) == ["img"]


@pytest.mark.parametrize("image_id", ["", "../x", "a/b", ".hidden", "-x", "x\x00", "x" * 300])
async def test_bad_image_ids(store: FilesystemStore, image_id: str) -> None:
    with pytest.raises(stores.InvalidLocation):
        await store.add(image_id, chunks([b"data"]))
    assert leftovers(store) == []


async def test_locations_outside_the_store_are_refused(
    store: FilesystemStore, tmp_path: Path
) -> None:
    location, _ = await store.add("img", stream(b"data"))
    secret = tmp_path / "secret"
    secret.write_text("host file")
    base = f"file://{store.path}"
    bad = [
        f"file://{secret}",
        "file:///etc/passwd",
        f"{base}/../secret",
        f"{base}/%2e%2e/secret",
        f"{base}/sub/img",
        f"{base}//img",
        f"{base}/img?x=1",
        f"{base}/img#frag",
        f"file://otherhost{store.path}/img",
        f"http://127.0.0.1{store.path}/img",
        "relative/img",
        f"{base}/.img.part",
        f"{base}/img%00",
        f"file://{tmp_path}/images2/img",
    ]
    for url in bad:
        assert not store.owns(url), url
        with pytest.raises(stores.InvalidLocation):
            await store.size(url)
        with pytest.raises(stores.InvalidLocation):
            await store.delete(url)
        with pytest.raises(stores.InvalidLocation):
            store.get(url)
    assert secret.read_text() == "host file"
    assert store.owns(location) and store.owns(f"file://localhost{store.path}/img")


async def test_symlinked_image_is_not_followed(store: FilesystemStore, tmp_path: Path) -> None:
    await store.add("img", stream(b"data"))
    secret = tmp_path / "secret"
    secret.write_text("host file")
    (store.path / "link").symlink_to(secret)
    with pytest.raises(stores.StoreError):
        await read_all(store.get(f"file://{store.path}/link"))


def test_default_store_from_settings(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    built = stores.stores_from_settings(settings)
    assert list(built) == ["file"]
    only = built["file"]
    assert isinstance(only, FilesystemStore) and isinstance(only, stores.Store)
    assert only.path == tmp_path / "images"


def test_several_stores_from_a_mapping(tmp_path: Path) -> None:
    config = {
        "fast": {"driver": "file", "path": str(tmp_path / "ssd")},
        "cheap": {"type": "file"},
    }
    built = stores.stores_from_settings(config, data_dir=tmp_path)
    assert list(built) == ["fast", "cheap"]  # the first is the default
    assert [s.path for s in built.values()] == [tmp_path / "ssd", tmp_path / "images-cheap"]
    cheap_url = built["cheap"].url_for("abc")  # type: ignore[attr-defined]
    assert stores.find_store(built, cheap_url) is built["cheap"]
    assert stores.find_store(built, "ignored", "fast") is built["fast"]
    with pytest.raises(stores.InvalidLocation):
        stores.find_store(built, "file:///etc/passwd")
    with pytest.raises(stores.NotFound):
        stores.find_store(built, cheap_url, "gone")


def test_settings_default_store_comes_first(tmp_path: Path) -> None:
    class Image:
        stores = {"a": {"type": "file"}, "b": {"type": "file"}}
        default_store = "b"

    class Settings:
        data_dir = tmp_path
        image = Image()

    assert list(stores.stores_from_settings(Settings())) == ["b", "a"]
    Image.default_store = "c"
    with pytest.raises(ValueError, match="not configured"):
        stores.stores_from_settings(Settings())


@pytest.mark.parametrize(
    "config",
    [
        {"x": {"driver": "tape"}},
        {"bad id": {"driver": "file"}},
        {"a": {"path": "/srv/img"}, "b": {"path": "/srv/img"}},
    ],
)
def test_bad_store_config(config: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        stores.stores_from_settings(config, data_dir=tmp_path)


async def test_two_stores_do_not_touch_each_other(tmp_path: Path) -> None:
    built = stores.stores_from_settings(
        {"a": {"path": str(tmp_path / "a")}, "b": {"path": str(tmp_path / "b")}}
    )
    loc_a, _ = await built["a"].add("img", chunks([b"in a"]))
    loc_b, _ = await built["b"].add("img", chunks([b"in b"]))
    with pytest.raises(stores.InvalidLocation):
        await built["a"].delete(loc_b)
    assert await read_all(built["b"].get(loc_b)) == b"in b"
    assert await read_all(built["a"].get(loc_a)) == b"in a"
