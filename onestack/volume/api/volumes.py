"""/volumes: create, list, show, update, delete, metadata, summary."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import func, select
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import types, views, volumes
from onestack.volume.api import protected_router
from onestack.volume.api.common import (
    body_of,
    caller,
    next_link,
    page,
    root,
    url_project,
    with_count,
)
from onestack.volume.core import VolumeCore
from onestack.volume.models import Volume, VolumeMetadata, VolumeType

router = protected_router()


async def render(
    request: Request, core: VolumeCore, ctx: Any, version: Any, rows: list[Volume]
) -> list[dict[str, Any]]:
    ids = [v.id for v in rows]
    admin = core.is_admin(ctx)
    async with core.read() as session:
        meta = await volumes.metadata_of(session, ids)
        show_image = core.allowed(ctx, "volume_extension:volume_image_metadata:show")
        image_meta = await volumes.image_metadata_of(session, ids) if show_image else {}
        attachments = await volumes.attachments_of(session, ids)
        type_ids = list({v.volume_type_id for v in rows})
        names = dict(
            (
                await session.execute(
                    select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(type_ids))
                )
            ).all()
        )
    return [
        views.volume(
            v,
            base=root(request),
            project_id=url_project(request),
            version=version,
            admin=admin,
            type_name=names.get(v.volume_type_id),
            metadata=meta[v.id],
            image_metadata=image_meta.get(v.id),
            attachments=attachments[v.id],
        )
        for v in rows
    ]


async def show_one(request: Request, volume_id: str, status: int = 200) -> Response:
    core, ctx, version = await caller(request)
    async with core.read() as session:
        volume = await volumes.get(core, session, ctx, volume_id)
    return json({"volume": (await render(request, core, ctx, version, [volume]))[0]}, status)


@router.post("/volumes")
async def create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    body = data.get("volume")
    if not isinstance(body, dict):
        raise BadRequest("Missing required element 'volume' in request body.")
    hints = data.get("OS-SCH-HNT:scheduler_hints") or data.get("scheduler_hints")
    volume = await volumes.create(core, ctx, body, hints)
    return await show_one(request, volume.id, 202)


async def _list(request: Request, detail: bool) -> Response:
    core, ctx, version = await caller(request)
    pg = page(request, core, volumes.SORTABLE)
    rows, count = await volumes.listing(
        core, ctx, dict(request.query_params), pg, with_count(request, version)
    )
    if detail:
        items = await render(request, core, ctx, version, rows)
    else:
        items = [views.volume_summary(v, root(request), url_project(request)) for v in rows]
    body: dict[str, Any] = {"volumes": items}
    more = next_link(request, rows, pg)
    if more:
        body["volumes_links"] = more
    if count is not None:
        body["count"] = count
    return json(body)


@router.get("/volumes")
async def index(request: Request) -> Response:
    return await _list(request, detail=False)


@router.get("/volumes/detail")
async def detail(request: Request) -> Response:
    return await _list(request, detail=True)


@router.get("/volumes/summary")
async def summary(request: Request) -> Response:
    core, ctx, version = await caller(request)
    if version < "3.12":
        raise NotFound("The resource could not be found.")
    core.enforce(ctx, "volume:get_all")
    async with core.read() as session:
        count, size = (
            await session.execute(
                select(func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0)).where(
                    Volume.project_id == ctx.project_id
                )
            )
        ).one()
        keys: dict[str, list[str]] = {}
        if version >= "3.36":
            rows = await session.execute(
                select(VolumeMetadata.key, VolumeMetadata.value)
                .join(Volume, Volume.id == VolumeMetadata.volume_id)
                .where(Volume.project_id == ctx.project_id)
            )
            for key, value in rows.all():
                keys.setdefault(key, [])
                if value not in keys[key]:
                    keys[key].append(value)
    body: dict[str, Any] = {"total_count": count, "total_size": int(size)}
    if version >= "3.36":
        body["metadata"] = keys
    return json({"volume-summary": body})


@router.get("/volumes/{volume_id}")
async def show(request: Request, volume_id: str) -> Response:
    return await show_one(request, volume_id)


@router.put("/volumes/{volume_id}")
async def update(request: Request, volume_id: str) -> Response:
    core, ctx, _ = await caller(request)
    body = await body_of(request, "volume")
    await volumes.update(core, ctx, volume_id, body)
    return await show_one(request, volume_id)


@router.delete("/volumes/{volume_id}")
async def delete(request: Request, volume_id: str) -> Response:
    core, ctx, _ = await caller(request)
    cascade = types._bool(request.query_params.get("cascade", "false"), "cascade")
    force = types._bool(request.query_params.get("force", "false"), "force")
    await volumes.delete_volume(core, ctx, volume_id, cascade=cascade, force=force)
    return Response(status_code=202)


# -- metadata -----------------------------------------------------------------------------------
async def _metadata(core: VolumeCore, ctx: Any, volume_id: str) -> dict[str, str]:
    async with core.read() as session:
        await volumes.get(core, session, ctx, volume_id, "volume:get_volume_metadata")
        return (await volumes.metadata_of(session, [volume_id]))[volume_id]


@router.get("/volumes/{volume_id}/metadata")
async def metadata(request: Request, volume_id: str) -> Response:
    core, ctx, _ = await caller(request)
    return json({"metadata": await _metadata(core, ctx, volume_id)})


async def _write_metadata(request: Request, volume_id: str, replace: bool) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    meta = volumes.check_metadata(data.get("metadata"))
    if "metadata" not in data:
        raise BadRequest("Malformed request body: metadata is required.")
    rule = "volume:update_volume_metadata" if replace else "volume:create_volume_metadata"
    async with core.write() as session:
        await volumes.get(core, session, ctx, volume_id, rule)
        if replace:
            await volumes.replace_metadata(session, volume_id, meta)
        else:
            await volumes.merge_metadata(session, volume_id, meta)
    return json({"metadata": await _metadata(core, ctx, volume_id) if not replace else meta})


@router.post("/volumes/{volume_id}/metadata")
async def add_metadata(request: Request, volume_id: str) -> Response:
    return await _write_metadata(request, volume_id, replace=False)


@router.put("/volumes/{volume_id}/metadata")
async def replace_metadata(request: Request, volume_id: str) -> Response:
    return await _write_metadata(request, volume_id, replace=True)


@router.get("/volumes/{volume_id}/metadata/{key}")
async def metadata_key(request: Request, volume_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    meta = await _metadata(core, ctx, volume_id)
    if key not in meta:
        raise NotFound(f"Volume {volume_id} has no metadata with key {key}.")
    return json({"meta": {key: meta[key]}})


@router.put("/volumes/{volume_id}/metadata/{key}")
async def set_metadata_key(request: Request, volume_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    meta = volumes.check_metadata((await body_of(request)).get("meta"))
    if list(meta) != [key]:
        raise BadRequest("Request body and URI mismatch: meta must hold exactly the URI's key.")
    async with core.write() as session:
        await volumes.get(core, session, ctx, volume_id, "volume:update_volume_metadata")
        await volumes.merge_metadata(session, volume_id, meta)
    return json({"meta": meta})


@router.delete("/volumes/{volume_id}/metadata/{key}")
async def delete_metadata_key(request: Request, volume_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    async with core.write() as session:
        await volumes.get(core, session, ctx, volume_id, "volume:delete_volume_metadata")
        row = await session.get(VolumeMetadata, (volume_id, key))
        if row is None:
            raise NotFound(f"Volume {volume_id} has no metadata with key {key}.")
        await session.delete(row)
    return Response(status_code=200)
