"""Role assignments: grants, effective roles and implied-role expansion."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.identity.models import (
    GLOBAL_ROLE_DOMAIN,
    SYSTEM_TARGET,
    Assignment,
    GroupMembership,
    ImpliedRole,
    Project,
    Role,
)

USER_PROJECT, GROUP_PROJECT = "UserProject", "GroupProject"
USER_DOMAIN, GROUP_DOMAIN = "UserDomain", "GroupDomain"
USER_SYSTEM, GROUP_SYSTEM = "UserSystem", "GroupSystem"


async def group_ids_of(session: AsyncSession, user_id: str) -> list[str]:
    rows = await session.execute(
        select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
    )
    return list(rows.scalars())


async def project_ancestors(session: AsyncSession, project: Project) -> list[Project]:
    """Parents of ``project``, nearest first."""
    chain: list[Project] = []
    parent_id = project.parent_id
    seen = {project.id}
    while parent_id and parent_id not in seen:
        parent = await session.get(Project, parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.id)
        parent_id = parent.parent_id
    return chain


async def implied_closure(session: AsyncSession, role_ids: Iterable[str]) -> set[str]:
    """``role_ids`` plus every role they imply, transitively."""
    result = set(role_ids)
    rules: dict[str, list[str]] = {}
    for prior, implied in (
        await session.execute(select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id))
    ).all():
        rules.setdefault(prior, []).append(implied)
    stack = list(result)
    while stack:
        for implied in rules.get(stack.pop(), ()):
            if implied not in result:
                result.add(implied)
                stack.append(implied)
    return result


async def direct_role_ids(
    session: AsyncSession,
    user_id: str,
    *,
    project: Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> set[str]:
    """Roles granted on the scope to the user or their groups, with inheritance, unexpanded."""
    actors = [user_id, *await group_ids_of(session, user_id)]
    clauses = []
    if project is not None:
        clauses.append(
            and_(
                Assignment.type.in_((USER_PROJECT, GROUP_PROJECT)),
                Assignment.target_id == project.id,
                Assignment.inherited.is_(False),
            )
        )
        ancestors = await project_ancestors(session, project)
        if ancestors:
            clauses.append(
                and_(
                    Assignment.type.in_((USER_PROJECT, GROUP_PROJECT)),
                    Assignment.target_id.in_([p.id for p in ancestors]),
                    Assignment.inherited.is_(True),
                )
            )
        clauses.append(
            and_(
                Assignment.type.in_((USER_DOMAIN, GROUP_DOMAIN)),
                Assignment.target_id == project.domain_id,
                Assignment.inherited.is_(True),
            )
        )
    elif domain_id is not None:
        clauses.append(
            and_(
                Assignment.type.in_((USER_DOMAIN, GROUP_DOMAIN)),
                Assignment.target_id == domain_id,
                Assignment.inherited.is_(False),
            )
        )
    elif system:
        clauses.append(
            and_(
                Assignment.type.in_((USER_SYSTEM, GROUP_SYSTEM)),
                Assignment.target_id == SYSTEM_TARGET,
            )
        )
    else:
        return set()
    stmt = select(Assignment.role_id).where(Assignment.actor_id.in_(actors), or_(*clauses))
    return set((await session.execute(stmt)).scalars())


async def effective_roles(
    session: AsyncSession,
    user_id: str,
    *,
    project: Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> list[Role]:
    """The global roles a token for this scope carries (implied roles expanded)."""
    direct = await direct_role_ids(
        session, user_id, project=project, domain_id=domain_id, system=system
    )
    if not direct:
        return []
    ids = await implied_closure(session, direct)
    rows = await session.execute(
        select(Role)
        .where(Role.id.in_(ids), Role.domain_id == GLOBAL_ROLE_DOMAIN)
        .order_by(Role.name)
    )
    return list(rows.scalars())
