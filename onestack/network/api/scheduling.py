"""Agent scheduling: /agents/{id}/l3-routers, /routers/{id}/l3-agents,
/agents/{id}/dhcp-networks and /networks/{id}/dhcp-agents."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.network import scheduling
from onestack.network.api import Caller, json_body, protected_router
from onestack.network.manager import manager_of

router = protected_router()


@router.get("/agents/{agent_id}/l3-routers")
async def l3_routers(request: Request, agent_id: str, ctx: RequestContext = Caller) -> Response:
    items = await scheduling.hosted_by(manager_of(request), ctx, scheduling.L3, agent_id)
    return json({"routers": items})


@router.post("/agents/{agent_id}/l3-routers")
async def add_l3_router(request: Request, agent_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_body(request)
    await scheduling.add(manager_of(request), ctx, scheduling.L3, agent_id, body)
    return json(None, status=201)


@router.delete("/agents/{agent_id}/l3-routers/{router_id}")
async def remove_l3_router(
    request: Request, agent_id: str, router_id: str, ctx: RequestContext = Caller
) -> Response:
    await scheduling.remove(manager_of(request), ctx, scheduling.L3, agent_id, router_id)
    return no_content()


@router.get("/routers/{router_id}/l3-agents")
async def l3_agents(request: Request, router_id: str, ctx: RequestContext = Caller) -> Response:
    items = await scheduling.hosting(manager_of(request), ctx, scheduling.L3, router_id)
    return json({"agents": items})


@router.get("/agents/{agent_id}/dhcp-networks")
async def dhcp_networks(request: Request, agent_id: str, ctx: RequestContext = Caller) -> Response:
    items = await scheduling.hosted_by(manager_of(request), ctx, scheduling.DHCP, agent_id)
    return json({"networks": items})


@router.post("/agents/{agent_id}/dhcp-networks")
async def add_dhcp_network(
    request: Request, agent_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_body(request)
    await scheduling.add(manager_of(request), ctx, scheduling.DHCP, agent_id, body)
    return json(None, status=201)


@router.delete("/agents/{agent_id}/dhcp-networks/{network_id}")
async def remove_dhcp_network(
    request: Request, agent_id: str, network_id: str, ctx: RequestContext = Caller
) -> Response:
    await scheduling.remove(manager_of(request), ctx, scheduling.DHCP, agent_id, network_id)
    return no_content()


@router.get("/networks/{network_id}/dhcp-agents")
async def dhcp_agents(request: Request, network_id: str, ctx: RequestContext = Caller) -> Response:
    items = await scheduling.hosting(manager_of(request), ctx, scheduling.DHCP, network_id)
    return json({"agents": items})
