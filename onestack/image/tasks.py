"""The tasks API (``/v2/tasks``): import tasks, listed and shown; admin-only by default.

``POST /v2/tasks`` (the pre-import-API way, type ``import``) creates an image from the task's
``image_properties`` and fetches ``import_from`` into it, like ``web-download``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, NotFound
from onestack.common.pagination import PageRequest, page_request, paginate
from onestack.image import images, imports
from onestack.image.models import Image, Task, table
from onestack.image.rpcapi import ImageWorkerAPI

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

SORT_KEYS = ("id", "type", "status", "created_at", "updated_at")


def _scope(mgr: ImageManager, ctx: RequestContext, stmt: Any) -> Any:
    if mgr.is_admin(ctx):
        return stmt
    return stmt.where(Task.owner == ctx.project_id)


async def list_tasks(
    mgr: ImageManager, ctx: RequestContext, params: Any
) -> tuple[list[Task], PageRequest]:
    mgr.enforce(ctx, "get_tasks", {"project_id": ctx.project_id})
    for name, allowed in (
        ("type", ("import", "api_image_import")),
        ("status", ("pending", "processing", "success", "failure")),
    ):
        if name in params and params[name] not in allowed:
            raise BadRequest(f"Invalid {name} value: {params[name]}")
    query = dict(params)
    query.setdefault("sort_dir", "desc")
    query.setdefault("sort_key", "created_at")
    page = page_request(query, max_limit=mgr.conf.api_limit_max, sortable=SORT_KEYS)
    if "limit" not in params:
        page = PageRequest(
            min(mgr.conf.limit_param_default, page.limit or 0) or None, page.marker, page.sort
        )
    stmt = _scope(mgr, ctx, select(Task))
    for name in ("type", "status"):
        if name in params:
            stmt = stmt.where(getattr(Task, name) == params[name])
    async with mgr.read() as session:
        try:
            tasks = await paginate(session, stmt, Task, page)
        except NotFound:
            raise BadRequest(f"Invalid marker: {page.marker}") from None
    return tasks, page


def list_links(params: Any, tasks: list[Task], page: PageRequest) -> dict[str, str]:
    items = [(k, v) for k, v in params.multi_items() if k != "marker"]
    query = urlencode(items)
    out = {"first": f"/v2/tasks?{query}" if query else "/v2/tasks", "schema": "/v2/schemas/tasks"}
    if page.limit and tasks and len(tasks) >= page.limit:
        out["next"] = "/v2/tasks?" + urlencode([*items, ("marker", tasks[-1].id)])
    return out


async def get_task(mgr: ImageManager, ctx: RequestContext, task_id: str) -> Task:
    mgr.enforce(ctx, "get_task", {"project_id": ctx.project_id})
    async with mgr.read() as session:
        task = await _find(mgr, ctx, session, task_id)
    return task


async def _find(
    mgr: ImageManager, ctx: RequestContext, session: AsyncSession, task_id: str
) -> Task:
    stmt = _scope(mgr, ctx, select(Task).where(Task.id == task_id))
    task = (await session.execute(stmt)).scalar_one_or_none()
    if task is None:
        raise NotFound(f"Task with the given id {task_id} not found")
    return task


async def create_task(mgr: ImageManager, ctx: RequestContext, body: dict[str, Any]) -> Task:
    """POST /v2/tasks (type import): a new image filled from ``input.import_from``."""
    mgr.enforce(ctx, "add_task", {"project_id": ctx.project_id})
    if body.get("type") != "import":
        raise BadRequest("Task type must be 'import'.")
    task_input = body.get("input")
    if not isinstance(task_input, dict):
        raise BadRequest("Task input must be an object.")
    uri = task_input.get("import_from")
    if not isinstance(uri, str):
        raise BadRequest("Input does not contain 'import_from' field")
    properties = task_input.get("image_properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise BadRequest("'image_properties' must be an object.")
    fmt = task_input.get("import_from_format")
    if fmt is not None and (not isinstance(fmt, str) or fmt not in mgr.conf.disk_formats):
        raise BadRequest(f"'import_from_format' must be one of {', '.join(mgr.conf.disk_formats)}.")
    properties = {"container_format": "bare", **properties}
    if fmt and "disk_format" not in properties:
        properties["disk_format"] = fmt
    host, port = imports.check_uri(mgr, uri)
    await imports.check_reachable(host, port)
    record = await images.create(mgr, ctx, properties)
    image_id = record.id
    task_id = str(uuid.uuid4())
    now = utcnow()
    async with mgr.write() as session:
        await session.execute(
            insert(table(Task)),
            [
                {
                    "id": task_id,
                    "type": "import",
                    "status": "pending",
                    "owner": ctx.project_id,
                    "image_id": image_id,
                    "user_id": ctx.user_id,
                    "request_id": ctx.request_id,
                    "input": task_input,
                    "result": None,
                    "message": "",
                    "expires_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        await session.execute(
            update(table(Image)).where(Image.id == image_id).values(status="importing")
        )
    await ImageWorkerAPI(mgr.platform.transport).run_import(
        ctx,
        image_id=image_id,
        task_id=task_id,
        method="web-download",
        stores=[mgr.default_store],
        uri=uri,
        all_must=True,
    )
    async with mgr.read() as session:
        return await _find(mgr, ctx, session, task_id)
