"""Domains and projects: the ownership tree every other identity resource hangs from."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity import revoke
from onestack.identity.models import (
    Assignment,
    Domain,
    DomainConfigOption,
    Group,
    IdentityProvider,
    Project,
    ProjectEndpoint,
    ProjectEndpointGroup,
    ProjectTag,
    Role,
    User,
)

DEFAULT_DOMAIN_ID = "default"


# -- domains ----------------------------------------------------------------------------------
async def get_domain(session: AsyncSession, domain_id: str) -> Domain:
    domain = await session.get(Domain, domain_id)
    if domain is None:
        raise NotFound(f"Could not find domain: {domain_id}.")
    return domain


async def list_domains(
    session: AsyncSession,
    page: PageRequest,
    *,
    name: str | None = None,
    enabled: bool | None = None,
) -> list[Domain]:
    stmt = select(Domain)
    if name is not None:
        stmt = stmt.where(Domain.name == name)
    if enabled is not None:
        stmt = stmt.where(Domain.enabled.is_(enabled))
    return await paginate(session, stmt, Domain, page)


async def create_domain(
    session: AsyncSession, *, name: str, domain_id: str | None = None, **fields: Any
) -> Domain:
    if (await session.execute(select(Domain.id).where(Domain.name == name))).first():
        raise Conflict(
            f"Conflict occurred attempting to store domain - Duplicate entry "
            f"found with name {name}."
        )
    domain = Domain(id=domain_id or new_id(), name=name, **fields)
    session.add(domain)
    await session.flush()
    return domain


async def update_domain(session: AsyncSession, domain_id: str, changes: dict[str, Any]) -> Domain:
    domain = await get_domain(session, domain_id)
    renamed = "name" in changes and changes["name"] != domain.name
    if (
        renamed
        and (await session.execute(select(Domain.id).where(Domain.name == changes["name"]))).first()
    ):
        raise Conflict(
            f"Conflict occurred attempting to store domain - Duplicate entry "
            f"found with name {changes['name']}."
        )
    if domain.id == DEFAULT_DOMAIN_ID and changes.get("enabled") is False:
        raise Forbidden("The default domain cannot be disabled.")
    for key, value in changes.items():
        setattr(domain, key, value)
    await session.flush()
    return domain


async def delete_domain(session: AsyncSession, domain_id: str) -> None:
    """Delete a disabled domain and everything it owns."""
    domain = await get_domain(session, domain_id)
    if domain.enabled:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    idp = (
        await session.execute(
            select(IdentityProvider.id).where(IdentityProvider.domain_id == domain_id)
        )
    ).scalar()
    if idp is not None:
        raise Conflict(
            f"Domain {domain_id} holds the users of identity provider {idp}; delete the "
            "identity provider first."
        )
    project_ids = list(
        (await session.execute(select(Project.id).where(Project.domain_id == domain_id))).scalars()
    )
    user_ids = list(
        (await session.execute(select(User.id).where(User.domain_id == domain_id))).scalars()
    )
    group_ids = list(
        (await session.execute(select(Group.id).where(Group.domain_id == domain_id))).scalars()
    )
    role_ids = list(
        (await session.execute(select(Role.id).where(Role.domain_id == domain_id))).scalars()
    )
    owned = [domain_id, *project_ids, *user_ids, *group_ids]
    await session.execute(delete(Assignment).where(Assignment.target_id.in_(owned)))
    await session.execute(delete(Assignment).where(Assignment.actor_id.in_(owned)))
    await session.execute(delete(Role).where(Role.id.in_(role_ids)))
    await session.execute(delete(Group).where(Group.id.in_(group_ids)))
    await session.execute(delete(User).where(User.id.in_(user_ids)))
    await _drop_endpoint_links(session, project_ids)
    await session.execute(
        delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
    )
    # children before parents
    while True:
        leaves = list(
            (
                await session.execute(
                    select(Project.id).where(
                        Project.domain_id == domain_id,
                        ~Project.id.in_(
                            select(Project.parent_id).where(Project.parent_id.is_not(None))
                        ),
                    )
                )
            ).scalars()
        )
        if not leaves:
            break
        await session.execute(delete(Project).where(Project.id.in_(leaves)))
    await session.delete(domain)


async def _drop_endpoint_links(session: AsyncSession, project_ids: list[str]) -> None:
    """Drop the OS-EP-FILTER associations of projects being deleted."""
    for link in (ProjectEndpoint, ProjectEndpointGroup):
        await session.execute(delete(link).where(link.project_id.in_(project_ids)))


# -- projects ---------------------------------------------------------------------------------
#: Keystone's default ``max_project_tree_depth``: levels of projects below a domain.
MAX_PROJECT_DEPTH = 5
#: Keystone's tag rules: at most 80 per project, 1-255 characters, no '/' and no ','.
MAX_TAGS = 80


@dataclass(frozen=True, slots=True)
class ProjectFilters:
    """The ``GET /v3/projects`` filters (None: not filtered)."""

    name: str | None = None
    domain_id: str | None = None
    parent_id: str | None = None
    enabled: bool | None = None
    is_domain: bool | None = None
    tags: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    not_tags_any: tuple[str, ...] = ()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_tags(tags: Iterable[str]) -> list[str]:
    """Keystone's tag rules, deduplicated in order; 400 on a bad tag or too many."""
    unique = list(dict.fromkeys(tags))
    for tag in unique:
        if not 1 <= len(tag) <= 255 or "/" in tag or "," in tag or _has_control(tag):
            raise BadRequest(
                f"Invalid project tag {tag!r}: tags are 1-255 characters without '/', ',' or "
                "control characters."
            )
    if len(unique) > MAX_TAGS:
        raise BadRequest(f"A project can have at most {MAX_TAGS} tags.")
    return unique


