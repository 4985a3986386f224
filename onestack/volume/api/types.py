"""/types (volume types, extra specs, private access) and /qos-specs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import BadRequest, NotFound
from onestack.volume import types, views
from onestack.volume.api import protected_router
from onestack.volume.api.common import body_of, caller, root, url_project
from onestack.volume.models import VolumeType

router = protected_router()


async def _render(core: Any, ctx: Any, rows: list[VolumeType]) -> list[dict[str, Any]]:
    async with core.read() as session:
        specs = await types.extra_specs(session, [t.id for t in rows])
    admin = core.is_admin(ctx)
    return [views.volume_type(t, specs[t.id], admin=admin) for t in rows]


@router.get("/types")
async def index(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:type_get_all")
    async with core.read() as session:
        rows = await types.listing(
            session, ctx, core.is_admin(ctx), request.query_params.get("is_public")
        )
    return json({"volume_types": await _render(core, ctx, rows)})


@router.get("/types/default")
async def default(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:type_get")
    async with core.read() as session:
        vtype = await types.default(session, ctx, core.is_admin(ctx), core.conf.default_volume_type)
    return json({"volume_type": (await _render(core, ctx, [vtype]))[0]})


@router.get("/types/{type_id}")
async def show(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:type_get")
    async with core.read() as session:
        vtype = await types.find(session, ctx, core.is_admin(ctx), type_id)
    return json({"volume_type": (await _render(core, ctx, [vtype]))[0]})


@router.post("/types")
async def create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_manage")
    body = await body_of(request, "volume_type")
    async with core.write() as session:
        vtype = await types.create(session, body)
    return json({"volume_type": (await _render(core, ctx, [vtype]))[0]})


@router.put("/types/{type_id}")
async def update(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_manage")
    body = await body_of(request, "volume_type")
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        await types.update(session, vtype, body)
    return json({"volume_type": (await _render(core, ctx, [vtype]))[0]})


@router.delete("/types/{type_id}")
async def delete(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_manage")
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        await types.delete_type(session, vtype)
    return Response(status_code=202)


# -- extra specs --------------------------------------------------------------------------------
async def _specs(core: Any, ctx: Any, type_id: str) -> dict[str, str]:
    core.enforce(ctx, "volume_extension:access_types_extra_specs")
    async with core.read() as session:
        vtype = await types.find(session, ctx, core.is_admin(ctx), type_id)
        specs = (await types.extra_specs(session, [vtype.id]))[vtype.id]
    return specs if core.is_admin(ctx) else views._user_visible(specs)


@router.get("/types/{type_id}/extra_specs")
async def specs(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    return json({"extra_specs": await _specs(core, ctx, type_id)})


@router.post("/types/{type_id}/extra_specs")
async def set_specs(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_extra_specs:create")
    data = await body_of(request)
    if "extra_specs" not in data:
        raise BadRequest("Missing required element 'extra_specs' in request body.")
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        written = await types.set_specs(session, vtype.id, data["extra_specs"])
    return json({"extra_specs": written})


@router.get("/types/{type_id}/extra_specs/{key}")
async def spec(request: Request, type_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    found = await _specs(core, ctx, type_id)
    if key not in found:
        raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    return json({key: found[key]})


@router.put("/types/{type_id}/extra_specs/{key}")
async def set_spec(request: Request, type_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_extra_specs:update")
    data = await body_of(request)
    if list(data) != [key]:
        raise BadRequest("Request body and URI mismatch.")
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        written = await types.set_specs(session, vtype.id, data)
    return json(written)


@router.delete("/types/{type_id}/extra_specs/{key}")
async def delete_spec(request: Request, type_id: str, key: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:types_extra_specs:delete")
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        await types.delete_spec(session, vtype.id, key)
    return Response(status_code=202)


# -- private type access -------------------------------------------------------------------------
@router.get("/types/{type_id}/os-volume-type-access")
async def access(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:volume_type_access")
    async with core.read() as session:
        vtype = await types.find(session, ctx, True, type_id)
        projects = await types.access(session, vtype)
    return json(
        {"volume_type_access": [{"volume_type_id": vtype.id, "project_id": p} for p in projects]}
    )


@router.post("/types/{type_id}/action")
async def type_action(request: Request, type_id: str) -> Response:
    core, ctx, _ = await caller(request)
    data = await body_of(request)
    async with core.write() as session:
        vtype = await types.find(session, ctx, True, type_id)
        if "addProjectAccess" in data:
            core.enforce(ctx, "volume_extension:volume_type_access:addProjectAccess")
            await types.add_access(session, vtype, (data["addProjectAccess"] or {}).get("project"))
        elif "removeProjectAccess" in data:
            core.enforce(ctx, "volume_extension:volume_type_access:removeProjectAccess")
            await types.remove_access(
                session, vtype, (data["removeProjectAccess"] or {}).get("project")
            )
        else:
            raise BadRequest(f"There is no such action: {', '.join(data) or 'none'}")
    return Response(status_code=202)


# -- QoS specs ------------------------------------------------------------------------------------
def _qos_base(request: Request) -> str:
    project = url_project(request)
    return f"{root(request)}/v3" + (f"/{project}" if project else "")


@router.get("/qos-specs")
async def qos_index(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:get_all")
    from sqlalchemy import select

    from onestack.volume.models import QosSpecs

    async with core.read() as session:
        rows = list(
            (await session.execute(select(QosSpecs).order_by(QosSpecs.created_at))).scalars()
        )
    return json({"qos_specs": [views.qos(q, _qos_base(request)) for q in rows]})


@router.post("/qos-specs")
async def qos_create(request: Request) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:create")
    body = await body_of(request, "qos_specs")
    async with core.write() as session:
        qos = await types.create_qos(session, body)
    return json({"qos_specs": views.qos(qos, _qos_base(request))})


@router.get("/qos-specs/{qos_id}")
async def qos_show(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:get")
    async with core.read() as session:
        qos = await types.get_qos(session, qos_id)
    return json({"qos_specs": views.qos(qos, _qos_base(request))})


@router.put("/qos-specs/{qos_id}")
async def qos_update(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:update")
    body = await body_of(request, "qos_specs")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        written = await types.update_qos(qos, body)
    return json({"qos_specs": written})


@router.delete("/qos-specs/{qos_id}")
async def qos_delete(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:delete")
    force = types._bool(request.query_params.get("force", "false"), "force")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        await types.delete_qos(session, qos, force)
    return Response(status_code=202)


@router.put("/qos-specs/{qos_id}/delete_keys")
async def qos_delete_keys(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:update")
    keys = (await body_of(request)).get("keys")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        await types.delete_qos_keys(qos, keys)
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/associations")
async def qos_associations(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:get")
    async with core.read() as session:
        await types.get_qos(session, qos_id)
        rows = await types.associations(session, qos_id)
    return json(
        {
            "qos_associations": [
                {"association_type": "volume_type", "name": t.name, "id": t.id} for t in rows
            ]
        }
    )


@router.get("/qos-specs/{qos_id}/associate")
async def qos_associate(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:update")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        await types.associate(session, qos, request.query_params.get("vol_type_id"))
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate")
async def qos_disassociate(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:update")
    type_id = request.query_params.get("vol_type_id")
    if not type_id:
        raise BadRequest("A vol_type_id is required.")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        await types.disassociate(session, qos, type_id)
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate_all")
async def qos_disassociate_all(request: Request, qos_id: str) -> Response:
    core, ctx, _ = await caller(request)
    core.enforce(ctx, "volume_extension:qos_specs_manage:update")
    async with core.write() as session:
        qos = await types.get_qos(session, qos_id)
        await types.disassociate(session, qos, None)
    return Response(status_code=202)
