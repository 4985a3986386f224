"""POST /volumes/{id}/action: extend, flags, admin actions, attach actions, upload to image."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest
from onestack.volume import attachments, volumes
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller

router = protected_router()

_LEGACY = (
    "os-reserve",
    "os-unreserve",
    "os-initialize_connection",
    "os-terminate_connection",
    "os-attach",
    "os-begin_detaching",
    "os-roll_detaching",
    "os-detach",
    "os-force_detach",
)


@router.post("/volumes/{volume_id}/action")
async def action(request: Request, volume_id: str) -> Response:
    core, ctx, version = await caller(request)
    data = await body_of(request)
    if len(data) != 1:
        raise BadRequest("A volume action body holds exactly one action.")
    name, body = next(iter(data.items()))
    if name == "os-extend":
        await volumes.extend(core, ctx, volume_id, body, attached_ok=version >= "3.42")
        return Response(status_code=202)
    if name == "os-set_bootable":
        value = body.get("bootable") if isinstance(body, dict) else None
        if value is None:
            raise BadRequest("Must specify bootable in request.")
        await volumes.set_flag(core, ctx, volume_id, "bootable", value, "volume:update")
        return Response(status_code=200)
    if name == "os-update_readonly_flag":
        value = body.get("readonly") if isinstance(body, dict) else None
        if value is None:
            raise BadRequest("Must specify readonly in request.")
        await volumes.set_flag(
            core, ctx, volume_id, "read_only", value, "volume:update_readonly_flag"
        )
        return Response(status_code=202)
    if name == "os-reset_status":
        await volumes.reset_status(core, ctx, volume_id, body)
        return Response(status_code=202)
    if name == "os-force_delete":
        await volumes.delete_volume(core, ctx, volume_id, force=True, cascade=True)
        return Response(status_code=202)
    if name in _LEGACY:
        result = await attachments.legacy(core, ctx, volume_id, name, body)
        if result is not None:
            return json(result)
        return Response(status_code=202)
    if name == "os-volume_upload_image":
        from onestack.volume import uploads

        return json({name: await uploads.upload(core, ctx, volume_id, body)}, 202)
    if name in ("os-set_image_metadata", "os-unset_image_metadata", "os-show_image_metadata"):
        return await _image_metadata(core, ctx, volume_id, name, body)
    raise BadRequest(f"There is no such action: {name}")


async def _image_metadata(core: Any, ctx: Any, volume_id: str, name: str, body: Any) -> Response:
    from onestack.volume.models import VolumeImageMetadata

    rule = {
        "os-set_image_metadata": "set",
        "os-unset_image_metadata": "remove",
        "os-show_image_metadata": "show",
    }[name]
    async with core.write() as session:
        await volumes.get(
            core, session, ctx, volume_id, f"volume_extension:volume_image_metadata:{rule}"
        )
        if name == "os-set_image_metadata":
            meta = volumes.check_metadata((body or {}).get("metadata"))
            for key, value in meta.items():
                row = await session.get(VolumeImageMetadata, (volume_id, key))
                if row is None:
                    session.add(VolumeImageMetadata(volume_id=volume_id, key=key, value=value))
                else:
                    row.value = value
        elif name == "os-unset_image_metadata":
            unset = (body or {}).get("key")
            row = await session.get(VolumeImageMetadata, (volume_id, unset))
            if row is None:
                from onestack.common.errors import NotFound

                raise NotFound(f"Glance metadata for volume {volume_id} has no key {unset}.")
            await session.delete(row)
            return Response(status_code=200)
        found = (await volumes.image_metadata_of(session, [volume_id]))[volume_id]
    return json({"metadata": found})
