"""A server's volumes on the wire: ``/servers/{id}/os-volume_attachments`` (list, show,
attach, detach); the volumes themselves live in the Block Storage service."""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

from fastapi import Request
from sqlalchemy import delete, update
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import servers, states, volumes
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, body_of
from onestack.compute.core import core_of
from onestack.compute.models import BlockDeviceMapping

router = protected_router()
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_KEYS = {"volumeId", "device"}


def _check_body(body: dict[str, Any], version: Version) -> dict[str, Any]:
    allowed = set(_KEYS)
    if version >= (2, 49):
        allowed.add("tag")
    if version >= (2, 79):
        allowed.add("delete_on_termination")
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute volumeAttachment. Additional properties are "
            f"not allowed ({', '.join(repr(k) for k in sorted(unknown))} were unexpected)"
        )
    volume_id = body.get("volumeId")
    if not isinstance(volume_id, str) or not _UUID.match(volume_id):
        raise BadRequest(
            f"Invalid input for field/attribute volumeId. Value: {volume_id!r}. "
            "It must be a volume's uuid."
        )
    device = body.get("device")
    if device is not None and (
        not isinstance(device, str) or not re.match(r"^/dev/[a-z]+$", device)
    ):
        raise BadRequest(f"Invalid input for field/attribute device. Value: {device!r}.")
    tag = body.get("tag")
    if tag is not None and (not isinstance(tag, str) or not tag or len(tag) > 60 or "/" in tag):
        raise BadRequest(f"Invalid input for field/attribute tag. Value: {tag!r}.")
    on_delete = body.get("delete_on_termination", False)
    if not isinstance(on_delete, bool):
        raise BadRequest(
            f"Invalid input for field/attribute delete_on_termination. Value: {on_delete!r}."
        )
    return {"volume_id": volume_id, "tag": tag, "delete_on_termination": on_delete}


def _next_device(rows: list[BlockDeviceMapping], volume_backed: bool) -> str:
    used = {r.device_name for r in rows}
    if not volume_backed:
        used.add(volumes.ROOT_DEVICE)
    for i in range(26):
        name = f"/dev/vd{chr(ord('a') + i)}"
        if name not in used:
            return name
    raise BadRequest("No free disk device names for prefix 'vd'")


@router.get("/servers/{server_id}/os-volume_attachments")
async def list_volume_attachments(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        await servers.get(session, core, ctx, server_id, "os-volumes-attachments:index")
        rows = (await volumes.attached_of(session, [server_id]))[server_id]
    params = request.query_params
    try:
        offset = int(params.get("offset") or 0)
        limit = int(params["limit"]) if params.get("limit") else None
    except ValueError:
        raise BadRequest("limit and offset must be integers") from None
    if offset < 0 or (limit is not None and limit < 0):
        raise BadRequest("limit and offset must be >= 0")
    rows = rows[offset:] if limit is None else rows[offset : offset + limit]
    return json({"volumeAttachments": [volumes.attachment_view(r, version) for r in rows]})


@router.get("/servers/{server_id}/os-volume_attachments/{volume_id}")
async def show_volume_attachment(
    request: Request,
    server_id: str,
    volume_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        await servers.get(session, core, ctx, server_id, "os-volumes-attachments:show")
        rows = (await volumes.attached_of(session, [server_id]))[server_id]
    row = next((r for r in rows if r.volume_id == volume_id), None)
    if row is None:
        raise NotFound(f"Volume {volume_id} is not attached to instance {server_id}.")
    return json({"volumeAttachment": volumes.attachment_view(row, version)})


@router.post("/servers/{server_id}/os-volume_attachments")
async def attach_volume(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    wanted = _check_body(await body_of(request, "volumeAttachment"), version)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-volumes-attachments:create")
    servers.check_lock(core, ctx, instance)
    states.check(
        "attach_volume",
        instance.vm_state,
        instance.task_state,
        vm_states=states.ATTACHABLE,
        uuid=server_id,
    )
    api = volumes.VolumeAPI(core)
    if not api.available():
        raise BadRequest("Volumes cannot be attached: this cloud has no Block Storage service.")
    volume = await api.get(ctx, wanted["volume_id"])
    if volume.get("multiattach") and version < (2, 60):
        raise BadRequest(
            "Multiattach volumes are only supported starting with compute API version 2.60."
        )
    async with core.write() as session:
        rows = await volumes.mappings(session, server_id)
        if any(r.volume_id == volume["id"] for r in rows):
            raise BadRequest(
                f"Invalid volume: volume {volume['id']} already attached to instance {server_id}"
            )
        volumes.check_attachable(volume)
        root_volume = any(r.boot_index == 0 for r in rows)
        row = BlockDeviceMapping(
            uuid=str(uuidlib.uuid4()),
            instance_uuid=server_id,
            source_type="volume",
            destination_type="volume",
            device_name=_next_device(rows, root_volume),
            volume_id=volume["id"],
            delete_on_termination=wanted["delete_on_termination"],
            tag=wanted["tag"],
        )
        session.add(row)
    try:
        row.attachment_id = await api.attachment_create(ctx, volume["id"], server_id)
        async with core.write() as session:
            await session.execute(
                update(BlockDeviceMapping)
                .where(BlockDeviceMapping.uuid == row.uuid)
                .values(attachment_id=row.attachment_id)
            )
    except Exception:  # refused (in use, another project's): the reservation goes
        async with core.write() as session:
            await session.execute(
                delete(BlockDeviceMapping).where(BlockDeviceMapping.uuid == row.uuid)
            )
        raise
    try:
        await core.agents.attach_volume(ctx, instance.host, server_id, row.uuid)
    except Exception as exc:
        raise BadRequest(f"Failed to attach volume {volume['id']} to {server_id}: {exc}") from None
    return json({"volumeAttachment": volumes.attachment_view(row, version)})


@router.delete("/servers/{server_id}/os-volume_attachments/{volume_id}")
async def detach_volume(
    request: Request, server_id: str, volume_id: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, "os-volumes-attachments:delete")
        rows = await volumes.mappings(session, server_id)
    servers.check_lock(core, ctx, instance)
    row = next((r for r in rows if r.volume_id == volume_id), None)
    if row is None:
        raise NotFound(f"Volume {volume_id} is not attached to instance {server_id}.")
    if row.boot_index == 0:
        raise BadRequest("Cannot detach a root device volume")
    states.check(
        "detach_volume",
        instance.vm_state,
        instance.task_state,
        vm_states=states.ATTACHABLE,
        uuid=server_id,
    )
    try:
        await core.agents.detach_volume(ctx, instance.host, server_id, volume_id)
    except Exception as exc:
        raise Conflict(f"Failed to detach volume {volume_id} from {server_id}: {exc}") from None
    return Response(status_code=202)
