"""OS-FEDERATION: identity providers, mappings, protocols, service providers, and turning a
trusted front end's assertion into a (shadow) user with groups and projects.

The front end (mod_auth_openidc, mod_shib, a SAML or OIDC proxy) authenticates the user and
passes the assertion's attributes as request headers; onestack trusts them only from the
front ends ``identity.federation_trusted_proxies`` names (see api/federation.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from onestack.identity import assignment, mapping, resource, revoke
from onestack.identity.models import (
    Assignment,
    Domain,
    FederatedGroupMembership,
    FederatedUser,
    FederationMapping,
    FederationProtocol,
    Group,
    IdentityProvider,
    IdPRemoteId,
    Project,
    Role,
    ServiceProvider,
    User,
)

DEFAULT_RELAY_STATE_PREFIX = "ss:mem:"


Listed = TypeVar("Listed", IdentityProvider, FederationMapping, ServiceProvider)


async def list_of(
    session: AsyncSession,
    model: type[Listed],
    only_id: str | None = None,
    enabled: bool | None = None,
) -> list[Listed]:
    """Identity providers, mappings or service providers by id (filtered as asked)."""
    stmt = select(model).order_by(model.id)
    if only_id is not None:
        stmt = stmt.where(model.id == only_id)
    if enabled is not None:
        stmt = stmt.where(model.enabled.is_(enabled))  # type: ignore[union-attr,attr-defined]
    return list((await session.execute(stmt)).scalars())


# -- identity providers -------------------------------------------------------------------------
async def get_idp(session: AsyncSession, idp_id: str) -> IdentityProvider:
    idp = await session.get(IdentityProvider, idp_id)
    if idp is None:
        raise NotFound(f"Could not find identity provider: {idp_id}.")
    return idp


async def remote_ids_of(session: AsyncSession, idp_ids: Sequence[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {i: [] for i in idp_ids}
    rows = await session.execute(
        select(IdPRemoteId.idp_id, IdPRemoteId.remote_id)
        .where(IdPRemoteId.idp_id.in_(list(idp_ids)))
        .order_by(IdPRemoteId.remote_id)
    )
    for idp_id, remote_id in rows.all():
        result[idp_id].append(remote_id)
    return result


async def _store_remote_ids(session: AsyncSession, idp_id: str, remote_ids: Sequence[str]) -> None:
    unique = list(dict.fromkeys(remote_ids))
    taken = await session.execute(
        select(IdPRemoteId.remote_id).where(
            IdPRemoteId.remote_id.in_(unique), IdPRemoteId.idp_id != idp_id
        )
    )
    clash = taken.scalars().first()
    if clash is not None:
        raise Conflict(
            f"Conflict occurred attempting to store identity_provider - Duplicate remote ID: "
            f"{clash}."
        )
    await session.execute(delete(IdPRemoteId).where(IdPRemoteId.idp_id == idp_id))
    await session.flush()
    session.add_all(IdPRemoteId(remote_id=r, idp_id=idp_id) for r in unique)


async def create_idp(
    session: AsyncSession, idp_id: str, fields: dict[str, Any], remote_ids: Sequence[str]
) -> IdentityProvider:
    """A new identity provider; without a ``domain_id`` it gets a domain of its own."""
    if await session.get(IdentityProvider, idp_id) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store identity_provider - Duplicate ID, {idp_id}."
        )
    domain_id = fields.pop("domain_id", None)
    if domain_id is None:
        domain = await resource.create_domain(
            session,
            name=idp_id,
            description=f"Auto generated federated domain for Identity Provider: {idp_id}",
            enabled=True,
            options={},
            extra={},
        )
        domain_id = domain.id
    else:
        await resource.get_domain(session, domain_id)
    idp = IdentityProvider(id=idp_id, domain_id=domain_id, **fields)
    session.add(idp)
    await session.flush()
    await _store_remote_ids(session, idp_id, remote_ids)
    await session.flush()
    return idp


async def update_idp(
    session: AsyncSession, idp_id: str, changes: dict[str, Any], remote_ids: Sequence[str] | None
) -> IdentityProvider:
    idp = await get_idp(session, idp_id)
    if idp.enabled and changes.get("enabled") is False:
        for user_id in await _shadow_user_ids(session, idp_id):
            await revoke.revoke(session, user_id=user_id)
    for key, value in changes.items():
        setattr(idp, key, value)
    if remote_ids is not None:
        await _store_remote_ids(session, idp_id, remote_ids)
    await session.flush()
    return idp


async def _shadow_user_ids(session: AsyncSession, idp_id: str) -> list[str]:
    rows = await session.execute(
        select(FederatedUser.user_id).where(FederatedUser.idp_id == idp_id).distinct()
    )
    return list(rows.scalars())


async def delete_idp(session: AsyncSession, idp_id: str) -> None:
    """Delete the provider, its protocols and remote ids, and the users it shadowed."""
    idp = await get_idp(session, idp_id)
    user_ids = await _shadow_user_ids(session, idp_id)
    for model in (FederationProtocol, IdPRemoteId, FederatedUser, FederatedGroupMembership):
        await session.execute(delete(model).where(model.idp_id == idp_id))
    elsewhere = set(
        (
            await session.execute(
                select(FederatedUser.user_id).where(FederatedUser.user_id.in_(user_ids))
            )
        ).scalars()
    )
    for user_id in user_ids:
        await revoke.revoke(session, user_id=user_id)
        if user_id not in elsewhere:
            await session.execute(delete(Assignment).where(Assignment.actor_id == user_id))
            await session.execute(delete(User).where(User.id == user_id))
    await session.delete(idp)


# -- mappings -----------------------------------------------------------------------------------
async def get_mapping(session: AsyncSession, mapping_id: str) -> FederationMapping:
    row = await session.get(FederationMapping, mapping_id)
    if row is None:
        raise NotFound(f"Could not find mapping: {mapping_id}.")
    return row


async def create_mapping(
    session: AsyncSession, mapping_id: str, rules: Any, schema_version: str
) -> FederationMapping:
    if await session.get(FederationMapping, mapping_id) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store mapping - Duplicate ID, {mapping_id}."
        )
    row = FederationMapping(
        id=mapping_id,
        rules=mapping.check_rules(rules, schema_version),
        schema_version=schema_version,
    )
    session.add(row)
    await session.flush()
    return row


async def update_mapping(
    session: AsyncSession, mapping_id: str, rules: Any, schema_version: str | None
) -> FederationMapping:
    row = await get_mapping(session, mapping_id)
    version = schema_version or row.schema_version
    row.rules = mapping.check_rules(rules if rules is not None else row.rules, version)
    row.schema_version = version
    await session.flush()
    return row


async def delete_mapping(session: AsyncSession, mapping_id: str) -> None:
    await session.delete(await get_mapping(session, mapping_id))


# -- protocols ----------------------------------------------------------------------------------
async def get_protocol(session: AsyncSession, idp_id: str, protocol_id: str) -> FederationProtocol:
    await get_idp(session, idp_id)
    row = await session.get(FederationProtocol, (idp_id, protocol_id))
    if row is None:
        raise NotFound(f"Could not find federated protocol: {protocol_id}.")
    return row


async def _existing_mapping(session: AsyncSession, mapping_id: str) -> None:
    if await session.get(FederationMapping, mapping_id) is None:
        raise BadRequest(f"Invalid mapping id: {mapping_id}.")


async def create_protocol(
    session: AsyncSession, idp_id: str, protocol_id: str, fields: dict[str, Any]
) -> FederationProtocol:
    await get_idp(session, idp_id)
    await _existing_mapping(session, fields["mapping_id"])
    if await session.get(FederationProtocol, (idp_id, protocol_id)) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store federation_protocol - Duplicate ID, "
            f"{protocol_id}."
        )
    row = FederationProtocol(idp_id=idp_id, id=protocol_id, **fields)
    session.add(row)
    await session.flush()
    return row


async def update_protocol(
    session: AsyncSession, idp_id: str, protocol_id: str, changes: dict[str, Any]
) -> FederationProtocol:
    row = await get_protocol(session, idp_id, protocol_id)
    if "mapping_id" in changes:
        await _existing_mapping(session, changes["mapping_id"])
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row


async def delete_protocol(session: AsyncSession, idp_id: str, protocol_id: str) -> None:
    await session.delete(await get_protocol(session, idp_id, protocol_id))


async def list_protocols(session: AsyncSession, idp_id: str) -> list[FederationProtocol]:
    await get_idp(session, idp_id)
    rows = await session.execute(
        select(FederationProtocol)
        .where(FederationProtocol.idp_id == idp_id)
        .order_by(FederationProtocol.id)
    )
    return list(rows.scalars())


# -- service providers --------------------------------------------------------------------------
async def get_sp(session: AsyncSession, sp_id: str) -> ServiceProvider:
    row = await session.get(ServiceProvider, sp_id)
    if row is None:
        raise NotFound(f"Could not find service provider: {sp_id}.")
    return row


async def create_sp(session: AsyncSession, sp_id: str, fields: dict[str, Any]) -> ServiceProvider:
    if await session.get(ServiceProvider, sp_id) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store service_provider - Duplicate ID, {sp_id}."
        )
    fields.setdefault("relay_state_prefix", DEFAULT_RELAY_STATE_PREFIX)
    row = ServiceProvider(id=sp_id, **fields)
    session.add(row)
    await session.flush()
    return row


async def update_sp(session: AsyncSession, sp_id: str, changes: dict[str, Any]) -> ServiceProvider:
    sp = await get_sp(session, sp_id)
    for key, value in changes.items():
        setattr(sp, key, value)
    await session.flush()
    return sp


async def delete_sp(session: AsyncSession, sp_id: str) -> None:
    await session.delete(await get_sp(session, sp_id))


async def enabled_sps(session: AsyncSession) -> list[ServiceProvider]:
    rows = await session.execute(
        select(ServiceProvider)
        .where(ServiceProvider.enabled.is_(True))
        .order_by(ServiceProvider.id)
    )
    return list(rows.scalars())


# -- authentication -----------------------------------------------------------------------------
@dataclass(slots=True)
class Federated:
    """Who an assertion authenticated: a shadow (ephemeral) user with the mapped groups, or
    a local user the mapping named."""

    user_id: str
    idp_id: str
    protocol_id: str
    group_ids: list[str] = field(default_factory=list)
    ephemeral: bool = True


def _attribute(assertion: Mapping[str, str], name: str) -> str | None:
    wanted = mapping.normalize(name)
    return next((v for k, v in assertion.items() if mapping.normalize(k) == wanted), None)


async def idp_for_remote_id(session: AsyncSession, remote_id: str) -> IdentityProvider:
    row = await session.get(IdPRemoteId, remote_id)
    if row is None:
        raise Unauthorized(f"No identity provider is known by the remote id {remote_id}.")
    return await get_idp(session, row.idp_id)


def remote_id_attribute(protocol: FederationProtocol | None, default: str | None) -> str | None:
    return (protocol.remote_id_attribute if protocol else None) or default


async def _check_remote_id(
    session: AsyncSession,
    idp: IdentityProvider,
    attribute: str | None,
    assertion: Mapping[str, str],
) -> None:
    """Keystone's check: with a remote id attribute and remote ids, the assertion must come
    from one of them."""
    remote_ids = (await remote_ids_of(session, [idp.id]))[idp.id]
    if not attribute or not remote_ids:
        return
    value = _attribute(assertion, attribute)
    if value is None:
        raise BadRequest("Could not find Identity Provider identifier in environment.")
    if value not in remote_ids:
        raise Forbidden(
            "Incoming identity provider identifier not included among the accepted identifiers."
        )


async def authenticate(
    session: AsyncSession,
    idp_id: str,
    protocol_id: str,
    assertion: Mapping[str, str],
    default_remote_id_attribute: str | None,
    default_ttl: int = 0,
) -> Federated:
    """Map ``assertion`` (from ``idp_id`` over ``protocol_id``) to a user; shadow users,
    their projects and role grants are created or refreshed on the way."""
    idp = await get_idp(session, idp_id)
    protocol = await get_protocol(session, idp_id, protocol_id)
    if not idp.enabled:
        raise Forbidden(f"Identity provider {idp_id} is disabled.")
    await _check_remote_id(
        session, idp, remote_id_attribute(protocol, default_remote_id_attribute), assertion
    )
    rules = await session.get(FederationMapping, protocol.mapping_id)
    if rules is None:
        raise Unauthorized(f"The mapping {protocol.mapping_id} of protocol {protocol_id} is gone.")
    mapped = mapping.evaluate(rules.rules, assertion)
    group_ids = await _group_ids(session, mapped, idp.domain_id, rules.id)
    if mapped.user["type"] == "local":
        user = await _local_user(session, mapped.user)
        return Federated(user.id, idp.id, protocol_id, group_ids, ephemeral=False)
    user = await _shadow_user(session, idp, protocol_id, mapped.user)
    await _provision_projects(session, user, mapped.projects, idp.domain_id)
    ttl = idp.authorization_ttl if idp.authorization_ttl is not None else default_ttl
    await _remember_groups(session, user.id, idp.id, group_ids, ttl)
    return Federated(user.id, idp.id, protocol_id, group_ids)


async def _remember_groups(
    session: AsyncSession, user_id: str, idp_id: str, group_ids: Sequence[str], ttl: int
) -> None:
    """Keystone's expiring group memberships: this login's groups, for ``ttl`` minutes."""
    await session.execute(
        delete(FederatedGroupMembership).where(
            FederatedGroupMembership.user_id == user_id, FederatedGroupMembership.idp_id == idp_id
        )
    )
    if ttl > 0:
        until = utcnow() + dt.timedelta(minutes=ttl)
        session.add_all(
            FederatedGroupMembership(user_id=user_id, group_id=g, idp_id=idp_id, expires_at=until)
            for g in group_ids
        )
    await session.flush()


async def _domain_of(session: AsyncSession, ref: Mapping[str, Any] | None, default: str) -> str:
    if not ref:
        return default
    if ref.get("id"):
        domain = await session.get(Domain, ref["id"])
    else:
        stmt = select(Domain).where(Domain.name == ref.get("name"))
        domain = (await session.execute(stmt)).scalars().first()
    if domain is None:
        raise Unauthorized(f"The mapped domain {ref.get('id') or ref.get('name')} does not exist.")
    return domain.id


async def _group_ids(
    session: AsyncSession, mapped: mapping.Mapped, default_domain: str, mapping_id: str
) -> list[str]:
    ids: list[str] = []
    for group_id in mapped.group_ids:
        if await session.get(Group, group_id) is None:
            raise Unauthorized(f"Group {group_id} returned by mapping {mapping_id} was not found.")
        ids.append(group_id)
    for ref in mapped.group_names:
        domain_id = await _domain_of(session, ref["domain"], default_domain)
        stmt = select(Group.id).where(Group.name == ref["name"], Group.domain_id == domain_id)
        found = (await session.execute(stmt)).scalar()
        if found is None:
            raise Unauthorized(
                f"Group {ref['name']} returned by mapping {mapping_id} was not found."
            )
        ids.append(found)
    return list(dict.fromkeys(ids))


async def _local_user(session: AsyncSession, ref: Mapping[str, Any]) -> User:
    if ref.get("id"):
        user = await session.get(User, ref["id"])
    else:
        if not ref.get("domain"):
            raise Unauthorized("A mapped local user needs an id, or a name and a domain.")
        domain_id = await _domain_of(session, ref["domain"], "")
        stmt = select(User).where(User.name == ref.get("name"), User.domain_id == domain_id)
        user = (await session.execute(stmt)).scalars().first()
    if user is None or not user.enabled:
        raise Unauthorized("The mapped local user does not exist or is disabled.")
    return user


async def _shadow_user(
    session: AsyncSession, idp: IdentityProvider, protocol_id: str, ref: Mapping[str, Any]
) -> User:
    unique_id = str(ref.get("id") or ref.get("name") or "")
    name = str(ref.get("name") or unique_id)
    if not unique_id or len(unique_id) > 255 or len(name) > 255:
        raise Unauthorized("The mapped user needs a name or id of at most 255 characters.")
    link = (
        await session.execute(
            select(FederatedUser).where(
                FederatedUser.idp_id == idp.id,
                FederatedUser.protocol_id == protocol_id,
                FederatedUser.unique_id == unique_id,
            )
        )
    ).scalar()
    if link is not None:
        user = await session.get(User, link.user_id)
        assert user is not None  # the link cascades with its user
        if not user.enabled:
            raise Unauthorized(f"The user {user.id} is disabled.")
        link.display_name = name
    else:
        domain_id = await _domain_of(session, ref.get("domain"), idp.domain_id)
        taken = await session.execute(
            select(User.id).where(User.name == name, User.domain_id == domain_id)
        )
        if taken.first():
            raise Conflict(
                f"A user named {name} already exists in domain {domain_id}; the federated user "
                "cannot be shadowed there."
            )
        user = User(id=new_id(), name=name, domain_id=domain_id, enabled=True, options={}, extra={})
        session.add(user)
        await session.flush()
        session.add(
            FederatedUser(
                user_id=user.id,
                idp_id=idp.id,
                protocol_id=protocol_id,
                unique_id=unique_id,
                display_name=name,
            )
        )
    if ref.get("email"):
        user.extra = {**(user.extra or {}), "email": ref["email"]}
    user.last_active_at = utcnow()
    await session.flush()
    return user


async def _provision_projects(
    session: AsyncSession, user: User, projects: Sequence[Mapping[str, Any]], default_domain: str
) -> None:
    """Keystone's auto-provisioning: the mapped projects exist and the user holds the mapped
    roles on them."""
    for ref in projects:
        domain_id = await _domain_of(session, ref.get("domain"), default_domain)
        stmt = select(Project).where(Project.name == ref["name"], Project.domain_id == domain_id)
        project = (await session.execute(stmt)).scalars().first()
        if project is None:
            project = await resource.create_project(
                session,
                name=ref["name"],
                domain_id=domain_id,
                enabled=True,
                options={},
                extra={},
            )
        for role_ref in ref["roles"]:
            stmt_role = select(Role).where(
                Role.name == role_ref["name"], Role.domain_id == assignment.GLOBAL_ROLE_DOMAIN
            )
            role = (await session.execute(stmt_role)).scalars().first()
            if role is None:
                raise Unauthorized(f"The mapped role {role_ref['name']} does not exist.")
            key = (assignment.USER_PROJECT, user.id, project.id, role.id, False)
            if await session.get(Assignment, key) is None:
                session.add(
                    Assignment(
                        type=assignment.USER_PROJECT,
                        actor_id=user.id,
                        target_id=project.id,
                        role_id=role.id,
                        inherited=False,
                    )
                )
    await session.flush()
