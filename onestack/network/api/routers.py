"""/v2.0/routers (with interface and extra route actions), /floatingips and their
/port_forwardings, /trunks and their sub-ports."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.network import floatingips, routers, trunks
from onestack.network.api import Caller, crud_routes, fields_of, json_body, protected_router
from onestack.network.attributes import body_of, parse_create, parse_update
from onestack.network.manager import manager_of

router = protected_router()

crud_routes(
    router,
    routers.RES,
    create=routers.create,
    list_=routers.list_routers,
    show=routers.show,
    update=routers.update,
    delete=routers.delete_router,
)
crud_routes(
    router,
    floatingips.RES,
    create=floatingips.create,
    list_=floatingips.list_fips,
    show=floatingips.show,
    update=floatingips.update,
    delete=floatingips.delete_fip,
)


@router.put("/routers/{router_id}/add_router_interface")
async def add_interface(request: Request, router_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    return json(await routers.add_interface(manager_of(request), ctx, router_id, body))


@router.put("/routers/{router_id}/remove_router_interface")
async def remove_interface(
    request: Request, router_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_body(request)
    return json(await routers.remove_interface(manager_of(request), ctx, router_id, body))


@router.put("/routers/{router_id}/add_extraroutes")
async def add_routes(request: Request, router_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    out = await routers.change_routes(manager_of(request), ctx, router_id, body, add=True)
    return json({"router": out})


@router.put("/routers/{router_id}/remove_extraroutes")
async def remove_routes(request: Request, router_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    out = await routers.change_routes(manager_of(request), ctx, router_id, body, add=False)
    return json({"router": out})


_PF = floatingips.FORWARDINGS


@router.post("/floatingips/{fip_id}/port_forwardings")
async def create_pf(request: Request, fip_id: str, ctx: RequestContext = Caller) -> Response:
    values = parse_create(_PF, body_of(_PF, await json_body(request)))
    out = await floatingips.create_pf(manager_of(request), ctx, fip_id, values)
    return json({"port_forwarding": out}, status=201)


@router.get("/floatingips/{fip_id}/port_forwardings")
async def list_pf(request: Request, fip_id: str, ctx: RequestContext = Caller) -> Response:
    return json(await floatingips.list_pf(manager_of(request), ctx, fip_id, request))


@router.get("/floatingips/{fip_id}/port_forwardings/{pf_id}")
async def show_pf(
    request: Request, fip_id: str, pf_id: str, ctx: RequestContext = Caller
) -> Response:
    out = await floatingips.show_pf(manager_of(request), ctx, fip_id, pf_id, fields_of(request))
    return json({"port_forwarding": out})


@router.put("/floatingips/{fip_id}/port_forwardings/{pf_id}")
async def update_pf(
    request: Request, fip_id: str, pf_id: str, ctx: RequestContext = Caller
) -> Response:
    values = parse_update(_PF, body_of(_PF, await json_body(request)))
    out = await floatingips.update_pf(manager_of(request), ctx, fip_id, pf_id, values)
    return json({"port_forwarding": out})


@router.delete("/floatingips/{fip_id}/port_forwardings/{pf_id}")
async def delete_pf(
    request: Request, fip_id: str, pf_id: str, ctx: RequestContext = Caller
) -> Response:
    await floatingips.delete_pf(manager_of(request), ctx, fip_id, pf_id)
    return no_content()


crud_routes(
    router,
    trunks.RES,
    create=trunks.create,
    list_=trunks.list_trunks,
    show=trunks.show,
    update=trunks.update,
    delete=trunks.delete_trunk,
)


@router.put("/trunks/{trunk_id}/add_subports")
async def add_subports(request: Request, trunk_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    return json(await trunks.change_subports(manager_of(request), ctx, trunk_id, body, True))


@router.put("/trunks/{trunk_id}/remove_subports")
async def remove_subports(
    request: Request, trunk_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_body(request)
    return json(await trunks.change_subports(manager_of(request), ctx, trunk_id, body, False))


@router.get("/trunks/{trunk_id}/get_subports")
async def get_subports(request: Request, trunk_id: str, ctx: RequestContext = Caller) -> Response:
    return json({"sub_ports": await trunks.subports(manager_of(request), ctx, trunk_id)})
