"""Users and groups: accounts, their passwords and group memberships.

Password work (bcrypt) runs outside write transactions: a change is checked and hashed first
(:func:`prepare_password`), then stored in one short transaction (:func:`store_password`).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.config import IdentitySettings
from onestack.common.db import new_id, utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound, Unauthorized
from onestack.common.pagination import PageRequest, paginate
from onestack.identity import assignment, resource, revoke
from onestack.identity.manager import IdentityManager
from onestack.identity.models import (
    AccessRule,
    ApplicationCredential,
    Assignment,
    Credential,
    Domain,
    FederatedUser,
    Group,
    GroupMembership,
    PasswordHistory,
    Project,
    Trust,
    User,
)
from onestack.identity.passwords import check_password, hash_password

#: ``password_expires_at`` filter operators, as the api-ref lists them.
EXPIRY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "neq": operator.ne,
}
USER_ACTOR_TYPES = (assignment.USER_PROJECT, assignment.USER_DOMAIN, assignment.USER_SYSTEM)
GROUP_ACTOR_TYPES = (assignment.GROUP_PROJECT, assignment.GROUP_DOMAIN, assignment.GROUP_SYSTEM)


# -- users ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UserFilters:
    """The ``GET /v3/users`` filters (None: not filtered)."""

    name: str | None = None
    domain_id: str | None = None
    enabled: bool | None = None
    #: (operator name, naive UTC time)
    password_expires_at: tuple[str, dt.datetime] | None = None
    #: OS-FEDERATION shadow users: their identity provider, protocol, unique id
    idp_id: str | None = None
    protocol_id: str | None = None
    unique_id: str | None = None


def _user_filters(stmt: Select[Any], f: UserFilters) -> Select[Any]:
    if f.name is not None:
        stmt = stmt.where(User.name == f.name)
    if f.domain_id is not None:
        stmt = stmt.where(User.domain_id == f.domain_id)
    if f.enabled is not None:
        stmt = stmt.where(User.enabled.is_(f.enabled))
    if f.password_expires_at is not None:
        op, when = f.password_expires_at
        stmt = stmt.where(EXPIRY_OPERATORS[op](User.password_expires_at, when))
    federated = [
        column == value
        for column, value in (
            (FederatedUser.idp_id, f.idp_id),
            (FederatedUser.protocol_id, f.protocol_id),
            (FederatedUser.unique_id, f.unique_id),
        )
        if value is not None
    ]
    if federated:
        stmt = stmt.where(User.id.in_(select(FederatedUser.user_id).where(*federated)))
    return stmt


async def find_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"Could not find user: {user_id}.")
    return user


async def list_users(
    session: AsyncSession, page: PageRequest, filters: UserFilters, *, group_id: str | None = None
) -> list[User]:
    """Users matching ``filters``; only the members of ``group_id`` when given."""
    stmt = _user_filters(select(User), filters)
    if group_id is not None:
        members = select(GroupMembership.user_id).where(GroupMembership.group_id == group_id)
        stmt = stmt.where(User.id.in_(members))
    return await paginate(session, stmt, User, page)


async def _assert_unique_user(session: AsyncSession, name: str, domain_id: str) -> None:
    stmt = select(User.id).where(User.domain_id == domain_id, User.name == name)
    if (await session.execute(stmt)).first():
        raise Conflict(
            f"Conflict occurred attempting to store user - Duplicate entry found with "
            f"name {name} at domain ID {domain_id}."
        )


async def _assert_not_a_domain(session: AsyncSession, project_id: str | None) -> None:
    """Keystone accepts an unknown default project, but never a domain."""
    if project_id and await session.get(Domain, project_id) is not None:
        raise BadRequest("The default project of a user cannot be a domain.")


# -- passwords ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewPassword:
    """A checked, hashed password ready to store."""

    hash: str


def check_password_rules(conf: IdentitySettings, password: str) -> None:
    """The operator's ``password_regex``; 400 with their description when it does not match."""
    if conf.password_regex and not re.match(conf.password_regex, password):
        detail = conf.password_regex_description or "the password does not match the regex"
        raise BadRequest(f"The password does not meet the requirements: {detail}.")


