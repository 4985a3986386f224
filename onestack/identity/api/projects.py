"""/v3/projects and /v3/projects/{id}/tags"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.identity import resource, users
from onestack.identity.api import projects_as_domains, protected_router
from onestack.identity.api.common import (
    Caller,
    body_as,
    enforce,
    list_body,
    list_page,
    self_link,
    truthy,
)
from onestack.identity.api.ownership import (
    caller_domain,
    columns,
    flag,
    guard,
    list_domain,
    load_guarded,
    public_extra,
)
from onestack.identity.manager import manager_of
from onestack.identity.models import Domain, Project

router = protected_router()

#: Names a project's free attributes cannot take: the API renders them itself.
RESERVED = frozenset({"id", "links", "parents", "subtree", "created_at", "extra"})
Id = Field(None, min_length=1, max_length=64)
Tag = Annotated[str, Field(min_length=1, max_length=255)]


class ProjectOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    immutable: StrictBool | None = None


class ProjectFields(BaseModel):
    """Known fields are checked; any other attribute is kept, as Keystone keeps it."""

    model_config = ConfigDict(extra="allow")
    description: str | None = Field(None, max_length=65535)
    enabled: StrictBool | None = None
    is_domain: StrictBool | None = None
    domain_id: str | None = Id
    parent_id: str | None = Id
    tags: list[Tag] | None = Field(None, max_length=resource.MAX_TAGS)
    options: ProjectOptions | None = None


class ProjectCreateFields(ProjectFields):
    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=64)


class ProjectUpdateFields(ProjectFields):
    name: str | None = Field(None, min_length=1, max_length=64)


class ProjectCreate(BaseModel):
    project: ProjectCreateFields


class ProjectUpdate(BaseModel):
    project: ProjectUpdateFields


class TagList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[Tag] = Field(max_length=resource.MAX_TAGS)


def view(request: Request, p: Project, tags: list[str]) -> dict[str, Any]:
    """A project as Keystone renders it: a top-level project's parent is its domain."""
    return {
        **public_extra(p.extra, RESERVED),
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "parent_id": p.parent_id or p.domain_id,
        "description": p.description or "",
        "enabled": p.enabled,
        "is_domain": False,
        "tags": tags,
        "options": p.options or {},
        "links": self_link(request, f"projects/{p.id}"),
    }


async def views(request: Request, session: Any, rows: list[Project]) -> list[dict[str, Any]]:
    """Render a page of projects with their tags (one query for all tags)."""
    tags = await resource.tags_of(session, [p.id for p in rows])
    return [view(request, p, tags[p.id]) for p in rows]


def _columns(fields: ProjectFields) -> dict[str, Any]:
    """Model columns from a body; ``tags`` are handled apart, extras go to ``extra``."""
    data = columns(fields, RESERVED, exclude=("tags", "options", "is_domain"))
    if fields.options is not None:
        data["options"] = fields.options.model_dump(exclude_unset=True)
    return data


def _tag_list(raw: str | None) -> tuple[str, ...]:
    """A comma-separated tag filter, without duplicates; each tag is one subquery, so a
    filter naming more tags than a project can have is refused (400) rather than run."""
    tags = tuple(dict.fromkeys(t for t in (raw or "").split(",") if t))
    if len(tags) > resource.MAX_TAGS:
        raise BadRequest(f"A tag filter can name at most {resource.MAX_TAGS} tags.")
    return tags


