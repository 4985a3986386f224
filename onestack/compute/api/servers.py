"""/v2.1/servers: create, list, detail, show, update, delete and actions."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.common.microversions import Version
from onestack.common.perf import gc_paused
from onestack.compute import actions, servers, states, views, volumes
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, base, body_of
from onestack.compute.core import core_of

router = protected_router()


@router.post("/servers")
async def create_server(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    data = await body_of(request)
    if "server" not in data or not isinstance(data["server"], dict):
        raise BadRequest(
            "Invalid input for field/attribute server: 'server' is a required property"
        )
    hints = data.get("os:scheduler_hints") or data.get("OS-SCH-HNT:scheduler_hints") or {}
    if not isinstance(hints, dict):
        raise BadRequest("Invalid input for field/attribute os:scheduler_hints.")
    body = data["server"]
    created, reservation, password = await servers.create(core, ctx, body, hints, version)
    if body.get("return_reservation_id"):
        return json({"reservation_id": reservation}, status=202)
    first = created[0]
    root = base(request)
    server: dict[str, Any] = {
        "id": first.uuid,
        "links": views.links(root, "servers", first.uuid),
        "OS-DCF:diskConfig": first.disk_config,
        "security_groups": [{"name": n} for n in first.security_groups],
    }
    if password is not None:
        server["adminPass"] = password
    return json(
        {"server": server}, status=202, headers={"Location": f"{root}/v2.1/servers/{first.uuid}"}
    )


async def _render_list(
    request: Request, ctx: RequestContext, version: Version, detail: bool
) -> Response:
    core = core_of(request)
    params = request.query_params
    rule = "servers:detail" if detail else "servers:index"
    admin = core.is_admin(ctx)
    with_status = detail and version >= (2, 16) and admin
    async with core.read() as session:
        columns = servers.DETAIL_COLUMNS if detail else servers.BRIEF_COLUMNS
        rows = await servers.list_servers(session, core, ctx, params, version, rule, columns)
        hosts = (
            await servers.host_states(session, core, {r.host for r in rows if r.host})
            if with_status
            else {}
        )
        attached = await volumes.attached_of(session, [r.uuid for r in rows]) if detail else {}
    root = base(request)
    with gc_paused():  # a thousand servers are some 30,000 small containers
        if detail:
            plain = version.as_tuple()
            items = [
                views.server_detail(
                    root,
                    r,
                    plain,
                    admin=admin,
                    host_status=hosts.get(r.host or "", "") if with_status else None,
                )
                for r in rows
            ]
            for item, r in zip(items, rows, strict=True):
                _volumes_attached(item, attached[r.uuid], version)
        else:
            items = [views.server_brief(root, r) for r in rows]
    body: dict[str, Any] = {"servers": items}
    limit = params.get("limit")
    full = len(rows) >= (int(limit) if limit is not None else core.conf.max_limit)
    if rows and full:
        from urllib.parse import urlencode

        query = dict(params)
        query["marker"] = rows[-1].uuid
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [{"rel": "next", "href": f"{root}/v2.1/{path}?{urlencode(query)}"}]
    return json(body)


@router.get("/servers")
async def list_servers(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return await _render_list(request, ctx, version, detail=False)


@router.get("/servers/detail")
async def list_servers_detail(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return await _render_list(request, ctx, version, detail=True)


async def render_one(
    request: Request, ctx: RequestContext, version: Version, server_id: str
) -> dict[str, Any]:
    core = core_of(request)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id)
        admin = core.is_admin(ctx)
        status = None
        if version >= (2, 16) and admin:
            status = (
                await servers.host_states(
                    session, core, {instance.host} if instance.host else set()
                )
            ).get(instance.host or "", "")
        groups = None
        if version >= (2, 71):
            from sqlalchemy import select

            from onestack.compute.models import ServerGroup

            groups = [
                g.uuid
                for g in (
                    await session.execute(
                        select(ServerGroup).where(ServerGroup.project_id == instance.project_id)
                    )
                ).scalars()
                if instance.uuid in (g.members or [])
            ]
        attached = (await volumes.attached_of(session, [instance.uuid]))[instance.uuid]
    body = views.server_detail(
        base(request), instance, version, admin=admin, host_status=status, groups=groups
    )
    _volumes_attached(body, attached, version)
    return body


def _volumes_attached(body: dict[str, Any], rows: list[Any], version: Version) -> None:
    """The server's volumes (kept apart from views.server_detail, which renders one row)."""
    body["os-extended-volumes:volumes_attached"] = volumes.volumes_attached(rows, version)


@router.get("/servers/{server_id}")
async def show_server(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return json({"server": await render_one(request, ctx, version, server_id)})


@router.put("/servers/{server_id}")
async def update_server(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    body = await body_of(request, "server")
    await servers.update(core_of(request), ctx, server_id, body, version)
    return json({"server": await render_one(request, ctx, version, server_id)})


@router.delete("/servers/{server_id}")
async def delete_server(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    await servers.delete(core_of(request), ctx, server_id)
    return Response(status_code=204)


@router.post("/servers/{server_id}/action")
async def server_action(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    body = await body_of(request)
    name = next(iter(body), "")
    result = await actions.run(core_of(request), ctx, server_id, body, version)
    if name == "createImage":
        image_id = result["image_id"]
        location = f"{base(request).rsplit('/compute', 1)[0]}/image/v2/images/{image_id}"
        if version >= (2, 45):
            return json(result, status=202)
        return Response(status_code=202, headers={"Location": location})
    if name == "rebuild":
        server = await render_one(request, ctx, version, server_id)
        # the answer shows the server as the request left it (REBUILD), however fast the
        # host has already finished
        server["status"] = states.status(result.vm_state, result.task_state)
        if "OS-EXT-STS:task_state" in server:
            server["OS-EXT-STS:task_state"] = result.task_state
        return json({"server": server}, status=202)
    if name == "os-getConsoleOutput":
        return json(result)
    if isinstance(result, dict) and result:
        return json(result, status=200 if name == "rescue" or "console" in result else 202)
    if name == "rescue":
        return json({}, status=200)
    return Response(status_code=202)
