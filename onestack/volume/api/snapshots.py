"""/snapshots: create, list, show, update, delete, metadata, admin actions."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import snapshots, views, volumes
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller, next_link, page, with_count
from onestack.volume.models import Snapshot, SnapshotMetadata

router = protected_router()


async def render(core: Any, ctx: Any, version: Any, rows: list[Snapshot]) -> list[dict[str, Any]]:
    async with core.read() as session:
        meta = await snapshots.metadata_of(session, [s.id for s in rows])
    admin = core.is_admin(ctx)
    return [views.snapshot(s, version=version, admin=admin, metadata=meta[s.id]) for s in rows]


async def show_one(request: Request, snapshot_id: str, status: int = 200) -> Response:
    core, ctx, version = await caller(request)
    async with core.read() as session:
        snap = await snapshots.get(core, session, ctx, snapshot_id)
    return json({"snapshot": (await render(core, ctx, version, [snap]))[0]}, status)


@router.post("/snapshots")
async def create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    snap = await snapshots.create(core, ctx, await body_of(request, "snapshot"))
    return await show_one(request, snap.id, 202)


async def _list(request: Request, detail: bool) -> Response:
    core, ctx, version = await caller(request)
    pg = page(request, core, snapshots.SORTABLE)
    rows, count = await snapshots.listing(
        core, ctx, dict(request.query_params), pg, with_count(request, version)
    )
    items = await render(core, ctx, version, rows)
    if not detail:
        for item in items:
            item.pop("os-extended-snapshot-attributes:project_id", None)
            item.pop("os-extended-snapshot-attributes:progress", None)
    body: dict[str, Any] = {"snapshots": items}
    more = next_link(request, rows, pg)
    if more:
        body["snapshots_links"] = more
    if count is not None:
        body["count"] = count
    return json(body)


@router.get("/snapshots")
async def index(request: Request) -> Response:
    return await _list(request, False)


@router.get("/snapshots/detail")
async def detail(request: Request) -> Response:
    return await _list(request, True)


@router.get("/snapshots/{snapshot_id}")
async def show(request: Request, snapshot_id: str) -> Response:
    return await show_one(request, snapshot_id)


@router.put("/snapshots/{snapshot_id}")
async def update(request: Request, snapshot_id: str) -> Response:
    core, ctx, _ = await caller(request)
    await snapshots.update(core, ctx, snapshot_id, await body_of(request, "snapshot"))
    return await show_one(request, snapshot_id)


@router.delete("/snapshots/{snapshot_id}")
async def delete(request: Request, snapshot_id: str) -> Response:
    core, ctx, _ = await caller(request)
    await snapshots.delete_snapshot(core, ctx, snapshot_id)
    return Response(status_code=202)


@router.post("/snapshots/{snapshot_id}/action")
async def action(request: Request, snapshot_id: str) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    if "os-reset_status" in data:
        await snapshots.reset_status(core, ctx, snapshot_id, data["os-reset_status"])
    elif "os-force_delete" in data:
        await snapshots.delete_snapshot(core, ctx, snapshot_id, force=True)
    else:
        raise BadRequest(f"There is no such action: {', '.join(data) or 'none'}")
    return Response(status_code=202)


# -- metadata -----------------------------------------------------------------------------------
async def _meta(core: Any, ctx: Any, snapshot_id: str) -> dict[str, str]:
    async with core.read() as session:
        await snapshots.get(core, session, ctx, snapshot_id, "volume:get_snapshot_metadata")
        return (await snapshots.metadata_of(session, [snapshot_id]))[snapshot_id]


@router.get("/snapshots/{snapshot_id}/metadata")
async def metadata(request: Request, snapshot_id: str) -> Response:
    core, ctx, _ = await caller(request)
    return json({"metadata": await _meta(core, ctx, snapshot_id)})


async def _write(request: Request, snapshot_id: str, replace: bool) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    if "metadata" not in data:
        raise BadRequest("Malformed request body: metadata is required.")
    meta = volumes.check_metadata(data["metadata"])
    async with core.write() as session:
        await snapshots.get(core, session, ctx, snapshot_id, "volume:update_snapshot_metadata")
        if replace:
            await snapshots.replace_metadata(session, snapshot_id, meta)
        else:
            await snapshots.merge_metadata(session, snapshot_id, meta)
    return json({"metadata": meta if replace else await _meta(core, ctx, snapshot_id)})


@router.post("/snapshots/{snapshot_id}/metadata")
async def add_metadata(request: Request, snapshot_id: str) -> Response:
    return await _write(request, snapshot_id, False)


@router.put("/snapshots/{snapshot_id}/metadata")
async def replace_metadata(request: Request, snapshot_id: str) -> Response:
    return await _write(request, snapshot_id, True)


@router.get("/snapshots/{snapshot_id}/metadata/{key}")
async def metadata_key(request: Request, snapshot_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    meta = await _meta(core, ctx, snapshot_id)
    if key not in meta:
        raise NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
    return json({"meta": {key: meta[key]}})


@router.put("/snapshots/{snapshot_id}/metadata/{key}")
async def set_key(request: Request, snapshot_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    meta = volumes.check_metadata((await body_of(request)).get("meta"))
    if list(meta) != [key]:
        raise BadRequest("Request body and URI mismatch: meta must hold exactly the URI's key.")
    async with core.write() as session:
        await snapshots.get(core, session, ctx, snapshot_id, "volume:update_snapshot_metadata")
        await snapshots.merge_metadata(session, snapshot_id, meta)
    return json({"meta": meta})


@router.delete("/snapshots/{snapshot_id}/metadata/{key}")
async def delete_key(request: Request, snapshot_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    async with core.write() as session:
        await snapshots.get(core, session, ctx, snapshot_id, "volume:delete_snapshot_metadata")
        row = await session.get(SnapshotMetadata, (snapshot_id, key))
        if row is None:
            raise NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
        await session.delete(row)
    return Response(status_code=200)
