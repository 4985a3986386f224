"""/backups: create, list, show, update (3.9), delete, restore, export and import records."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest
from onestack.volume import backups, views
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
from onestack.volume.models import Backup

router = protected_router()


async def _render(
    request: Request, core: Any, version: Any, rows: list[Backup]
) -> list[dict[str, Any]]:
    out = []
    async with core.read() as session:
        for b in rows:
            out.append(
                views.backup(
                    b,
                    base=root(request),
                    project_id=url_project(request),
                    version=version,
                    has_dependents=await backups.has_children(session, b.id),
                )
            )
    return out


def _summary(request: Request, b: Backup) -> dict[str, Any]:
    return views.backup_summary(b, root(request), url_project(request))


@router.post("/backups")
async def create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    backup = await backups.create(core, ctx, await body_of(request, "backup"))
    return json({"backup": _summary(request, backup)}, 202)


async def _list(request: Request, detail: bool) -> Response:
    core, ctx, version = await caller(request)
    pg = page(request, core, backups.SORTABLE)
    rows, count = await backups.listing(
        core, ctx, dict(request.query_params), pg, with_count(request, version)
    )
    items = (
        await _render(request, core, version, rows)
        if detail
        else [_summary(request, b) for b in rows]
    )
    body: dict[str, Any] = {"backups": items}
    more = next_link(request, rows, pg)
    if more:
        body["backups_links"] = more
    if count is not None:
        body["count"] = count
    return json(body)


@router.get("/backups")
async def index(request: Request) -> Response:
    return await _list(request, False)


@router.get("/backups/detail")
async def detail(request: Request) -> Response:
    return await _list(request, True)


@router.post("/backups/import_record")
async def import_record(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    backup = await backups.import_record(core, ctx, await body_of(request, "backup-record"))
    return json({"backup": _summary(request, backup)}, 201)


@router.get("/backups/{backup_id}")
async def show(request: Request, backup_id: str) -> Response:
    core, ctx, version = await caller(request)
    async with core.read() as session:
        backup = await backups.get(core, session, ctx, backup_id)
    return json({"backup": (await _render(request, core, version, [backup]))[0]})


@router.put("/backups/{backup_id}")
async def update(request: Request, backup_id: str) -> Response:
    core, ctx, version = await caller(request)
    if version < "3.9":
        from onestack.common.errors import MethodNotAllowed

        raise MethodNotAllowed("The method is not allowed for this resource.")
    backup = await backups.update(core, ctx, backup_id, await body_of(request, "backup"))
    return json({"backup": _summary(request, backup)})


@router.delete("/backups/{backup_id}")
async def delete(request: Request, backup_id: str) -> Response:
    core, ctx, _ = await caller(request)
    force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
    await backups.delete_backup(core, ctx, backup_id, force=force)
    return Response(status_code=202)


@router.post("/backups/{backup_id}/restore")
async def restore(request: Request, backup_id: str) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    if "restore" not in data:
        raise BadRequest("Missing required element 'restore' in request body.")
    return json({"restore": await backups.restore(core, ctx, backup_id, data["restore"])}, 202)


@router.get("/backups/{backup_id}/export_record")
async def export_record(request: Request, backup_id: str) -> Response:
    core, ctx, _ = await caller(request)
    return json({"backup-record": await backups.export_record(core, ctx, backup_id)})


@router.post("/backups/{backup_id}/action")
async def action(request: Request, backup_id: str) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    if "os-reset_status" in data:
        await backups.reset_status(core, ctx, backup_id, data["os-reset_status"])
    elif "os-force_delete" in data:
        await backups.delete_backup(core, ctx, backup_id, force=True)
    else:
        raise BadRequest(f"There is no such action: {', '.join(data) or 'none'}")
    return Response(status_code=202)
