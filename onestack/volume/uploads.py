"""Upload a volume to the Image service (``os-volume_upload_image``): the API makes the image
record with the caller's token, the volume's agent converts and uploads the data."""

from __future__ import annotations

from typing import Any

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest
from onestack.volume import states, types, volumes
from onestack.volume.core import VolumeCore
from onestack.volume.models import VolumeType

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx")


async def upload(
    core: VolumeCore, ctx: RequestContext, volume_id: str, body: Any
) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("image_name"), str):
        raise BadRequest("os-volume_upload_image needs image_name.")
    disk_format = body.get("disk_format", "raw")
    if disk_format not in DISK_FORMATS:
        raise BadRequest(f"Invalid disk-format '{disk_format}': one of {', '.join(DISK_FORMATS)}.")
    container_format = body.get("container_format", "bare")
    force = types._bool(body.get("force", False), "force")
    async with core.read() as session:
        volume = await volumes.get(
            core, session, ctx, volume_id, "volume_extension:volume_actions:upload_image"
        )
        allowed = (states.AVAILABLE, states.IN_USE) if force else (states.AVAILABLE,)
        if volume.status not in allowed:
            raise BadRequest(
                f"Invalid volume: Volume {volume_id} status must be available "
                f"(it is {volume.status})."
            )
        image_props = (await volumes.image_metadata_of(session, [volume_id]))[volume_id]
        vtype = await session.get(VolumeType, volume.volume_type_id)
    image_body: dict[str, Any] = {
        "name": body["image_name"],
        "disk_format": disk_format,
        "container_format": container_format,
        "min_disk": volume.size,
    }
    if body.get("visibility"):
        image_body["visibility"] = body["visibility"]
    if body.get("protected") is not None:
        image_body["protected"] = types._bool(body["protected"], "protected")
    for key in ("hw_disk_bus", "hw_scsi_model", "os_distro", "os_type"):
        if key in image_props:
            image_body[key] = image_props[key]
    resp = await core.service_request("image", ctx, "POST", "/v2/images", json=image_body)
    if resp.status_code != 201:
        raise BadRequest(f"The Image service refused the image: {resp.text[:300]}")
    image = resp.json()
    async with core.write() as session:
        row = await volumes.get(
            core, session, ctx, volume_id, "volume_extension:volume_actions:upload_image"
        )
        if row.status not in allowed:
            raise BadRequest(f"Invalid volume: Volume {volume_id} status changed.")
        row.status = states.UPLOADING
        row.updated_at = utcnow()
    assert volume.host is not None
    await core.agents.cast(
        ctx,
        volume.host,
        "upload_image",
        volume_id=volume_id,
        image_id=image["id"],
        disk_format=disk_format,
    )
    return {
        "id": volume_id,
        "updated_at": utcnow().isoformat(),
        "status": states.UPLOADING,
        "display_description": volume.description,
        "size": volume.size,
        "volume_type": {"id": vtype.id, "name": vtype.name} if vtype else None,
        "image_id": image["id"],
        "container_format": container_format,
        "disk_format": disk_format,
        "image_name": body["image_name"],
        "protected": image.get("protected", False),
        "visibility": image.get("visibility"),
    }
