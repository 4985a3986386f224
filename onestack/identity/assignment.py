"""Roles, implied roles and role assignments: grants, effective roles and the assignments report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity import revoke
from onestack.identity.models import (
    GLOBAL_ROLE_DOMAIN,
    SYSTEM_TARGET,
    Assignment,
    Domain,
    FederatedGroupMembership,
    Group,
    GroupMembership,
    ImpliedRole,
    Project,
    Role,
    User,
)

USER_PROJECT, GROUP_PROJECT = "UserProject", "GroupProject"
USER_DOMAIN, GROUP_DOMAIN = "UserDomain", "GroupDomain"
USER_SYSTEM, GROUP_SYSTEM = "UserSystem", "GroupSystem"

_M = TypeVar("_M")


async def group_ids_of(session: AsyncSession, user_id: str) -> list[str]:
    """The user's groups: memberships, and federated ones not yet expired."""
    rows = await session.execute(
        select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
    )
    federated = await session.execute(
        select(FederatedGroupMembership.group_id).where(
            FederatedGroupMembership.user_id == user_id,
            FederatedGroupMembership.expires_at > utcnow(),
        )
    )
    return list(dict.fromkeys([*rows.scalars(), *federated.scalars()]))


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
    extra_groups: Sequence[str] = (),
) -> set[str]:
    """Roles granted on the scope to the user or their groups (and ``extra_groups``: a
    federated token's mapped groups), with inheritance, unexpanded."""
    actors = [user_id, *await group_ids_of(session, user_id), *extra_groups]
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
    extra_groups: Sequence[str] = (),
) -> list[Role]:
    """The global roles a token for this scope carries (implied roles expanded)."""
    direct = await direct_role_ids(
        session,
        user_id,
        project=project,
        domain_id=domain_id,
        system=system,
        extra_groups=extra_groups,
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


# -- lookups ----------------------------------------------------------------------------------
async def _require(session: AsyncSession, model: type[_M], kind: str, ident: str) -> _M:
    row = await session.get(model, ident)
    if row is None:
        raise NotFound(f"Could not find {kind}: {ident}.")
    return row


async def get_role(session: AsyncSession, role_id: str) -> Role:
    return await _require(session, Role, "role", role_id)


def role_domain(role: Role) -> str | None:
    """The wire ``domain_id`` of a role: None for a global role."""
    return None if role.domain_id == GLOBAL_ROLE_DOMAIN else role.domain_id


def is_immutable(role: Role) -> bool:
    return bool((role.options or {}).get("immutable"))


# -- roles ------------------------------------------------------------------------------------
async def list_roles(
    session: AsyncSession,
    page: PageRequest,
    *,
    name: str | None = None,
    domain_id: str | None = None,
) -> list[Role]:
    """Global roles, or the roles of ``domain_id`` when it is given (as Keystone lists them)."""
    stmt = select(Role).where(Role.domain_id == (domain_id or GLOBAL_ROLE_DOMAIN))
    if name is not None:
        stmt = stmt.where(Role.name == name)
    return await paginate(session, stmt, Role, page)


async def _assert_role_name_free(session: AsyncSession, name: str, stored_domain: str) -> None:
    stmt = select(Role.id).where(Role.name == name, Role.domain_id == stored_domain)
    if (await session.execute(stmt)).first():
        raise Conflict(
            f"Conflict occurred attempting to store role - Duplicate entry found with name {name}."
        )


async def create_role(
    session: AsyncSession,
    *,
    name: str,
    domain_id: str | None = None,
    description: str | None = None,
    options: dict[str, Any] | None = None,
) -> Role:
    if domain_id is not None:
        await _require(session, Domain, "domain", domain_id)
    stored_domain = domain_id or GLOBAL_ROLE_DOMAIN
    await _assert_role_name_free(session, name, stored_domain)
    role = Role(
        id=new_id(),
        name=name,
        domain_id=stored_domain,
        description=description,
        options=_clean_options(options or {}),
        extra={},
    )
    session.add(role)
    await session.flush()
    return role


def _immutable(action: str, role_id: str) -> Forbidden:
    return Forbidden(
        f"Unable to {action} immutable role resource: `{role_id}`. Set resource option "
        '"immutable" to false first.'
    )


def _clean_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options with null values removed (null unsets an option)."""
    return {k: v for k, v in options.items() if v is not None}


def _only_unsets_immutable(changes: dict[str, Any]) -> bool:
    """The single update allowed on an immutable role: setting ``immutable`` false or null."""
    options = changes.get("options")
    return (
        set(changes) == {"options"}
        and isinstance(options, dict)
        and set(options) == {"immutable"}
        and not options["immutable"]
    )


async def update_role(session: AsyncSession, role_id: str, changes: dict[str, Any]) -> Role:
    """Apply ``changes`` (name, description, options); ``domain_id`` cannot move."""
    role = await get_role(session, role_id)
    if is_immutable(role) and not _only_unsets_immutable(changes):
        raise _immutable("update", role_id)
    if "domain_id" in changes and changes.pop("domain_id") != role_domain(role):
        raise BadRequest("Update of `domain_id` is not allowed.")
    if "name" in changes and changes["name"] != role.name:
        await _assert_role_name_free(session, changes["name"], role.domain_id)
    if "options" in changes:
        changes["options"] = _clean_options({**(role.options or {}), **changes["options"]})
    for key, value in changes.items():
        setattr(role, key, value)
    await session.flush()
    return role


async def delete_role(session: AsyncSession, role_id: str) -> None:
    """Delete a role, its grants and inference rules; tokens carrying it are revoked."""
    role = await get_role(session, role_id)
    if is_immutable(role):
        raise _immutable("delete", role_id)
    await session.execute(delete(Assignment).where(Assignment.role_id == role_id))
    await session.execute(
        delete(ImpliedRole).where(
            or_(ImpliedRole.prior_role_id == role_id, ImpliedRole.implied_role_id == role_id)
        )
    )
    await session.delete(role)
    await revoke.revoke(session, role_id=role_id)


# -- implied roles ----------------------------------------------------------------------------
#: Roles no rule may imply (Keystone's ``[assignment] prohibited_implied_role`` default).
PROHIBITED_IMPLIED_ROLES = frozenset({"admin"})


async def get_implied_role(
    session: AsyncSession, prior_id: str, implied_id: str
) -> tuple[Role, Role]:
    prior = await get_role(session, prior_id)
    implied = await get_role(session, implied_id)
    if await session.get(ImpliedRole, (prior_id, implied_id)) is None:
        raise NotFound(f"{prior_id} does not imply {implied_id}.")
    return prior, implied


async def create_implied_role(
    session: AsyncSession, prior_id: str, implied_id: str
) -> tuple[Role, Role]:
    """Record that ``prior`` implies ``implied``, refusing rules that cannot hold."""
    prior = await get_role(session, prior_id)
    implied = await get_role(session, implied_id)
    if is_immutable(prior):
        raise _immutable("update", prior_id)
    if implied.name in PROHIBITED_IMPLIED_ROLES:
        raise Forbidden(f"{implied_id} cannot be an implied roles.")
    if role_domain(prior) is None and role_domain(implied) is not None:
        raise Forbidden("Global role cannot imply a domain-specific role.")
    if prior_id in await implied_closure(session, [implied_id]):
        raise BadRequest(
            f"Role {implied_id} already implies role {prior_id}; the rule would make a loop."
        )
    if await session.get(ImpliedRole, (prior_id, implied_id)) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store implied_role - {prior_id} already "
            f"implies {implied_id}."
        )
    session.add(ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
    await session.flush()
    return prior, implied


async def delete_implied_role(session: AsyncSession, prior_id: str, implied_id: str) -> None:
    prior, _ = await get_implied_role(session, prior_id, implied_id)
    if is_immutable(prior):
        raise _immutable("update", prior_id)
    await session.execute(
        delete(ImpliedRole).where(
            ImpliedRole.prior_role_id == prior_id, ImpliedRole.implied_role_id == implied_id
        )
    )


async def list_implied_roles(session: AsyncSession, prior_id: str) -> tuple[Role, list[Role]]:
    """The prior role and the roles it implies directly."""
    prior = await get_role(session, prior_id)
    stmt = (
        select(Role)
        .join(ImpliedRole, ImpliedRole.implied_role_id == Role.id)
        .where(ImpliedRole.prior_role_id == prior_id)
        .order_by(Role.name, Role.id)
    )
    return prior, list((await session.execute(stmt)).scalars())


async def list_role_inferences(session: AsyncSession) -> list[tuple[Role, list[Role]]]:
    """Every prior role with the roles it implies directly."""
    roles = {r.id: r for r in (await session.execute(select(Role))).scalars()}
    rules: dict[str, list[Role]] = {}
    rows = await session.execute(
        select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id).order_by(
            ImpliedRole.prior_role_id, ImpliedRole.implied_role_id
        )
    )
    for prior, implied in rows.all():
        rules.setdefault(prior, []).append(roles[implied])
    ordered = sorted(rules, key=lambda rid: (roles[rid].name, rid))
    return [(roles[rid], rules[rid]) for rid in ordered]


# -- grants -----------------------------------------------------------------------------------
_ACTOR_MODELS: dict[str, tuple[type[Any], str]] = {
    "user": (User, "user"),
    "group": (Group, "group"),
}
_TARGET_MODELS: dict[str, tuple[type[Any], str]] = {
    "project": (Project, "project"),
    "domain": (Domain, "domain"),
}
_TYPES = {
    ("user", "project"): USER_PROJECT,
    ("group", "project"): GROUP_PROJECT,
    ("user", "domain"): USER_DOMAIN,
    ("group", "domain"): GROUP_DOMAIN,
    ("user", "system"): USER_SYSTEM,
    ("group", "system"): GROUP_SYSTEM,
}
_KINDS = {kind: pair for pair, kind in _TYPES.items()}


@dataclass(frozen=True, slots=True)
class Grant:
    """One role assignment: ``actor`` (user/group) holds ``role_id`` on ``target``."""

    actor: str  # "user" | "group"
    actor_id: str
    target: str  # "project" | "domain" | "system"
    target_id: str  # SYSTEM_TARGET for the system
    role_id: str
    inherited: bool = False

    @property
    def type(self) -> str:
        return _TYPES[(self.actor, self.target)]

    @property
    def key(self) -> tuple[str, str, str, str, bool]:
        return (self.type, self.actor_id, self.target_id, self.role_id, self.inherited)

    @classmethod
    def of(cls, row: Assignment) -> Grant:
        actor, target = _KINDS[row.type]
        return cls(actor, row.actor_id, target, row.target_id, row.role_id, row.inherited)


@dataclass(slots=True)
class GrantParties:
    """The rows a grant names; None where the id is unknown (policy targets need them)."""

    actor: User | Group | None
    target: Project | Domain | None
    role: Role | None


async def grant_parties(
    session: AsyncSession,
    actor: str,
    actor_id: str,
    target: str,
    target_id: str,
    role_id: str | None,
) -> GrantParties:
    actor_model = _ACTOR_MODELS[actor][0]
    target_row = None
    if target != "system":
        target_row = await session.get(_TARGET_MODELS[target][0], target_id)
    role = await session.get(Role, role_id) if role_id is not None else None
    return GrantParties(await session.get(actor_model, actor_id), target_row, role)


async def _check_parties(
    session: AsyncSession, actor: str, actor_id: str, target: str, target_id: str
) -> None:
    """404 unless the actor and the target exist."""
    model, kind = _ACTOR_MODELS[actor]
    await _require(session, model, kind, actor_id)
    if target != "system":
        model, kind = _TARGET_MODELS[target]
        await _require(session, model, kind, target_id)


async def _grantable_role(session: AsyncSession, grant: Grant) -> Role:
    """The grant's role; a domain-specific role only within its own domain."""
    role = await get_role(session, grant.role_id)
    owner = role_domain(role)
    if owner is None:
        return role
    if grant.target == "project":
        project = await _require(session, Project, "project", grant.target_id)
        if project.domain_id != owner:
            raise Forbidden(
                f"Project {project.id} must be in the same domain as the role {role.id} "
                "being assigned."
            )
    elif grant.target_id != owner:
        raise Forbidden(
            f"Role {role.id} belongs to domain {owner} and can only be granted within it."
        )
    return role


async def create_grant(session: AsyncSession, grant: Grant) -> None:
    """Grant the role (idempotent)."""
    await _check_parties(session, grant.actor, grant.actor_id, grant.target, grant.target_id)
    await _grantable_role(session, grant)
    if grant.inherited and grant.target == "system":
        raise BadRequest("System role assignments cannot be inherited.")
    if await session.get(Assignment, grant.key) is None:
        type_, actor_id, target_id, role_id, inherited = grant.key
        session.add(
            Assignment(
                type=type_,
                actor_id=actor_id,
                target_id=target_id,
                role_id=role_id,
                inherited=inherited,
            )
        )
        await session.flush()


async def check_grant(session: AsyncSession, grant: Grant) -> None:
    """404 unless the grant exists (or any of its parties is unknown)."""
    await _check_parties(session, grant.actor, grant.actor_id, grant.target, grant.target_id)
    await get_role(session, grant.role_id)
    if await session.get(Assignment, grant.key) is None:
        raise NotFound(
            f"Could not find role assignment with role: {grant.role_id}, user or group: "
            f"{grant.actor_id}, project, domain, or system: {grant.target_id}."
        )


async def delete_grant(session: AsyncSession, grant: Grant) -> None:
    """Remove the grant and revoke the tokens it gave its users."""
    await check_grant(session, grant)
    await session.execute(
        delete(Assignment).where(
            Assignment.type == grant.type,
            Assignment.actor_id == grant.actor_id,
            Assignment.target_id == grant.target_id,
            Assignment.role_id == grant.role_id,
            Assignment.inherited.is_(grant.inherited),
        )
    )
    await _revoke_tokens_of(session, grant)


async def _revoke_tokens_of(session: AsyncSession, grant: Grant) -> None:
    users = [grant.actor_id]
    if grant.actor == "group":
        rows = await session.execute(
            select(GroupMembership.user_id).where(GroupMembership.group_id == grant.actor_id)
        )
        users = list(rows.scalars())
    scopes: list[dict[str, str]]
    if grant.target == "system":
        scopes = [{"role_id": grant.role_id}]
    elif grant.target == "domain":
        scopes = [{"domain_id": grant.target_id}]
    elif grant.inherited:
        index = await ProjectIndex.load(session)
        scopes = [{"project_id": p} for p in index.subtree(grant.target_id)[1:]]
    else:
        scopes = [{"project_id": grant.target_id}]
    for user_id in users:
        for scope in scopes:
            await revoke.revoke(session, user_id=user_id, **scope)


async def list_grant_roles(
    session: AsyncSession,
    actor: str,
    actor_id: str,
    target: str,
    target_id: str,
    page: PageRequest,
    *,
    inherited: bool = False,
) -> list[Role]:
    """The roles granted directly to the actor on the target (404 for unknown parties)."""
    await _check_parties(session, actor, actor_id, target, target_id)
    granted = select(Assignment.role_id).where(
        Assignment.type == _TYPES[(actor, target)],
        Assignment.actor_id == actor_id,
        Assignment.target_id == target_id,
        Assignment.inherited.is_(inherited),
    )
    return await paginate(session, select(Role).where(Role.id.in_(granted)), Role, page)


# -- the role assignments report --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AssignmentQuery:
    """The filters of GET /v3/role_assignments."""

    user_id: str | None = None
    group_id: str | None = None
    role_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    inherited_only: bool = False
    effective: bool = False
    include_subtree: bool = False

    def validate(self) -> None:
        if self.user_id and self.group_id:
            raise BadRequest("Specify a user or group, not both.")
        if sum((bool(self.project_id), bool(self.domain_id), self.system)) > 1:
            raise BadRequest("Specify one of domain, project or system.")
        if self.effective and self.group_id:
            raise BadRequest(
                "Combining effective and group filter will always result in an empty list."
            )
        if self.include_subtree and not self.project_id:
            raise BadRequest(
                "scope.project.id must be specified if include_subtree is also specified."
            )


@dataclass(frozen=True, slots=True)
class AssignmentEntry:
    """One line of the report: a role an actor holds on a scope, and where it comes from.

    ``source`` is the stored grant; with ``effective`` a line may come from a group
    (``membership_group``), from an inherited grant, or from an implied role (``prior_role_id``).
    """

    role_id: str
    actor: str  # "user" | "group"
    actor_id: str
    scope: str  # "project" | "domain" | "system"
    scope_id: str
    inherited: bool
    source: Grant
    membership_group: str | None = None
    prior_role_id: str | None = None


@dataclass(slots=True)
class ProjectIndex:
    """Every project's parent and domain, to walk trees without a query per level."""

    parent: dict[str, str | None]
    domain: dict[str, str]
    children: dict[str, list[str]]

    @classmethod
    async def load(cls, session: AsyncSession) -> ProjectIndex:
        rows = (
            await session.execute(select(Project.id, Project.parent_id, Project.domain_id))
        ).all()
        children: dict[str, list[str]] = {}
        for pid, parent, _ in rows:
            if parent:
                children.setdefault(parent, []).append(pid)
        return cls({r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}, children)

    def subtree(self, project_id: str) -> list[str]:
        """``project_id`` first, then every descendant."""
        found, stack, seen = [], [project_id], set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            found.append(pid)
            stack.extend(sorted(self.children.get(pid, ()), reverse=True))
        return found

    def in_domain(self, domain_id: str) -> list[str]:
        return sorted(p for p, d in self.domain.items() if d == domain_id)


async def list_role_assignments(session: AsyncSession, q: AssignmentQuery) -> list[AssignmentEntry]:
    """The role assignments matching ``q``; with ``effective``, as tokens would see them."""
    q.validate()
    rows = await _candidate_rows(session, q)
    index = await ProjectIndex.load(session)
    entries = [_direct_entry(Grant.of(row)) for row in rows]
    if q.effective:
        entries = await _expand_groups(session, entries, q.user_id)
        entries = [e for entry in entries for e in _expand_inherited(entry, index)]
        entries = await _expand_implied(session, entries)
    wanted = _scope_filter(q, index)
    unique = {e: None for e in entries if wanted(e)}
    return sorted(unique, key=_entry_order)


async def _candidate_rows(session: AsyncSession, q: AssignmentQuery) -> list[Assignment]:
    stmt = select(Assignment)
    if q.effective and q.user_id:
        actors = [q.user_id, *await group_ids_of(session, q.user_id)]
        stmt = stmt.where(Assignment.actor_id.in_(actors))
    elif q.user_id:
        stmt = stmt.where(
            Assignment.actor_id == q.user_id,
            Assignment.type.in_((USER_PROJECT, USER_DOMAIN, USER_SYSTEM)),
        )
    elif q.group_id:
        stmt = stmt.where(
            Assignment.actor_id == q.group_id,
            Assignment.type.in_((GROUP_PROJECT, GROUP_DOMAIN, GROUP_SYSTEM)),
        )
    if not q.effective:
        stmt = _narrow_direct(stmt, q)
    if q.inherited_only:
        stmt = stmt.where(Assignment.inherited.is_(True))
    stmt = stmt.order_by(Assignment.target_id, Assignment.actor_id, Assignment.role_id)
    return list((await session.execute(stmt)).scalars())


def _narrow_direct(stmt: Select[Any], q: AssignmentQuery) -> Select[Any]:
    """SQL for the filters that need no expansion (the final filter still applies)."""
    if q.role_id:
        stmt = stmt.where(Assignment.role_id == q.role_id)
    if q.domain_id:
        stmt = stmt.where(
            Assignment.type.in_((USER_DOMAIN, GROUP_DOMAIN)), Assignment.target_id == q.domain_id
        )
    elif q.system:
        stmt = stmt.where(Assignment.type.in_((USER_SYSTEM, GROUP_SYSTEM)))
    elif q.project_id and not q.include_subtree:
        stmt = stmt.where(
            Assignment.type.in_((USER_PROJECT, GROUP_PROJECT)),
            Assignment.target_id == q.project_id,
        )
    return stmt


def _direct_entry(grant: Grant) -> AssignmentEntry:
    return AssignmentEntry(
        grant.role_id,
        grant.actor,
        grant.actor_id,
        grant.target,
        grant.target_id,
        grant.inherited,
        grant,
    )


async def _expand_groups(
    session: AsyncSession, entries: list[AssignmentEntry], only_user: str | None
) -> list[AssignmentEntry]:
    """Group lines become one line per member user (only ``only_user`` if given)."""
    group_ids = {e.actor_id for e in entries if e.actor == "group"}
    members: dict[str, list[str]] = {}
    if group_ids:
        rows = await session.execute(
            select(GroupMembership.group_id, GroupMembership.user_id)
            .where(GroupMembership.group_id.in_(group_ids))
            .order_by(GroupMembership.user_id)
        )
        for gid, uid in rows.all():
            if only_user is None or uid == only_user:
                members.setdefault(gid, []).append(uid)
    result: list[AssignmentEntry] = []
    for e in entries:
        if e.actor != "group":
            result.append(e)
            continue
        for uid in members.get(e.actor_id, ()):
            result.append(replace(e, actor="user", actor_id=uid, membership_group=e.actor_id))
    return result


def _expand_inherited(entry: AssignmentEntry, index: ProjectIndex) -> list[AssignmentEntry]:
    """An inherited grant applies to the projects below its target, not to the target."""
    if not entry.inherited:
        return [entry]
    if entry.scope == "domain":
        projects = index.in_domain(entry.scope_id)
    else:
        projects = index.subtree(entry.scope_id)[1:]
    return [replace(entry, scope="project", scope_id=p, inherited=False) for p in projects]


async def _expand_implied(
    session: AsyncSession, entries: list[AssignmentEntry]
) -> list[AssignmentEntry]:
    """Add a line per implied role (naming its prior role); drop domain-specific roles."""
    rules: dict[str, list[str]] = {}
    for prior, implied in (
        await session.execute(select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id))
    ).all():
        rules.setdefault(prior, []).append(implied)
    domain_roles = set(
        (
            await session.execute(select(Role.id).where(Role.domain_id != GLOBAL_ROLE_DOMAIN))
        ).scalars()
    )
    result: list[AssignmentEntry] = []
    for entry in entries:
        result.append(entry)
        seen = {entry.role_id}
        stack = [entry.role_id]
        while stack:
            prior = stack.pop()
            for implied in rules.get(prior, ()):
                if implied not in seen:
                    seen.add(implied)
                    stack.append(implied)
                    result.append(replace(entry, role_id=implied, prior_role_id=prior))
    return [e for e in result if e.role_id not in domain_roles]


