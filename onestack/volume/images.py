"""Volumes from images and images from volumes: the data through the Image API, its format
inspected as the Image service does (oslo.utils' format inspectors, safety checks), converted
with qemu-img by the backend driver."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onestack.common.disk_format import UnsafeImage, inspect_file
from onestack.volume.drivers import DriverError, Location, VolumeDriver

if TYPE_CHECKING:
    from onestack.volume.agent import VolumeAgent
    from onestack.volume.models import Volume

#: Formats qemu-img may read a volume's source image as.
CONVERTIBLE = {"raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "qed"}


def inspect(path: Path, declared: str | None) -> str:
    """The image file's real format, refused when unsafe or not what Glance was told."""
    try:
        actual = inspect_file(path)
    except UnsafeImage as exc:
        raise DriverError(f"Image {path.name} was refused: {exc}.") from None
    if actual not in CONVERTIBLE:
        raise DriverError(f"Image format {actual} cannot be converted to a volume.")
    if declared and declared in CONVERTIBLE and declared != actual:
        raise DriverError(f"Image disk_format is {declared} but its data is {actual}: refused.")
    return actual


async def download(agent: VolumeAgent, image_id: str, target: Path) -> None:
    """Stream the image's data into ``target`` as the ``cinder`` service user."""
    clients = agent.platform.clients
    client = clients.for_service("image", user="cinder")
    url = await client.endpoint() + f"/v2/images/{image_id}/file"
    token = await clients.token("cinder")
    async with clients.http.stream("GET", url, headers={"X-Auth-Token": token.value}) as resp:
        if resp.status_code != 200:
            raise DriverError(f"Image {image_id} data could not be read ({resp.status_code}).")
        with target.open("wb") as f:
            async for chunk in resp.aiter_bytes(1024 * 1024):
                await asyncio.to_thread(f.write, chunk)


async def create_from_image(
    agent: VolumeAgent, driver: VolumeDriver, volume: Volume, source: dict[str, Any]
) -> Location:
    scratch = agent.scratch()
    try:
        data = scratch / "image"
        await download(agent, source["id"], data)
        fmt = await asyncio.to_thread(inspect, data, source.get("disk_format"))
        return await asyncio.to_thread(
            driver.create_from_file, volume.id, volume.size, Location(data, fmt)
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def upload(
    agent: VolumeAgent, driver: VolumeDriver, volume: Volume, image_id: str, disk_format: str
) -> None:
    """Convert the volume to ``disk_format`` and send it as the image's data."""
    from onestack.volume.drivers import qemu_img

    scratch = agent.scratch()
    try:
        raw = scratch / "volume.raw"
        await asyncio.to_thread(driver.export_raw, driver.location(volume.id), raw)
        data = raw
        if disk_format != "raw":
            data = scratch / f"volume.{disk_format}"
            await asyncio.to_thread(qemu_img.convert, raw, "raw", data, disk_format)
        clients = agent.platform.clients
        client = clients.for_service("image", user="cinder")
        url = await client.endpoint() + f"/v2/images/{image_id}/file"
        token = await clients.token("cinder")

        async def chunks() -> Any:
            with data.open("rb") as f:
                while block := await asyncio.to_thread(f.read, 1024 * 1024):
                    yield block

        resp = await clients.http.put(
            url,
            content=chunks(),
            headers={"X-Auth-Token": token.value, "Content-Type": "application/octet-stream"},
        )
        if resp.status_code != 204:
            raise DriverError(
                f"the Image service refused the data ({resp.status_code}): {resp.text[:200]}"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