async def _recent_hashes(mgr: IdentityManager, user_id: str, count: int) -> list[str]:
    async with mgr.read() as session:
        rows = await session.execute(
            select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user_id)
            .order_by(PasswordHistory.id.desc())
            .limit(count)
        )
        return list(rows.scalars())


def _assert_old_enough(conf: IdentitySettings, user: User) -> None:
    if not conf.minimum_password_age or user.password_created_at is None:
        return
    allowed = user.password_created_at + dt.timedelta(days=conf.minimum_password_age)
    if utcnow() < allowed:
        days_left = (allowed - utcnow()).days + 1
        raise BadRequest(
            "You cannot change your password at this time due to the minimum password age. "
            f"Once you change your password, it must be used for {conf.minimum_password_age} "
            f"day(s) before it can be changed. Please try again in {days_left} day(s) or "
            "contact your administrator to reset your password."
        )


async def prepare_password(
    mgr: IdentityManager, password: str, user: User | None = None, *, self_service: bool = False
) -> NewPassword:
    """Check ``password`` against the rules (regex, history, minimum age) and hash it."""
    conf = mgr.conf
    check_password_rules(conf, password)
    if user is not None:
        if self_service:
            _assert_old_enough(conf, user)
        count = conf.unique_last_password_count
        for old in await _recent_hashes(mgr, user.id, count) if count else ():
            if await check_password(password, old, conf.password_hash_rounds):
                raise BadRequest(
                    "The new password cannot be identical to a previous password. The total "
                    f"number which includes the new password must be unique is {count}."
                )
    return NewPassword(await hash_password(password, conf.password_hash_rounds))


async def store_password(
    session: AsyncSession, conf: IdentitySettings, user: User, new: NewPassword
) -> None:
    """Set the user's password, its expiry and history (keeping what the rules need)."""
    now = utcnow()
    user.password_hash = new.hash
    user.password_created_at = now
    user.password_expires_at = None
    if conf.password_expires_days and not (user.options or {}).get("ignore_password_expiry"):
        user.password_expires_at = now + dt.timedelta(days=conf.password_expires_days)
    session.add(PasswordHistory(user_id=user.id, password_hash=new.hash, created_at=now))
    await session.flush()
    keep = max(conf.unique_last_password_count, 1)
    stale = (
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .offset(keep)
    )
    stale_ids = list((await session.execute(stale)).scalars())
    if stale_ids:
        await session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale_ids)))


async def change_password(mgr: IdentityManager, user_id: str, original: str, password: str) -> None:
    """Self-service change, proved by the original password (an unknown or disabled user is the
    same 401 as a wrong password); every token of the user is revoked."""
    async with mgr.read() as session:
        user = await find_user(session, user_id)
    ok = await check_password(
        original, user.password_hash if user else None, mgr.conf.password_hash_rounds
    )
    if user is None or not ok or not user.enabled:
        raise Unauthorized("Invalid user / password.")
    if (user.options or {}).get("lock_password"):
        raise BadRequest(
            "You cannot change your password at this time due to password policy disallowing "
            "password changes. Please contact your administrator to reset your password."
        )
    new = await prepare_password(mgr, password, user, self_service=True)
    async with mgr.write() as session:
        row = await get_user(session, user_id)
        await store_password(session, mgr.conf, row, new)
        await revoke.revoke(session, user_id=user_id)


