"""/v2/tasks"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.image import tasks
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_object
from onestack.image.manager import manager_of
from onestack.image.views import task_view

router = protected_router()


@router.get("/tasks")
async def list_tasks(request: Request, ctx: RequestContext = Caller) -> Response:
    found, page = await tasks.list_tasks(manager_of(request), ctx, request.query_params)
    body: dict[str, Any] = {"tasks": [task_view(t, detail=False) for t in found]}
    body.update(tasks.list_links(request.query_params, found, page))
    return json(body)


@router.post("/tasks")
async def create_task(request: Request, ctx: RequestContext = Caller) -> Response:
    task = await tasks.create_task(manager_of(request), ctx, await json_object(request))
    return json(task_view(task), status=201)


@router.get("/tasks/{task_id}")
async def show_task(request: Request, task_id: str, ctx: RequestContext = Caller) -> Response:
    return json(task_view(await tasks.get_task(manager_of(request), ctx, task_id)))