@router.get("/projects")
async def list_projects(request: Request, ctx: RequestContext = Caller) -> Response:
    if flag(request, "is_domain"):
        return await projects_as_domains.list_(request, ctx)
    domain_id = list_domain(request, ctx, "identity:list_projects")
    mgr = manager_of(request)
    page = list_page(request, mgr)
    q = request.query_params
    filters = resource.ProjectFilters(
        name=q.get("name"),
        domain_id=domain_id,
        parent_id=q.get("parent_id"),
        enabled=flag(request, "enabled"),
        is_domain=flag(request, "is_domain"),
        tags=_tag_list(q.get("tags")),
        tags_any=_tag_list(q.get("tags-any")),
        not_tags=_tag_list(q.get("not-tags")),
        not_tags_any=_tag_list(q.get("not-tags-any")),
    )
    async with mgr.read() as session:
        rows = await resource.list_projects(session, page, filters)
        items = await views(request, session, rows)
    return json(list_body(request, "projects", items, page))


@router.post("/projects")
async def create_project(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, ProjectCreate)
    fields = _columns(body.project)
    if body.project.is_domain:
        return await projects_as_domains.create(request, ctx, fields, body.project.tags)
    mgr = manager_of(request)
    parent_id, domain_id = fields.pop("parent_id", None), fields.pop("domain_id", None)
    async with mgr.read() as session:
        domain_id = await resource.project_domain_for(session, parent_id, domain_id)
    domain_id = domain_id or caller_domain(ctx)
    enforce(
        request, ctx, "identity:create_project", {"target": {"project": {"domain_id": domain_id}}}
    )
    async with mgr.write() as session:
        project = await resource.create_project(
            session,
            domain_id=domain_id,
            parent_id=parent_id,
            project_id=fields.pop("id", None),
            tags=body.project.tags or [],
            **fields,
        )
        return json({"project": (await views(request, session, [project]))[0]}, status=201)


def _wants(request: Request, name: str) -> bool:
    """Key-only query flags (``?subtree_as_list``): present and not false."""
    q = request.query_params
    return name in q and truthy(q[name])


async def _hierarchy(
    request: Request, ctx: RequestContext, session: Any, project: Project
) -> dict[str, Any]:
    """The ``parents`` / ``subtree`` a GET asked for, as the api-ref shapes them.

    As ids: the whole tree. As a list: only the projects the caller holds a role on.
    """
    extra: dict[str, Any] = {}
    for key, load, shape in (
        ("parents", resource.ancestors, _parents_as_ids),
        ("subtree", resource.descendants, _subtree_as_ids),
    ):
        as_ids, as_list = _wants(request, f"{key}_as_ids"), _wants(request, f"{key}_as_list")
        if as_ids and as_list:
            raise BadRequest(
                f"Cannot use {key}_as_list and {key}_as_ids query params at the same time."
            )
        if as_ids:
            extra[key] = shape(project, await load(session, project))
        elif as_list:
            visible = await users.project_ids_of(session, ctx.user_id or "")
            shown = [p for p in await load(session, project) if p.id in visible]
            extra[key] = [{"project": v} for v in await views(request, session, shown)]
    return extra


def _parents_as_ids(project: Project, parents: list[Project]) -> dict[str, Any] | None:
    """``{parent: {grandparent: {domain: None}}}``: the domain is the root, as in Keystone."""
    nested: dict[str, Any] = {project.domain_id: None}
    for parent in reversed(parents):
        nested = {parent.id: nested}
    return nested


def _subtree_as_ids(project: Project, subtree: list[Project]) -> dict[str, Any] | None:
    """``{child: {grandchild: None}}``; None for a leaf."""
    children: dict[str, list[str]] = {}
    for p in subtree:
        children.setdefault(p.parent_id or "", []).append(p.id)

    def below(pid: str) -> dict[str, Any] | None:
        kids = children.get(pid)
        return {k: below(k) for k in kids} if kids else None

    return below(project.id)


