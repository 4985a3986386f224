"""Application credentials: a user's delegation of some of its roles on one project.

The secret is stored as a bcrypt hash only. Access rules are the user's own (they outlive the
credentials that name them, as in Keystone) and are copied onto each credential that uses them;
their enforcement (restricting which API calls a token may make) is not done.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.common.pagination import PageRequest, paginate
from onestack.identity.delegation import held_role_ids, roles_by_ids
from onestack.identity.models import (
    AccessRule,
    ApplicationCredential,
    ApplicationCredentialRole,
    Role,
)
from onestack.identity.passwords import hash_password


def new_secret() -> str:
    return secrets.token_urlsafe(64)


async def get_app_cred(
    session: AsyncSession, user_id: str, app_cred_id: str
) -> ApplicationCredential:
    cred = await session.get(ApplicationCredential, app_cred_id)
    if cred is None or cred.user_id != user_id:
        raise NotFound(f"Could not find application credential: {app_cred_id}.")
    return cred


async def list_app_creds(
    session: AsyncSession, user_id: str, page: PageRequest, *, name: str | None = None
) -> list[ApplicationCredential]:
    stmt = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
    if name is not None:
        stmt = stmt.where(ApplicationCredential.name == name)
    return await paginate(session, stmt, ApplicationCredential, page)


async def roles_of(session: AsyncSession, cred: ApplicationCredential) -> list[Role]:
    rows = await session.execute(
        select(ApplicationCredentialRole.role_id).where(
            ApplicationCredentialRole.application_credential_id == cred.id
        )
    )
    return await roles_by_ids(session, rows.scalars())


async def _access_rules(
    session: AsyncSession, user_id: str, rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Give each rule an id: an existing rule of the user when one matches, else a new one
    (stored as the user's)."""
    known = await list_access_rules(session, user_id)
    by_id = {r["id"]: r for r in known}
    by_value = {(r["service"], r["path"], r["method"]): r["id"] for r in known}
    result = []
    for rule in rules:
        if rule.get("id") and set(rule) == {"id"}:
            if rule["id"] not in by_id:
                raise NotFound(f"Could not find access rule: {rule['id']}.")
            result.append(by_id[rule["id"]])
            continue
        if not all(rule.get(k) for k in ("service", "path", "method")):
            raise BadRequest("An access rule needs a service, a path and a method.")
        key = (rule["service"], rule["path"], rule["method"])
        rule_id = by_value.get(key)
        if rule_id is None:
            rule_id = by_value[key] = new_id()
            session.add(
                AccessRule(id=rule_id, user_id=user_id, service=key[0], path=key[1], method=key[2])
            )
        result.append({"id": rule_id, "service": key[0], "path": key[1], "method": key[2]})
    return result


async def create_app_cred(
    session: AsyncSession,
    *,
    rounds: int,
    user_id: str,
    project_id: str | None,
    name: str,
    roles: list[Role],
    secret: str | None = None,
    description: str | None = None,
    expires_at: dt.datetime | None = None,
    unrestricted: bool = False,
    access_rules: list[dict[str, Any]] | None = None,
) -> tuple[ApplicationCredential, str]:
    """Create it and return it with its secret (the only time the secret is known)."""
    if project_id is None:
        raise BadRequest(
            "An application credential can only be created with a project-scoped token."
        )
    held = await held_role_ids(session, user_id, project_id)
    for role in roles:
        if role.id not in held:
            raise BadRequest(
                f"Invalid application credential: user {user_id} has no role {role.id} "
                f"on project {project_id}."
            )
    duplicate = await session.execute(
        select(ApplicationCredential.id).where(
            ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
        )
    )
    if duplicate.first():
        raise Conflict(
            "Conflict occurred attempting to store application_credential - "
            f"Duplicate entry found with name {name}."
        )
    secret = secret or new_secret()
    cred = ApplicationCredential(
        id=new_id(),
        name=name,
        secret_hash=await hash_password(secret, rounds),
        description=description,
        user_id=user_id,
        project_id=project_id,
        expires_at=expires_at,
        unrestricted=unrestricted,
        access_rules=await _access_rules(session, user_id, access_rules or []),
    )
    session.add(cred)
    await session.flush()
    for role in roles:
        session.add(ApplicationCredentialRole(application_credential_id=cred.id, role_id=role.id))
    await session.flush()
    return cred, secret


async def delete_app_cred(session: AsyncSession, user_id: str, app_cred_id: str) -> None:
    """Delete it; tokens from it stop validating (validation re-reads the credential)."""
    cred = await get_app_cred(session, user_id, app_cred_id)
    await session.execute(
        delete(ApplicationCredentialRole).where(
            ApplicationCredentialRole.application_credential_id == cred.id
        )
    )
    await session.delete(cred)


# -- access rules -----------------------------------------------------------------------------
def _rule_view(rule: AccessRule) -> dict[str, Any]:
    return {"id": rule.id, "service": rule.service, "path": rule.path, "method": rule.method}


async def list_access_rules(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    """The user's access rules."""
    rows = await session.execute(
        select(AccessRule).where(AccessRule.user_id == user_id).order_by(AccessRule.id)
    )
    return [_rule_view(r) for r in rows.scalars()]


async def get_access_rule(session: AsyncSession, user_id: str, rule_id: str) -> dict[str, Any]:
    rule = await session.get(AccessRule, rule_id)
    if rule is None or rule.user_id != user_id:
        raise NotFound(f"Could not find access rule: {rule_id}.")
    return _rule_view(rule)


async def delete_access_rule(session: AsyncSession, user_id: str, rule_id: str) -> None:
    """Delete an unused rule; one an application credential still names is 403 (Keystone)."""
    await get_access_rule(session, user_id, rule_id)
    rows = await session.execute(
        select(ApplicationCredential.access_rules).where(ApplicationCredential.user_id == user_id)
    )
    if any(r.get("id") == rule_id for rules in rows.scalars() for r in rules or ()):
        raise Forbidden(
            f"Cannot delete access rule {rule_id}: it is used by an application credential."
        )
    await session.execute(delete(AccessRule).where(AccessRule.id == rule_id))
