"""/os-volume-transfer and (3.55+) /volume-transfers: create, list, show, accept, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.microversions import Version
from onestack.volume import transfers, views
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller, root, url_project
from onestack.volume.models import Transfer

router = protected_router()


def _routes(kind: str) -> APIRouter:
    sub = APIRouter()

    def render(
        request: Request, t: Transfer, auth_key: str | None = None, version: Version | None = None
    ) -> dict[str, Any]:
        return views.transfer(
            t,
            base=root(request),
            project_id=url_project(request),
            kind=kind,
            auth_key=auth_key,
            version=version,
        )

    @sub.post(f"/{kind}")
    async def create(request: Request) -> Response:
        core, ctx, version = await caller(request)
        transfer, key = await transfers.create(core, ctx, await body_of(request, "transfer"))
        return json({"transfer": render(request, transfer, auth_key=key, version=version)}, 202)

    async def _list(request: Request, detail: bool) -> Response:
        core, ctx, version = await caller(request)
        rows = await transfers.listing(core, ctx, "all_tenants" in request.query_params)
        items = []
        for t in rows:
            item = render(request, t, version=version)
            if not detail:
                item.pop("created_at", None)
            items.append(item)
        return json({"transfers": items})

    @sub.get(f"/{kind}")
    async def index(request: Request) -> Response:
        return await _list(request, False)

    @sub.get(f"/{kind}/detail")
    async def detail(request: Request) -> Response:
        return await _list(request, True)

    @sub.get(f"/{kind}/{{transfer_id}}")
    async def show(request: Request, transfer_id: str) -> Response:
        core, ctx, version = await caller(request)
        async with core.read() as session:
            transfer = await transfers.get(core, session, ctx, transfer_id)
        return json({"transfer": render(request, transfer, version=version)})

    @sub.post(f"/{kind}/{{transfer_id}}/accept")
    async def accept(request: Request, transfer_id: str) -> Response:
        core, ctx, _ = await caller(request)
        data = await body_of(request, "accept")
        transfer = await transfers.accept(core, ctx, transfer_id, data)
        body = render(request, transfer)
        body.pop("created_at", None)
        return json({"transfer": body}, 202)

    @sub.delete(f"/{kind}/{{transfer_id}}")
    async def delete(request: Request, transfer_id: str) -> Response:
        core, ctx, _ = await caller(request)
        await transfers.delete(core, ctx, transfer_id)
        return Response(status_code=202)

    return sub


router.include_router(_routes("os-volume-transfer"))
router.include_router(_routes("volume-transfers"))