def _scope_filter(q: AssignmentQuery, index: ProjectIndex) -> Callable[[AssignmentEntry], bool]:
    projects: set[str] | None = None
    if q.project_id:
        projects = set(index.subtree(q.project_id)) if q.include_subtree else {q.project_id}

    def wanted(e: AssignmentEntry) -> bool:
        return (
            (q.role_id is None or e.role_id == q.role_id)
            and (q.user_id is None or (e.actor == "user" and e.actor_id == q.user_id))
            and (q.group_id is None or (e.actor == "group" and e.actor_id == q.group_id))
            and (projects is None or (e.scope == "project" and e.scope_id in projects))
            and (q.domain_id is None or (e.scope == "domain" and e.scope_id == q.domain_id))
            and (not q.system or e.scope == "system")
            and (not q.inherited_only or e.inherited)
        )

    return wanted


def _entry_order(e: AssignmentEntry) -> tuple[str, ...]:
    """Grouped by scope and actor; implied lines stay after the line that implies them."""
    return (e.scope, e.scope_id, e.actor, e.actor_id)


@dataclass(slots=True)
class Names:
    """Names (and owning domains) of everything a report mentions, for ``include_names``."""

    roles: dict[str, Role]
    users: dict[str, User]
    groups: dict[str, Group]
    projects: dict[str, Project]
    domains: dict[str, Domain]


async def names_for(session: AsyncSession, entries: Iterable[AssignmentEntry]) -> Names:
    entries = list(entries)
    ids: dict[str, set[str]] = {k: set() for k in ("role", "user", "group", "project", "domain")}
    for e in entries:
        ids["role"].add(e.role_id)
        ids[e.actor].add(e.actor_id)
        if e.scope != "system":
            ids[e.scope].add(e.scope_id)

    async def load(model: Any, wanted: set[str]) -> dict[str, Any]:
        if not wanted:
            return {}
        rows = await session.execute(select(model).where(model.id.in_(wanted)))
        return {r.id: r for r in rows.scalars()}

    names = Names(
        await load(Role, ids["role"]),
        await load(User, ids["user"]),
        await load(Group, ids["group"]),
        await load(Project, ids["project"]),
        {},
    )
    owners = set(ids["domain"])
    for rows in (names.users, names.groups, names.projects):
        owners.update(row.domain_id for row in rows.values())
    owners.update(d for r in names.roles.values() if (d := role_domain(r)))
    names.domains = await load(Domain, owners)
    return names
