"""Base images cached on the host (``INSTANCES/_base/IMAGE_ID``), fetched once and checked.

The agent fetches the bytes from the Image service; here they are verified against the
image's ``os_hash_value`` (or legacy md5 ``checksum``) and inspected the way the Image
service inspects uploads, so a disk that claims one format and holds another (or a qcow2
pointing at a backing file on the host) never reaches QEMU.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from onestack.common.disk_format import UnsafeImage, inspect_file
from onestack.compute.virt.driver import VirtError

#: (image id) -> (the image's record, its bytes)
Fetch = Callable[[str], Awaitable[tuple[dict[str, Any], bytes]]]
ALLOWED = ("raw", "qcow2")


def verify(meta: dict[str, Any], data: bytes) -> None:
    algo, expected = str(meta.get("os_hash_algo") or ""), meta.get("os_hash_value")
    actual: str | None = None
    if algo and expected:
        actual = hashlib.new(algo, data).hexdigest()
    else:
        algo, expected = "md5", meta.get("checksum")
        if expected:
            actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if expected and actual != expected:
        raise VirtError(f"image {meta.get('id')}: {algo} {actual} is not the recorded {expected}")


def inspect(path: Path) -> str:
    """The disk format of ``path`` (raw or qcow2), after the inspector's safety checks."""
    try:
        name = inspect_file(path)
    except UnsafeImage as exc:
        raise VirtError(f"the image at {path} failed inspection: {exc}") from None
    if name not in ALLOWED:
        raise VirtError(f"disk format {name} is not supported by the QEMU driver")
    return name


async def cached(base_dir: Path, image_id: str, fetch: Fetch) -> tuple[Path, str]:
    """The base file of ``image_id`` and its format, fetched on first use."""
    base_dir.mkdir(parents=True, exist_ok=True)
    path = base_dir / image_id
    marker = path.with_suffix(".format")
    if path.exists() and marker.exists():
        os.utime(path)  # last use, for the pruner
        return path, marker.read_text().strip()
    meta, data = await fetch(image_id)
    verify(meta, data)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    fmt = inspect(tmp)
    tmp.replace(path)
    marker.write_text(fmt)
    return path, fmt


def prune(base_dir: Path, in_use: set[str], max_age: float) -> list[str]:
    """Remove the bases no instance uses that were not used for ``max_age`` seconds."""
    removed = []
    now = time.time()
    for path in base_dir.glob("*"):
        if path.suffix or path.name in in_use:
            continue
        if now - path.stat().st_mtime > max_age:
            path.unlink(missing_ok=True)
            path.with_suffix(".format").unlink(missing_ok=True)
            removed.append(path.name)
    return removed
