"""The upload pipeline: checksums, size cap and disk format inspection."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from onestack.image.hashing import (
    FormatMismatch,
    ImageDataPipeline,
    ImageTooLarge,
    InvalidImageData,
    UnsafeImage,
)
from onestack.image.inspect import FormatInspector
from onestack.image.stores.filesystem import FilesystemStore

from .helpers import chunks, gpt_disk, iso_image, qemu_virtual_size, stream, vmdk_with_footer

GiB = 1024**3


async def drain(pipeline: ImageDataPipeline) -> bytes:
    data = b"".join([block async for block in pipeline])
    await pipeline.finish()
    return data


async def upload(data: bytes, disk_format: str, **kwargs) -> ImageDataPipeline:
    pipeline = ImageDataPipeline(
        stream(data, kwargs.pop("chunk", 65536)), disk_format=disk_format,
        max_size=kwargs.pop("max_size", None), **kwargs,
    )
    assert await drain(pipeline) == data
    return pipeline


class Counting:
    """A source that counts how much of it was read."""

    def __init__(self, head: bytes, tail_blocks: int, block: int = 1024 * 1024):
        self.head, self.tail_blocks, self.block, self.read = head, tail_blocks, block, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in [self.head] + [b"\0" * self.block] * self.tail_blocks:
            self.read += len(part)
            yield part


@pytest.mark.parametrize("algo", ["sha512", "sha256"])
async def test_hashes_and_size_equal_hashlib(algo: str) -> None:
    data = os.urandom(9 * 1024 * 1024 + 77)
    sizes = [1, 0, 65536, 3, 5 * 1024 * 1024, 1000]
    parts, i = [], 0
    while i < len(data):
        n = sizes[len(parts) % len(sizes)] or 0
        parts.append(data[i : i + n])
        i += n
    pipeline = ImageDataPipeline(chunks(parts), disk_format="raw", max_size=None,
                                 hash_algo=algo, block_size=1024 * 1024)
    assert pipeline.checksum is None and pipeline.os_hash_value is None
    assert await drain(pipeline) == data
    assert pipeline.checksum == hashlib.md5(data).hexdigest()
    assert pipeline.os_hash_algo == algo
    assert pipeline.os_hash_value == hashlib.new(algo, data).hexdigest()
    assert pipeline.size == pipeline.virtual_size == len(data)
    assert pipeline.format == "raw"


async def test_blocks_are_coalesced() -> None:
    pipeline = ImageDataPipeline(stream(b"x" * (10 * 1024 * 1024), 16384), disk_format="raw",
                                 max_size=None)
    sizes = [len(b) async for b in pipeline]
    assert sizes == [4 * 1024 * 1024, 4 * 1024 * 1024, 2 * 1024 * 1024]


async def test_empty_upload() -> None:
    pipeline = await upload(b"", "raw")
    assert pipeline.checksum == hashlib.md5(b"").hexdigest()
    assert pipeline.size == 0


def test_unknown_hash_algorithm() -> None:
    with pytest.raises(ValueError, match="unsupported hash"):
        ImageDataPipeline(chunks([]), disk_format="raw", max_size=None, hash_algo="nope")


async def test_size_cap() -> None:
    data = os.urandom(100_000)
    assert (await upload(data, "raw", max_size=len(data))).size == len(data)
    source = Counting(b"x" * 1000, tail_blocks=1000)
    pipeline = ImageDataPipeline(source.__aiter__(), disk_format="raw", max_size=3 * 1024**2)
    with pytest.raises(ImageTooLarge):
        await drain(pipeline)
    assert source.read < 5 * 1024**2  # refused as soon as the cap was passed
    with pytest.raises(ImageTooLarge):
        await pipeline.finish()


async def test_too_large_upload_leaves_no_file(tmp_path: Path) -> None:
    store = FilesystemStore("file", tmp_path)
    pipeline = ImageDataPipeline(stream(b"y" * 5_000_000), disk_format="raw", max_size=4_000_000)
    with pytest.raises(ImageTooLarge):
        await store.add("img", pipeline)
    assert list(tmp_path.iterdir()) == []


async def test_finish_needs_the_whole_stream() -> None:
    pipeline = ImageDataPipeline(stream(b"z" * 10_000_000), disk_format="raw", max_size=None)
    reader = pipeline.__aiter__()
    await reader.__anext__()
    with pytest.raises(RuntimeError):
        await pipeline.finish()
    with pytest.raises(RuntimeError):
        pipeline.__aiter__()


async def test_qcow2_virtual_size(make_image: Callable[..., Path], qemu_img: str) -> None:
    path = make_image("qcow2", "1G")
    pipeline = await upload(path.read_bytes(), "qcow2")
    assert pipeline.format == "qcow2"
    assert pipeline.virtual_size == GiB == qemu_virtual_size(qemu_img, path, "qcow2")
    assert pipeline.size == path.stat().st_size


async def test_qcow2_with_backing_file_refused_early(make_image: Callable[..., Path]) -> None:
    make_image("qcow2", "1G", name="base.qcow2")
    path = make_image("qcow2", "1G", "backing_file=base.qcow2", "backing_fmt=qcow2")
    source = Counting(path.read_bytes(), tail_blocks=100)
    pipeline = ImageDataPipeline(source.__aiter__(), disk_format="qcow2", max_size=None)
    with pytest.raises(UnsafeImage, match="backing_file"):
        await drain(pipeline)
    assert source.read < 20 * 1024**2  # refused on the header, not after the whole stream


async def test_qcow2_with_data_file_refused(make_image: Callable[..., Path]) -> None:
    path = make_image("qcow2", "1G", "data_file=data.raw")
    with pytest.raises(UnsafeImage, match="data_file"):
        await upload(path.read_bytes(), "qcow2")


async def test_raw_declared_as_qcow2_refused() -> None:
    with pytest.raises(FormatMismatch):
        await upload(os.urandom(2_000_000), "qcow2")
    with pytest.raises(FormatMismatch):
        await upload(b"tiny", "qcow2")


async def test_qcow2_declared_as_raw_refused(make_image: Callable[..., Path]) -> None:
    path = make_image("qcow2", "1G")
    for declared in ("raw", "ami", "iso", "vmdk", "ploop"):
        with pytest.raises(FormatMismatch, match="qcow2"):
            await upload(path.read_bytes(), declared)
    source = Counting(path.read_bytes(), tail_blocks=100)
    pipeline = ImageDataPipeline(source.__aiter__(), disk_format="raw", max_size=None)
    with pytest.raises(FormatMismatch):
        await drain(pipeline)
    assert source.read < 20 * 1024**2


@pytest.mark.parametrize(
    ("fmt", "qemu_fmt", "size", "options"),
    [
        ("vmdk", "vmdk", "2G", ()),
        ("vmdk", "vmdk", "1G", ("subformat=streamOptimized",)),
        ("vhdx", "vhdx", "3G", ()),
        ("vdi", "vdi", "1G", ()),
        ("vhd", "vpc", "1G", ()),
    ],
)
@pytest.mark.parametrize("chunk", [1000, 65536, 4 * 1024 * 1024])
async def test_virtual_size_of_other_formats(
    make_image: Callable[..., Path], qemu_img: str, fmt: str, qemu_fmt: str, size: str,
    options: tuple[str, ...], chunk: int,
) -> None:
    path = make_image(qemu_fmt, size, *options)
    pipeline = await upload(path.read_bytes(), fmt, chunk=chunk, block_size=chunk)
    assert pipeline.format == fmt
    assert pipeline.virtual_size == qemu_virtual_size(qemu_img, path, qemu_fmt)
    with pytest.raises(FormatMismatch, match=fmt):
        await upload(path.read_bytes(), "raw")


async def test_vmdk_with_external_extent_refused(make_image: Callable[..., Path]) -> None:
    path = make_image("vmdk", "1M", "subformat=monolithicFlat")
    with pytest.raises(InvalidImageData):
        await upload(path.read_bytes(), "vmdk")


async def test_gpt_disk_is_raw() -> None:
    data = gpt_disk()
    pipeline = await upload(data, "raw")
    assert pipeline.format == "gpt" and pipeline.virtual_size == len(data)
    broken = bytearray(data)
    broken[446] = 0x42  # invalid boot flag in the protective MBR
    with pytest.raises(UnsafeImage, match="mbr"):
        await upload(bytes(broken), "raw")
    kernel = await upload(bytes(broken), "aki")  # kernels may look like a boot sector
    assert kernel.virtual_size is None


async def test_iso() -> None:
    data = iso_image(300)
    pipeline = await upload(data, "iso")
    assert pipeline.format == "iso" and pipeline.virtual_size == 300 * 2048
    assert (await upload(data, "raw")).virtual_size == len(data)
    with pytest.raises(FormatMismatch):
        await upload(os.urandom(100_000), "iso")


async def test_content_in_several_formats_refused(make_image: Callable[..., Path]) -> None:
    data = bytearray(make_image("qcow2", "1G").read_bytes())
    data[510:512] = b"\x55\xaa"  # a boot-sector signature inside the qcow2 header
    with pytest.raises(FormatMismatch):
        await upload(bytes(data), "qcow2")


async def test_not_bare_containers_are_not_inspected(make_image: Callable[..., Path]) -> None:
    path = make_image("qcow2", "1G")
    pipeline = await upload(path.read_bytes(), "raw", container_format="ova")
    assert pipeline.format is None and pipeline.virtual_size is None
    assert pipeline.checksum == hashlib.md5(path.read_bytes()).hexdigest()


async def test_vmdk_footer_is_judged_at_the_end_and_never_stored(
    make_image: Callable[..., Path], tmp_path: Path
) -> None:
    store = FilesystemStore("file", tmp_path / "images")
    base = make_image("vmdk", "1G", "subformat=streamOptimized").read_bytes()
    bad = vmdk_with_footer(base, 9 * 1024 * 1024, eos_type=7)
    pipeline = ImageDataPipeline(stream(bad), disk_format="vmdk", max_size=None)
    with pytest.raises(UnsafeImage, match="footer"):
        await store.add("img", pipeline)
    assert pipeline.size == len(bad)  # only known at the end of the stream
    assert list(store.path.iterdir()) == []

    good_data = vmdk_with_footer(base, 9 * 1024 * 1024)
    good = ImageDataPipeline(stream(good_data), disk_format="vmdk", max_size=None)
    location, written = await store.add("img", good)
    await good.finish()
    assert written == len(good_data) and good.virtual_size == GiB
    assert location.endswith("/img")


def test_inspection_stops_reading_raw_data() -> None:
    inspector = FormatInspector("raw")
    inspector.feed(os.urandom(4 * 1024 * 1024))
    assert not inspector.needs_data
    inspector.feed(b"\0" * 1024)
    assert inspector.finish() == "raw" and inspector.virtual_size == 4 * 1024 * 1024 + 1024
