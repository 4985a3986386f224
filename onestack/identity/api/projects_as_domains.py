"""Projects acting as domains (``is_domain``): the project API's view of domains.

In Keystone a domain is a project with ``is_domain: true``: it can be created, read, listed
(``?is_domain=true``), updated and deleted through ``/v3/projects``. onestack keeps domains in
their own table and renders them here in the project shape (no domain, no parent). Only the
cloud's admins and readers reach them: a domain project belongs to no domain, so no domain
persona matches it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import resource
from onestack.identity.api.common import enforce, list_body, list_page, self_link
from onestack.identity.api.ownership import flag, public_extra
from onestack.identity.manager import manager_of
from onestack.identity.models import Domain

RESERVED = frozenset({"id", "links", "parents", "subtree", "created_at", "extra", "tags"})


def view(request: Request, d: Domain) -> dict[str, Any]:
    extra = d.extra or {}
    return {
        **public_extra(extra, RESERVED),
        "id": d.id,
        "name": d.name,
        "domain_id": None,
        "parent_id": None,
        "description": d.description or "",
        "enabled": d.enabled,
        "is_domain": True,
        "tags": sorted(extra.get("tags", [])),
        "options": d.options or {},
        "links": self_link(request, f"projects/{d.id}"),
    }


def _target(domain_id: str | None = None) -> dict[str, Any]:
    """A domain project's policy target: it has no ``domain_id`` (see the module doc)."""
    project: dict[str, Any] = {"is_domain": True}
    if domain_id is not None:
        project["id"] = domain_id
    return {"target": {"project": project}}


def _domain_columns(data: dict[str, Any], current_extra: dict[str, Any] | None) -> dict[str, Any]:
    """Domain columns from project body columns (``extra`` holds free attributes and tags)."""
    for key in ("domain_id", "parent_id"):
        if data.get(key) is not None:
            raise BadRequest(f"Update of `{key}` is not allowed.")
        data.pop(key, None)
    extra = {**(current_extra or {}), **data.pop("extra", {})}
    return {**data, "extra": extra}


async def create(
    request: Request, ctx: RequestContext, data: dict[str, Any], tags: list[str] | None
) -> Response:
    """POST /v3/projects with ``is_domain: true``: a new domain."""
    enforce(request, ctx, "identity:create_project", _target())
    if data.pop("parent_id", None) is not None:
        raise BadRequest("Only root projects are allowed to act as domains.")
    if data.pop("domain_id", None) is not None:
        raise BadRequest("A project acting as a domain cannot belong to a domain.")
    data.pop("options", None)
    extra = dict(data.pop("extra", {}))
    extra["tags"] = resource.check_tags(tags or [])
    async with manager_of(request).write() as session:
        domain = await resource.create_domain(
            session, domain_id=data.pop("id", None), extra=extra, **data
        )
        return json({"project": view(request, domain)}, status=201)


async def find(request: Request, domain_id: str) -> Domain | None:
    async with manager_of(request).read() as session:
        return await session.get(Domain, domain_id)


def get(request: Request, ctx: RequestContext, domain: Domain) -> Response:
    enforce(request, ctx, "identity:get_project", _target(domain.id))
    return json({"project": view(request, domain)})


async def update(
    request: Request,
    ctx: RequestContext,
    domain: Domain,
    data: dict[str, Any],
    tags: list[str] | None,
) -> Response:
    enforce(request, ctx, "identity:update_project", _target(domain.id))
    if data.pop("is_domain", True) is not True:
        raise BadRequest("Update of `is_domain` is not allowed.")
    data.pop("options", None)
    changes = _domain_columns(data, domain.extra)
    if tags is not None:
        changes["extra"]["tags"] = resource.check_tags(tags)
    async with manager_of(request).write() as session:
        updated = await resource.update_domain(session, domain.id, changes)
        return json({"project": view(request, updated)})


async def delete(request: Request, ctx: RequestContext, domain: Domain) -> Response:
    enforce(request, ctx, "identity:delete_project", _target(domain.id))
    async with manager_of(request).write() as session:
        await resource.delete_domain(session, domain.id)
    return no_content()


async def list_(request: Request, ctx: RequestContext) -> Response:
    """GET /v3/projects?is_domain=true: the domains (a domain filter matches none)."""
    enforce(request, ctx, "identity:list_projects", {"target": {}})
    mgr = manager_of(request)
    page = list_page(request, mgr)
    q = request.query_params
    async with mgr.read() as session:
        rows: list[Domain] = []
        if not q.get("domain_id") and not q.get("parent_id"):
            rows = await resource.list_domains(
                session, page, name=q.get("name"), enabled=flag(request, "enabled")
            )
    return json(list_body(request, "projects", [view(request, d) for d in rows], page))
