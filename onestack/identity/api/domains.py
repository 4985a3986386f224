"""/v3/domains"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.identity import resource
from onestack.identity.api import protected_router
from onestack.identity.api.common import (
    Caller,
    body_as,
    enforce,
    list_body,
    list_page,
    self_link,
    truthy,
)
from onestack.identity.manager import manager_of
from onestack.identity.models import Domain

router = protected_router()


class DomainFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=65535)
    enabled: StrictBool | None = None
    options: dict[str, Any] | None = None
    tags: list[str] | None = Field(None, max_length=80)


class DomainCreateFields(DomainFields):
    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=64)


class DomainUpdateFields(DomainFields):
    name: str | None = Field(None, min_length=1, max_length=64)


class DomainCreate(BaseModel):
    domain: DomainCreateFields


class DomainUpdate(BaseModel):
    domain: DomainUpdateFields


def view(request: Request, d: Domain) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description or "",
        "enabled": d.enabled,
        "tags": d.extra.get("tags", []) if d.extra else [],
        "options": d.options or {},
        "links": self_link(request, f"domains/{d.id}"),
    }


def _columns(fields: DomainFields) -> dict[str, Any]:
    data = fields.model_dump(exclude_unset=True)
    if "tags" in data:
        data["extra"] = {"tags": data.pop("tags") or []}
    if data.get("options") is None:
        data.pop("options", None)
    return data


@router.get("/domains")
async def list_domains(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_domains")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    q = request.query_params
    enabled = truthy(q["enabled"]) if "enabled" in q else None
    async with mgr.read() as session:
        rows = await resource.list_domains(session, page, name=q.get("name"), enabled=enabled)
        items = [view(request, d) for d in rows]
    return json(list_body(request, "domains", items, page))


@router.post("/domains")
async def create_domain(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_domain")
    body = await body_as(request, DomainCreate)
    fields = _columns(body.domain)
    async with manager_of(request).write() as session:
        domain = await resource.create_domain(session, domain_id=fields.pop("id", None), **fields)
        return json({"domain": view(request, domain)}, status=201)


@router.get("/domains/{domain_id}")
async def get_domain(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_domain", {"target": {"domain": {"id": domain_id}}})
    async with manager_of(request).read() as session:
        domain = await resource.get_domain(session, domain_id)
        return json({"domain": view(request, domain)})


@router.patch("/domains/{domain_id}")
async def update_domain(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_domain", {"target": {"domain": {"id": domain_id}}})
    body = await body_as(request, DomainUpdate)
    async with manager_of(request).write() as session:
        domain = await resource.update_domain(session, domain_id, _columns(body.domain))
        return json({"domain": view(request, domain)})


@router.delete("/domains/{domain_id}")
async def delete_domain(request: Request, domain_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_domain", {"target": {"domain": {"id": domain_id}}})
    async with manager_of(request).write() as session:
        await resource.delete_domain(session, domain_id)
    return no_content()
