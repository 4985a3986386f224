"""Test data for the image data path: crafted headers and async streams."""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import AsyncIterator, Iterable
from pathlib import Path


def qemu_virtual_size(qemu_img: str, path: Path, fmt: str) -> int:
    out = subprocess.run(
        [qemu_img, "info", "--output=json", "-f", fmt, str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return int(json.loads(out)["virtual-size"])


def gpt_disk(size: int = 4 * 1024 * 1024) -> bytes:
    """A raw disk that starts with a valid protective MBR (what a GPT-partitioned disk has)."""
    mbr = bytearray(512)
    # One partition entry: not bootable, start CHS 0/2/0, type 0xEE, start LBA 1.
    mbr[446:462] = struct.pack("<B3BB3BII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                               size // 512 - 1)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr) + b"\x00" * (size - 512)


def iso_image(blocks: int = 300) -> bytes:
    """An ISO 9660 image: 16 system sectors, then a primary volume descriptor."""
    pvd = bytearray(2048)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[80:88] = struct.pack("<I", blocks) + struct.pack(">I", blocks)
    pvd[128:132] = struct.pack("<H", 2048) + struct.pack(">H", 2048)
    data = b"\x00" * 32768 + bytes(pvd)
    return data + b"\x00" * (blocks * 2048 - len(data))


async def stream(data: bytes, chunk: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def vmdk_with_footer(stream_optimized: bytes, padding: int, eos_type: int = 0) -> bytes:
    """A streamOptimized vmdk whose grain directory offset is in a footer at the very end
    (what streaming writers produce); ``eos_type`` != 0 breaks the end-of-stream marker."""
    gd_at_end = struct.pack("<Q", 0xFFFFFFFFFFFFFFFF)
    header = stream_optimized[:512]
    marker = struct.pack("<QII", 1, 0, 3) + b"\0" * 496
    eos = struct.pack("<QII", 0, 0, eos_type) + b"\0" * 496
    body = header[:56] + gd_at_end + header[64:] + stream_optimized[512:] + b"\0" * padding
    return body + marker + header + eos