# -- user lifecycle -----------------------------------------------------------------------------
def merge_options(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Resource options: a null value removes the option."""
    merged = {**(current or {}), **changes}
    return {k: v for k, v in merged.items() if v is not None}


async def create_user(
    session: AsyncSession,
    conf: IdentitySettings,
    *,
    name: str,
    domain_id: str,
    password: NewPassword | None = None,
    **fields: Any,
) -> User:
    await resource.get_domain(session, domain_id)
    await _assert_unique_user(session, name, domain_id)
    await _assert_not_a_domain(session, fields.get("default_project_id"))
    fields["options"] = merge_options({}, fields.get("options") or {})
    user = User(id=new_id(), name=name, domain_id=domain_id, **fields)
    session.add(user)
    await session.flush()
    if password is not None:
        await store_password(session, conf, user, password)
    return user


async def update_user(
    session: AsyncSession,
    conf: IdentitySettings,
    user_id: str,
    changes: dict[str, Any],
    *,
    password: NewPassword | None = None,
) -> User:
    """Apply ``changes`` (options and extra merged); disabling or a new password revokes."""
    user = await get_user(session, user_id)
    if "domain_id" in changes and changes.pop("domain_id") != user.domain_id:
        raise BadRequest("Cannot change Domain ID.")
    if "name" in changes and changes["name"] != user.name:
        await _assert_unique_user(session, changes["name"], user.domain_id)
    await _assert_not_a_domain(session, changes.get("default_project_id"))
    if "options" in changes:
        changes["options"] = merge_options(user.options, changes["options"])
    if "extra" in changes:
        changes["extra"] = {**(user.extra or {}), **changes["extra"]}
    disabling = user.enabled and changes.get("enabled") is False
    for key, value in changes.items():
        setattr(user, key, value)
    if password is not None:
        await store_password(session, conf, user, password)
    elif "options" in changes and user.options.get("ignore_password_expiry"):
        user.password_expires_at = None
    if disabling or password is not None:
        await revoke.revoke(session, user_id=user.id)
    await session.flush()
    return user


async def delete_user(session: AsyncSession, user_id: str) -> None:
    """Delete the user with everything that belongs to them; their tokens stop working."""
    user = await get_user(session, user_id)
    await session.execute(
        delete(Assignment).where(
            Assignment.actor_id == user_id, Assignment.type.in_(USER_ACTOR_TYPES)
        )
    )
    await session.execute(delete(GroupMembership).where(GroupMembership.user_id == user_id))
    await session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user_id))
    await session.execute(delete(Credential).where(Credential.user_id == user_id))
    await session.execute(
        delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
    )
    await session.execute(delete(AccessRule).where(AccessRule.user_id == user_id))
    await session.execute(
        delete(Trust).where(or_(Trust.trustor_user_id == user_id, Trust.trustee_user_id == user_id))
    )
    await revoke.revoke(session, user_id=user_id)
    await session.delete(user)


async def project_ids_of(session: AsyncSession, user_id: str) -> set[str]:
    """Projects the user holds a role on: directly, via groups, or inherited."""
    actors = [user_id, *await assignment.group_ids_of(session, user_id)]
    rows = await session.execute(
        select(Assignment.type, Assignment.target_id, Assignment.inherited).where(
            Assignment.actor_id.in_(actors),
            Assignment.type.in_(
                (
                    assignment.USER_PROJECT,
                    assignment.GROUP_PROJECT,
                    assignment.USER_DOMAIN,
                    assignment.GROUP_DOMAIN,
                )
            ),
        )
    )
    ids: set[str] = set()
    for kind, target_id, inherited in rows.all():
        on_project = kind in (assignment.USER_PROJECT, assignment.GROUP_PROJECT)
        if on_project and not inherited:
            ids.add(target_id)
        elif on_project:
            project = await session.get(Project, target_id)
            if project is not None:
                ids.update(p.id for p in await resource.descendants(session, project))
        elif inherited:
            in_domain = select(Project.id).where(Project.domain_id == target_id)
            ids.update((await session.execute(in_domain)).scalars())
    return ids


async def list_user_projects(
    session: AsyncSession, user_id: str, page: PageRequest, filters: resource.ProjectFilters
) -> list[Project]:
    await get_user(session, user_id)
    ids = await project_ids_of(session, user_id)
    return await resource.list_projects(session, page, filters, only_ids=ids)


# -- groups -------------------------------------------------------------------------------------
async def find_group(session: AsyncSession, group_id: str) -> Group | None:
    return await session.get(Group, group_id)


async def get_group(session: AsyncSession, group_id: str) -> Group:
    group = await session.get(Group, group_id)
    if group is None:
        raise NotFound(f"Could not find group: {group_id}.")
    return group


async def list_groups(
    session: AsyncSession,
    page: PageRequest,
    *,
    name: str | None = None,
    domain_id: str | None = None,
    user_id: str | None = None,
) -> list[Group]:
    """Groups matching the filters; only those ``user_id`` belongs to when given."""
    stmt = select(Group)
    if name is not None:
        stmt = stmt.where(Group.name == name)
    if domain_id is not None:
        stmt = stmt.where(Group.domain_id == domain_id)
    if user_id is not None:
        mine = select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
        stmt = stmt.where(Group.id.in_(mine))
    return await paginate(session, stmt, Group, page)


async def _assert_unique_group(session: AsyncSession, name: str, domain_id: str) -> None:
    stmt = select(Group.id).where(Group.domain_id == domain_id, Group.name == name)
    if (await session.execute(stmt)).first():
        raise Conflict(
            f"Conflict occurred attempting to store group - Duplicate entry found with "
            f"name {name} at domain ID {domain_id}."
        )


async def create_group(session: AsyncSession, *, name: str, domain_id: str, **fields: Any) -> Group:
    await resource.get_domain(session, domain_id)
    await _assert_unique_group(session, name, domain_id)
    group = Group(id=new_id(), name=name, domain_id=domain_id, **fields)
    session.add(group)
    await session.flush()
    return group


async def update_group(session: AsyncSession, group_id: str, changes: dict[str, Any]) -> Group:
    group = await get_group(session, group_id)
    if "domain_id" in changes and changes.pop("domain_id") != group.domain_id:
        raise BadRequest("Cannot change Domain ID.")
    if "name" in changes and changes["name"] != group.name:
        await _assert_unique_group(session, changes["name"], group.domain_id)
    if "extra" in changes:
        changes["extra"] = {**(group.extra or {}), **changes["extra"]}
    for key, value in changes.items():
        setattr(group, key, value)
    await session.flush()
    return group


async def _member_ids(session: AsyncSession, group_id: str) -> list[str]:
    rows = await session.execute(
        select(GroupMembership.user_id).where(GroupMembership.group_id == group_id)
    )
    return list(rows.scalars())


async def delete_group(session: AsyncSession, group_id: str) -> None:
    """Delete the group and its grants; its members' tokens stop working (roles may shrink)."""
    group = await get_group(session, group_id)
    for user_id in await _member_ids(session, group_id):
        await revoke.revoke(session, user_id=user_id)
    await session.execute(
        delete(Assignment).where(
            Assignment.actor_id == group_id, Assignment.type.in_(GROUP_ACTOR_TYPES)
        )
    )
    await session.execute(delete(GroupMembership).where(GroupMembership.group_id == group_id))
    await session.delete(group)


async def _membership(session: AsyncSession, group_id: str, user_id: str) -> GroupMembership | None:
    await get_group(session, group_id)
    await get_user(session, user_id)
    return await session.get(GroupMembership, (user_id, group_id))


def _not_member(group_id: str, user_id: str) -> NotFound:
    return NotFound(f"User '{user_id}' not found in group '{group_id}'.")


async def add_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    if await _membership(session, group_id, user_id) is None:
        session.add(GroupMembership(user_id=user_id, group_id=group_id))
        await session.flush()


async def check_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    if await _membership(session, group_id, user_id) is None:
        raise _not_member(group_id, user_id)


async def remove_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    """Remove the membership; the user's tokens are revoked, as their roles may shrink."""
    row = await _membership(session, group_id, user_id)
    if row is None:
        raise _not_member(group_id, user_id)
    await session.delete(row)
    await revoke.revoke(session, user_id=user_id)
