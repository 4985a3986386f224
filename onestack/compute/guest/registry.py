"""onestack-tiny in the Image service: built from the package cache and registered once
(public, like DevStack's cirros) as Glance's kernel/ramdisk/machine triple, the disk pointing
at its kernel and ramdisk with ``kernel_id`` / ``ramdisk_id``."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from onestack.compute.guest import tiny

LOG = logging.getLogger(__name__)
VERSION_PROPERTY = "onestack_tiny_version"
Request = Callable[..., Awaitable[httpx.Response]]


def cache_dir() -> Path:
    """Packages and built images, shared by every data dir of this user."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "onestack" / "guest"


def probe_image(data_dir: Path | None = None) -> tuple[Path, Path] | None:
    """The newest built tiny kernel and initramfs (the KVM probe boots them), if any."""
    built = sorted(cache_dir().glob("tiny-*/initrd.img"), key=lambda p: p.stat().st_mtime)
    if not built:
        return None
    return built[-1].parent / "vmlinux", built[-1]


async def registered(request: Request, version: str) -> dict[str, Any] | None:
    resp = await request("GET", "/v2/images", params={"name": tiny.NAME, "status": "active"})
    resp.raise_for_status()
    for image in resp.json()["images"]:
        if image.get(VERSION_PROPERTY) == version and image.get("kernel_id"):
            return dict(image)
    return None


async def _upload(request: Request, path: Path, **fields: Any) -> str:
    resp = await request("POST", "/v2/images", json={"visibility": "public", **fields})
    if resp.status_code != 201:
        raise RuntimeError(f"creating image {fields['name']}: {resp.status_code} {resp.text}")
    image_id = str(resp.json()["id"])
    data = await asyncio.to_thread(path.read_bytes)
    resp = await request(
        "PUT",
        f"/v2/images/{image_id}/file",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if resp.status_code != 204:
        raise RuntimeError(f"uploading {fields['name']}: {resp.status_code} {resp.text}")
    return image_id


async def register(request: Request, progress: tiny.Progress = LOG.info) -> dict[str, Any]:
    """The registered onestack-tiny (built and uploaded unless this version is there)."""
    image = await asyncio.to_thread(tiny.build, cache_dir(), progress)
    found = await registered(request, image.version)
    if found:
        return found
    progress(f"registering {tiny.NAME} {image.version} in the Image service")
    tag = {VERSION_PROPERTY: image.version}
    kernel = await _upload(
        request, image.kernel, name=f"{tiny.NAME}-kernel", disk_format="aki",
        container_format="aki", **tag,
    )  # fmt: skip
    ramdisk = await _upload(
        request, image.ramdisk, name=f"{tiny.NAME}-ramdisk", disk_format="ari",
        container_format="ari", **tag,
    )  # fmt: skip
    await _upload(
        request, image.disk, name=tiny.NAME, disk_format="qcow2", container_format="bare",
        kernel_id=kernel, ramdisk_id=ramdisk, os_distro="onestack-tiny", os_type="linux",
        hw_architecture="x86_64", min_ram=64, **tag,
    )  # fmt: skip
    found = await registered(request, image.version)
    if found is None:
        raise RuntimeError(f"{tiny.NAME} was uploaded but is not active")
    progress(f"{tiny.NAME} is image {found['id']}")
    return found


async def register_when_ready(request: Request, attempts: int = 60) -> None:
    """:func:`register` once the Image service answers (at the first start, beside it)."""
    for _ in range(attempts):
        try:
            await register(request)
            return
        except (httpx.HTTPError, OSError) as exc:
            LOG.info("waiting for the Image service to register %s: %s", tiny.NAME, exc)
            await asyncio.sleep(1)
        except Exception:
            LOG.exception("building or registering %s failed", tiny.NAME)
            return