async def find_project(session: AsyncSession, project_id: str) -> Project | None:
    return await session.get(Project, project_id)


async def get_project(session: AsyncSession, project_id: str) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"Could not find project: {project_id}.")
    return project


def _has_tags(tags: Iterable[str]) -> list[Any]:
    return [
        Project.id.in_(select(ProjectTag.project_id).where(ProjectTag.name == tag)) for tag in tags
    ]


def _has_any_tag(tags: Sequence[str]) -> Any:
    return Project.id.in_(select(ProjectTag.project_id).where(ProjectTag.name.in_(tags)))


def _project_filters(stmt: Select[Any], f: ProjectFilters) -> Select[Any]:
    if f.is_domain:
        return stmt.where(false())  # domains are not listed as projects here
    for column, value in (
        (Project.name, f.name),
        (Project.domain_id, f.domain_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.parent_id is not None:
        top_level = and_(Project.parent_id.is_(None), Project.domain_id == f.parent_id)
        stmt = stmt.where(or_(Project.parent_id == f.parent_id, top_level))
    if f.enabled is not None:
        stmt = stmt.where(Project.enabled.is_(f.enabled))
    if f.tags:
        stmt = stmt.where(*_has_tags(f.tags))
    if f.tags_any:
        stmt = stmt.where(_has_any_tag(f.tags_any))
    if f.not_tags:
        stmt = stmt.where(~and_(*_has_tags(f.not_tags)))
    if f.not_tags_any:
        stmt = stmt.where(~_has_any_tag(f.not_tags_any))
    return stmt


async def list_projects(
    session: AsyncSession,
    page: PageRequest,
    filters: ProjectFilters,
    *,
    only_ids: Iterable[str] | None = None,
) -> list[Project]:
    """Projects matching ``filters`` (and within ``only_ids`` when given), one page."""
    stmt = _project_filters(select(Project), filters)
    if only_ids is not None:
        stmt = stmt.where(Project.id.in_(list(only_ids)))
    return await paginate(session, stmt, Project, page)


async def tags_of(session: AsyncSession, project_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each project's tags, sorted, for rendering a page of projects at once."""
    result: dict[str, list[str]] = {pid: [] for pid in project_ids}
    rows = await session.execute(
        select(ProjectTag.project_id, ProjectTag.name)
        .where(ProjectTag.project_id.in_(list(project_ids)))
        .order_by(ProjectTag.name)
    )
    for project_id, name in rows.all():
        result[project_id].append(name)
    return result


async def ancestors(session: AsyncSession, project: Project) -> list[Project]:
    """The parents of ``project``, nearest first, up to the top-level project."""
    chain: list[Project] = []
    seen = {project.id}
    parent_id = project.parent_id
    while parent_id is not None and parent_id not in seen:
        parent = await get_project(session, parent_id)
        chain.append(parent)
        seen.add(parent.id)
        parent_id = parent.parent_id
    return chain


async def descendants(session: AsyncSession, project: Project) -> list[Project]:
    """Every project below ``project``, breadth first."""
    found: list[Project] = []
    frontier = [project.id]
    while frontier:
        rows = await session.execute(
            select(Project).where(Project.parent_id.in_(frontier)).order_by(Project.name)
        )
        children = list(rows.scalars())
        found.extend(children)
        frontier = [c.id for c in children]
    return found


async def _resolve_parent(
    session: AsyncSession, parent_id: str | None, domain_id: str | None
) -> tuple[Project | None, str | None]:
    """The parent project (None for top level) and the domain the new project belongs to.

    A ``parent_id`` naming a domain means a top-level project of that domain, as in Keystone
    where domains are the roots of the project tree.
    """
    if parent_id is None or parent_id == domain_id:
        return None, domain_id
    parent = await session.get(Project, parent_id)
    if parent is None:
        if await session.get(Domain, parent_id) is not None and domain_id in (None, parent_id):
            return None, parent_id
        raise NotFound(f"Could not find project: {parent_id}.")
    if domain_id is not None and parent.domain_id != domain_id:
        raise BadRequest(
            f"Cannot create project, the parent ({parent_id}) is in a different domain "
            f"({parent.domain_id}) than the one requested ({domain_id})."
        )
    return parent, parent.domain_id


async def _check_can_nest(session: AsyncSession, parent: Project) -> None:
    branch = [parent, *await ancestors(session, parent)]
    disabled = next((p for p in branch if not p.enabled), None)
    if disabled is not None:
        raise Forbidden(
            f"Cannot create a project in a branch containing a disabled project: {disabled.id}."
        )
    if len(branch) + 1 > MAX_PROJECT_DEPTH:
        raise Forbidden(f"Max hierarchy depth reached for {parent.id} branch.")


async def project_domain_for(
    session: AsyncSession, parent_id: str | None, domain_id: str | None
) -> str | None:
    """The domain a new project would belong to, judged from its parent (for policy)."""
    if domain_id is not None or parent_id is None:
        return domain_id
    parent = await session.get(Project, parent_id)
    if parent is not None:
        return parent.domain_id
    return parent_id if await session.get(Domain, parent_id) is not None else None


def _duplicate_project(name: str, domain_id: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store project - Duplicate entry found with "
        f"name {name} in domain {domain_id}."
    )


async def _assert_unique_name(session: AsyncSession, name: str, domain_id: str) -> None:
    stmt = select(Project.id).where(Project.domain_id == domain_id, Project.name == name)
    if (await session.execute(stmt)).first():
        raise _duplicate_project(name, domain_id)


async def create_project(
    session: AsyncSession,
    *,
    name: str,
    domain_id: str,
    parent_id: str | None = None,
    project_id: str | None = None,
    tags: Sequence[str] = (),
    **fields: Any,
) -> Project:
    parent, owner = await _resolve_parent(session, parent_id, domain_id)
    domain_id = owner or domain_id
    await get_domain(session, domain_id)
    if parent is not None:
        await _check_can_nest(session, parent)
    if project_id is not None and await session.get(Project, project_id) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store project - Duplicate ID, {project_id}."
        )
    await _assert_unique_name(session, name, domain_id)
    project = Project(
        id=project_id or new_id(),
        name=name,
        domain_id=domain_id,
        parent_id=parent.id if parent else None,
        **fields,
    )
    session.add(project)
    await session.flush()
    await _store_tags(session, project.id, tags)
    return project


_FIXED = ("domain_id", "parent_id", "is_domain")


def _assert_mutable(project: Project, changes: dict[str, Any]) -> None:
    if not (project.options or {}).get("immutable"):
        return
    options = changes.get("options") or {}
    unlocking = options.get("immutable") in (False, None) and "immutable" in options
    if not unlocking or set(changes) - {"options"}:
        raise Forbidden(f"Project {project.id} is immutable; unset the immutable option first.")


async def update_project(
    session: AsyncSession,
    project_id: str,
    changes: dict[str, Any],
    *,
    tags: Sequence[str] | None = None,
) -> Project:
    """Apply ``changes`` (columns, ``options`` merged, ``extra`` merged); tags replaced."""
    project = await get_project(session, project_id)
    current: dict[str, Any] = {
        "domain_id": project.domain_id,
        "parent_id": project.parent_id or project.domain_id,
        "is_domain": False,
    }
    for key in _FIXED:
        if key in changes and changes.pop(key) != current[key]:
            raise BadRequest(f"Update of `{key}` is not allowed.")
    _assert_mutable(project, {**changes, **({"tags": tags} if tags is not None else {})})
    if "name" in changes and changes["name"] != project.name:
        await _assert_unique_name(session, changes["name"], project.domain_id)
    enabling = changes.get("enabled") and not project.enabled
    if enabling and any(not p.enabled for p in await ancestors(session, project)):
        raise Forbidden(f"Cannot enable project {project.id} since it has disabled parents.")
    if project.enabled and changes.get("enabled") is False:
        await revoke.revoke(session, project_id=project.id)
    if "options" in changes:
        changes["options"] = _merged(project.options, changes["options"])
    if "extra" in changes:
        changes["extra"] = {**(project.extra or {}), **changes["extra"]}
    for key, value in changes.items():
        setattr(project, key, value)
    if tags is not None:
        await _store_tags(session, project.id, tags)
    await session.flush()
    return project


def _merged(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Resource options: a null value removes the option."""
    merged = {**(current or {}), **changes}
    return {k: v for k, v in merged.items() if v is not None}


async def delete_project(session: AsyncSession, project_id: str) -> None:
    """Delete a leaf project with its tags and role assignments; its tokens stop working."""
    project = await get_project(session, project_id)
    _assert_mutable(project, {"delete": True})
    child = await session.execute(select(Project.id).where(Project.parent_id == project_id))
    if child.first():
        raise Forbidden(
            f"Cannot delete the project {project_id} since it is not a leaf in the hierarchy. "
            "Use the cascade option if you want to delete a whole subtree."
        )
    await session.execute(delete(Assignment).where(Assignment.target_id == project_id))
    await session.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
    await _drop_endpoint_links(session, [project_id])
    await revoke.revoke(session, project_id=project_id)
    await session.delete(project)


# -- project tags -------------------------------------------------------------------------------
async def list_tags(session: AsyncSession, project_id: str) -> list[str]:
    await get_project(session, project_id)
    return (await tags_of(session, [project_id]))[project_id]


async def _store_tags(session: AsyncSession, project_id: str, tags: Sequence[str]) -> list[str]:
    unique = check_tags(tags)
    await session.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
    session.add_all(ProjectTag(project_id=project_id, name=t) for t in unique)
    await session.flush()
    return sorted(unique)


async def replace_tags(session: AsyncSession, project_id: str, tags: Sequence[str]) -> list[str]:
    """Replace the project's tags; returns them sorted."""
    _assert_mutable(await get_project(session, project_id), {"tags": tags})
    return await _store_tags(session, project_id, tags)


async def has_tag(session: AsyncSession, project_id: str, tag: str) -> bool:
    await get_project(session, project_id)
    return await session.get(ProjectTag, (project_id, tag)) is not None


async def add_tag(session: AsyncSession, project_id: str, tag: str) -> None:
    tags = await list_tags(session, project_id)
    if tag not in tags:
        await replace_tags(session, project_id, [*tags, tag])


async def remove_tag(session: AsyncSession, project_id: str, tag: str) -> None:
    _assert_mutable(await get_project(session, project_id), {"tags": None})
    row = await session.get(ProjectTag, (project_id, tag))
    if row is None:
        raise NotFound(f"Could not find project tag: {tag}.")
    await session.delete(row)
