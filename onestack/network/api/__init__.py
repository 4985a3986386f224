"""The Networking v2.0 HTTP API: one module per resource area; the routes of the plain
create/list/show/update/delete resources come from :func:`crud_routes`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from onestack.common.api import _has_nul, json, no_content
from onestack.common.auth import authenticated
from onestack.common.context import RequestContext
from onestack.network.attributes import Resource, body_of, parse_create, parse_update
from onestack.network.errors import bad_request
from onestack.network.manager import manager_of

Caller = Depends(authenticated)
Handler = Callable[..., Awaitable[Any]]


def public_router() -> APIRouter:
    return APIRouter()


def protected_router() -> APIRouter:
    return APIRouter(prefix="/v2.0", dependencies=[Depends(authenticated)])


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise bad_request("Resource body required.", "BadRequest")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Malformed request body", "BadRequest") from None
    if _has_nul(data):
        raise bad_request("Invalid input: strings must not contain NUL characters.")
    return data


def fields_of(request: Request) -> list[str]:
    return [f for raw in request.query_params.getlist("fields") for f in raw.split(",") if f]


def crud_routes(
    router: APIRouter,
    res: Resource,
    *,
    create: Handler | None = None,
    list_: Handler | None = None,
    show: Handler | None = None,
    update: Handler | None = None,
    delete: Handler | None = None,
    extra: tuple[str, ...] = (),
    path: str | None = None,
) -> None:
    """POST/GET/GET one/PUT/DELETE on ``/v2.0/<collection>`` in Neutron's shapes (bulk
    create with ``{"<collection>": [...]}``, ``fields=``, ``If-Match``)."""
    base = f"/{path or res.collection}"
    member, collection = res.member, res.collection

    if create is not None:
        handler = create

        @router.post(base, name=f"create_{member}")
        async def _create(request: Request, ctx: RequestContext = Caller) -> Response:
            mgr = manager_of(request)
            body = await json_body(request)
            if isinstance(body, dict) and isinstance(body.get(collection), list):
                items = []
                for item in body[collection]:
                    if not isinstance(item, dict):
                        raise bad_request(f"Bulk {collection} must be a list of objects.")
                    items.append(await handler(mgr, ctx, parse_create(res, item, extra)))
                return json({collection: items}, status=201)
            values = parse_create(res, body_of(res, body), extra)
            return json({member: await handler(mgr, ctx, values)}, status=201)

    if list_ is not None:
        lister = list_

        @router.get(base, name=f"list_{collection}")
        async def _list(request: Request, ctx: RequestContext = Caller) -> Response:
            return json(await lister(manager_of(request), ctx, request))

    if show is not None:
        shower = show

        @router.get(base + "/{item_id}", name=f"show_{member}")
        async def _show(request: Request, item_id: str, ctx: RequestContext = Caller) -> Response:
            return json(
                {member: await shower(manager_of(request), ctx, item_id, fields_of(request))}
            )

    if update is not None:
        updater = update

        @router.put(base + "/{item_id}", name=f"update_{member}")
        async def _update(request: Request, item_id: str, ctx: RequestContext = Caller) -> Response:
            values = parse_update(res, body_of(res, await json_body(request)), extra)
            out = await updater(
                manager_of(request), ctx, item_id, values, request.headers.get("if-match")
            )
            return json({member: out})

    if delete is not None:
        deleter = delete

        @router.delete(base + "/{item_id}", name=f"delete_{member}")
        async def _delete(request: Request, item_id: str, ctx: RequestContext = Caller) -> Response:
            await deleter(manager_of(request), ctx, item_id, request.headers.get("if-match"))
            return no_content()
