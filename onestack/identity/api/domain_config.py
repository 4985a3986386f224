"""/v3/domains/{domain_id}/config[/{group}[/{option}]] and /v3/domains/config/.../default"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.identity import domain_config
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce
from onestack.identity.manager import manager_of

router = protected_router()


class ConfigBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any]


def _target(domain_id: str) -> dict[str, Any]:
    return {"target": {"domain": {"id": domain_id}}}


# -- the server's defaults (declared first: /domains/config/... is no domain id) -------------
@router.get("/domains/config/default")
async def get_default(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_domain_config_default")
    return json({"config": domain_config.default_config()})


@router.get("/domains/config/{group}/default")
async def get_group_default(request: Request, group: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_domain_config_default")
    return json({"config": domain_config.default_config(group)})


@router.get("/domains/config/{group}/{option}/default")
async def get_option_default(
    request: Request, group: str, option: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_domain_config_default")
    return json({"config": domain_config.default_config(group, option)})


# -- a domain's config --------------------------------------------------------------------------
@router.put("/domains/{domain_id}/config")
async def put_config(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_domain_config", _target(domain_id))
    body = await body_as(request, ConfigBody)
    async with manager_of(request).write() as session:
        existed = await domain_config.has_config(session, domain_id)
        config = await domain_config.replace_config(session, domain_id, body.config)
    return json({"config": config}, status=200 if existed else 201)


@router.get("/domains/{domain_id}/config")
async def get_config(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_domain_config", _target(domain_id))
    async with manager_of(request).read() as session:
        config = await domain_config.get_config(session, domain_id)
    return json({"config": config})


@router.patch("/domains/{domain_id}/config")
async def patch_config(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    return await _update(request, ctx, domain_id)


@router.delete("/domains/{domain_id}/config")
async def delete_config(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    return await _delete(request, ctx, domain_id)


@router.get("/domains/{domain_id}/config/{group}")
async def get_group(
    request: Request, domain_id: str, group: str, ctx: RequestContext = Caller
) -> Response:
    if group == domain_config.SECURITY_COMPLIANCE:
        return _compliance(request, ctx, domain_id)
    enforce(request, ctx, "identity:get_domain_config", _target(domain_id))
    async with manager_of(request).read() as session:
        config = await domain_config.get_config(session, domain_id, group)
    return json({"config": config})


@router.patch("/domains/{domain_id}/config/{group}")
async def patch_group(
    request: Request, domain_id: str, group: str, ctx: RequestContext = Caller
) -> Response:
    return await _update(request, ctx, domain_id, group)


@router.delete("/domains/{domain_id}/config/{group}")
async def delete_group(
    request: Request, domain_id: str, group: str, ctx: RequestContext = Caller
) -> Response:
    return await _delete(request, ctx, domain_id, group)


@router.get("/domains/{domain_id}/config/{group}/{option}")
async def get_option(
    request: Request, domain_id: str, group: str, option: str, ctx: RequestContext = Caller
) -> Response:
    if group == domain_config.SECURITY_COMPLIANCE:
        return _compliance(request, ctx, domain_id, option)
    enforce(request, ctx, "identity:get_domain_config", _target(domain_id))
    async with manager_of(request).read() as session:
        config = await domain_config.get_config(session, domain_id, group, option)
    return json({"config": config})


@router.patch("/domains/{domain_id}/config/{group}/{option}")
async def patch_option(
    request: Request, domain_id: str, group: str, option: str, ctx: RequestContext = Caller
) -> Response:
    return await _update(request, ctx, domain_id, group, option)


@router.delete("/domains/{domain_id}/config/{group}/{option}")
async def delete_option(
    request: Request, domain_id: str, group: str, option: str, ctx: RequestContext = Caller
) -> Response:
    return await _delete(request, ctx, domain_id, group, option)


async def _update(
    request: Request,
    ctx: RequestContext,
    domain_id: str,
    group: str | None = None,
    option: str | None = None,
) -> Response:
    enforce(request, ctx, "identity:update_domain_config", _target(domain_id))
    body = await body_as(request, ConfigBody)
    async with manager_of(request).write() as session:
        config = await domain_config.update_config(session, domain_id, body.config, group, option)
    return json({"config": config})


async def _delete(
    request: Request,
    ctx: RequestContext,
    domain_id: str,
    group: str | None = None,
    option: str | None = None,
) -> Response:
    enforce(request, ctx, "identity:delete_domain_config", _target(domain_id))
    async with manager_of(request).write() as session:
        await domain_config.delete_config(session, domain_id, group, option)
    return no_content()


def _compliance(
    request: Request, ctx: RequestContext, domain_id: str, option: str | None = None
) -> Response:
    enforce(request, ctx, "identity:get_security_compliance_domain_config", _target(domain_id))
    conf = manager_of(request).conf
    return json({"config": domain_config.security_compliance(domain_id, conf, option)})