@router.get("/projects/{project_id}")
async def get_project(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    async with manager_of(request).read() as session:
        found = await resource.find_project(session, project_id)
        if found is None and (domain := await projects_as_domains.find(request, project_id)):
            return projects_as_domains.get(request, ctx, domain)
        project = guard(request, ctx, "identity:get_project", "project", project_id, found)
        body = (await views(request, session, [project]))[0]
        body.update(await _hierarchy(request, ctx, session, project))
        return json({"project": body})


async def _as_domain(request: Request, project_id: str) -> Domain | None:
    """The domain ``project_id`` names when it is no plain project (a project acting as a
    domain)."""
    async with manager_of(request).read() as session:
        if await resource.find_project(session, project_id) is not None:
            return None
    return await projects_as_domains.find(request, project_id)


async def _guarded(request: Request, ctx: RequestContext, rule: str, project_id: str) -> Project:
    return await load_guarded(request, ctx, rule, "project", project_id, resource.find_project)


@router.patch("/projects/{project_id}")
async def update_project(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await body_as(request, ProjectUpdate)
    if domain := await _as_domain(request, project_id):
        data = columns(body.project, RESERVED, exclude=("tags", "options"))
        return await projects_as_domains.update(request, ctx, domain, data, body.project.tags)
    await _guarded(request, ctx, "identity:update_project", project_id)
    changes = _columns(body.project)
    if body.project.is_domain is not None:
        changes["is_domain"] = body.project.is_domain  # checked: a project stays a project
    async with manager_of(request).write() as session:
        project = await resource.update_project(
            session, project_id, changes, tags=body.project.tags
        )
        return json({"project": (await views(request, session, [project]))[0]})


@router.delete("/projects/{project_id}")
async def delete_project(
    request: Request, project_id: str, ctx: RequestContext = Caller
) -> Response:
    if domain := await _as_domain(request, project_id):
        return await projects_as_domains.delete(request, ctx, domain)
    await _guarded(request, ctx, "identity:delete_project", project_id)
    async with manager_of(request).write() as session:
        await resource.delete_project(session, project_id)
    return no_content()


# -- tags ---------------------------------------------------------------------------------------
@router.get("/projects/{project_id}/tags")
async def list_tags(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:list_project_tags", project_id)
    async with manager_of(request).read() as session:
        return json({"tags": await resource.list_tags(session, project_id)})


@router.put("/projects/{project_id}/tags")
async def replace_tags(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:update_project_tags", project_id)
    body = await body_as(request, TagList)
    async with manager_of(request).write() as session:
        return json({"tags": await resource.replace_tags(session, project_id, body.tags)})


@router.delete("/projects/{project_id}/tags")
async def delete_tags(request: Request, project_id: str, ctx: RequestContext = Caller) -> Response:
    await _guarded(request, ctx, "identity:delete_project_tags", project_id)
    async with manager_of(request).write() as session:
        await resource.replace_tags(session, project_id, [])
    return no_content()


@router.api_route("/projects/{project_id}/tags/{tag}", methods=["GET", "HEAD"])
async def check_tag(
    request: Request, project_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    await _guarded(request, ctx, "identity:get_project_tag", project_id)
    async with manager_of(request).read() as session:
        if not await resource.has_tag(session, project_id, tag):
            raise NotFound(f"Could not find project tag: {tag}.")
    return no_content()


@router.put("/projects/{project_id}/tags/{tag}")
async def add_tag(
    request: Request, project_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    await _guarded(request, ctx, "identity:create_project_tag", project_id)
    resource.check_tags([tag])
    # the tag percent-encoded, as it came: a header carries only latin-1 and no CR/LF
    location = self_link(request, f"projects/{project_id}/tags/{quote(tag, safe='')}")["self"]
    async with manager_of(request).write() as session:
        await resource.add_tag(session, project_id, tag)
    return Response(status_code=201, headers={"Location": location})


@router.delete("/projects/{project_id}/tags/{tag}")
async def delete_tag(
    request: Request, project_id: str, tag: str, ctx: RequestContext = Caller
) -> Response:
    await _guarded(request, ctx, "identity:delete_project_tag", project_id)
    async with manager_of(request).write() as session:
        await resource.remove_tag(session, project_id, tag)
    return no_content()
