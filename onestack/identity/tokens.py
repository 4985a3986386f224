"""The token provider: authenticate, issue, validate (cached), revoke.

Validation is local: decrypt with the key repository, check expiry and revocation events, then
look up what the token means now (user, scope, roles). Two caches, both dropped when the
manager's revision moves: token -> TokenInfo, and (user, scope) -> scope data, so even the first
sight of a new token for a known user and scope costs a decrypt and a dict lookup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import Unauthorized
from onestack.common.fernet import InvalidToken
from onestack.identity import assignment, endpoint_filter, revoke
from onestack.identity.catalog import build_catalog
from onestack.identity.manager import IdentityManager
from onestack.identity.models import (
    ApplicationCredential,
    ApplicationCredentialRole,
    Domain,
    IdentityProvider,
    OAuthAccessToken,
    Project,
    Role,
    Trust,
    TrustRole,
    User,
)
from onestack.identity.token_formatter import TokenPayload
from onestack.identity.views import isotime


class TokenInvalid(Exception):
    """The token is not (or no longer) valid; the API says 401 or 404 as fits."""


@dataclass(slots=True)
class ScopeData:
    """What a token means, apart from its own payload."""

    user: dict[str, Any]
    user_domain_id: str
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    roles: list[dict[str, str]] = field(default_factory=list)
    trust: dict[str, Any] | None = None
    app_cred: dict[str, Any] | None = None
    #: OS-OAUTH1: the access token and consumer of a delegated token.
    oauth: dict[str, str] | None = None
    is_admin_project: bool = False


@dataclass(slots=True)
class TokenInfo:
    payload: TokenPayload
    scope: ScopeData

    @property
    def user_id(self) -> str:
        return self.scope.user["id"]

    def body(self, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
        p, s = self.payload, self.scope
        token: dict[str, Any] = {
            "methods": p.methods,
            "user": s.user,
            "audit_ids": p.audit_ids,
            "expires_at": isotime(p.expires_at),
            "issued_at": isotime(p.issued_at),
        }
        if s.project is not None:
            token["project"] = s.project
            token["is_domain"] = False
            token["is_admin_project"] = s.is_admin_project
        if s.domain is not None:
            token["domain"] = s.domain
        if p.system:
            token["system"] = {p.system: True}
        if p.project_id or p.domain_id or p.system:
            token["roles"] = s.roles
        if s.trust is not None:
            token["OS-TRUST:trust"] = s.trust
        if s.app_cred is not None:
            token["application_credential"] = s.app_cred
        if s.oauth is not None:
            token["OS-OAUTH1"] = s.oauth
        if catalog is not None and (p.project_id or p.domain_id or p.system):
            token["catalog"] = catalog
        return {"token": token}

    def context(self, request_id: str, token: str) -> RequestContext:
        p, s = self.payload, self.scope
        trust = s.trust or {}
        return RequestContext(
            request_id=request_id,
            user_id=s.user["id"],
            user_name=s.user["name"],
            user_domain_id=s.user_domain_id,
            project_id=p.project_id,
            project_name=s.project["name"] if s.project else None,
            project_domain_id=s.project["domain"]["id"] if s.project else None,
            domain_id=p.domain_id,
            domain_name=s.domain["name"] if s.domain else None,
            system_scope=p.system,
            roles=tuple(r["name"] for r in s.roles),
            role_ids=tuple(r["id"] for r in s.roles),
            is_admin_project=s.is_admin_project,
            trust_id=p.trust_id,
            trustor_id=trust.get("trustor_user", {}).get("id"),
            trustee_id=trust.get("trustee_user", {}).get("id"),
            application_credential_id=p.app_cred_id,
            audit_ids=tuple(p.audit_ids),
            auth_token=token,
            token=self,
        )


class TokenProvider:
    """Issues and validates tokens for one IdentityManager."""

    def __init__(self, manager: IdentityManager):
        self.mgr = manager
        self._tokens: OrderedDict[str, tuple[int, TokenInfo]] = OrderedDict()
        self._scopes: dict[tuple[Any, ...], ScopeData] = {}
        self._scopes_revision = -1
        self._events: tuple[int, list[Any]] = (-1, [])
        self._catalogs: dict[str | None, list[dict[str, Any]]] = {}
        self._catalogs_revision = -1
        self.admin_project_id: str | None = None

    def _is_admin_project(self, project_id: str) -> bool:
        """Whether the admin role on this project makes a cloud admin (``admin_scope``): any
        project, as in Keystone without an admin project configured, or the admin project."""
        if self.mgr.conf.admin_scope == "any-project":
            return True
        return project_id == self.admin_project_id

    # -- validation -------------------------------------------------------------------------
    async def validate(self, token: str, *, allow_expired: bool = False) -> TokenInfo:
        """The meaning of ``token`` now; raises :class:`TokenInvalid`."""
        revision = self.mgr.revision
        cached = self._tokens.get(token)
        if cached is not None and cached[0] == revision:
            info = cached[1]
        else:
            try:
                payload = self.mgr.formatter.parse(token)
            except InvalidToken:
                raise TokenInvalid("The token is not valid.") from None
            info = TokenInfo(payload, await self._scope_data(payload))
            await self._check_revoked(info)
            self._remember(token, revision, info)
        if not allow_expired and info.payload.expires_at <= dt.datetime.now(dt.UTC):
            raise TokenInvalid("The token has expired.")
        if allow_expired:
            window = dt.timedelta(seconds=self.mgr.conf.allow_expired_window)
            if info.payload.expires_at + window <= dt.datetime.now(dt.UTC):
                raise TokenInvalid("The token has expired.")
        return info

    async def context_for(self, token: str, request_id: str) -> RequestContext:
        """The :class:`TokenValidator` every service authenticates with."""
        try:
            info = await self.validate(token)
        except TokenInvalid:
            raise Unauthorized() from None
        return info.context(request_id, token)

    def _remember(self, token: str, revision: int, info: TokenInfo) -> None:
        self._tokens[token] = (revision, info)
        if len(self._tokens) > self.mgr.conf.token_cache_size:
            self._tokens.popitem(last=False)

    async def catalog(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """The catalog of a token scoped to ``project_id`` (OS-EP-FILTER applies) or else."""
        if self._catalogs_revision != self.mgr.revision:
            self._catalogs.clear()
            self._catalogs_revision = self.mgr.revision
        catalog = self._catalogs.get(project_id)
        if catalog is None:
            async with self.mgr.read() as session:
                only = (
                    await endpoint_filter.endpoint_ids(session, project_id) if project_id else None
                )
                catalog = await build_catalog(session, only or None, project_id)
            if len(self._catalogs) > self.mgr.conf.token_cache_size:
                self._catalogs.clear()
            self._catalogs[project_id] = catalog
        return catalog

    async def _revocation_events(self) -> list[Any]:
        revision = self.mgr.revision
        if self._events[0] != revision:
            age = dt.timedelta(
                seconds=self.mgr.conf.token_expiration + self.mgr.conf.allow_expired_window
            )
            async with self.mgr.read() as session:
                self._events = (revision, await revoke.load_events(session, age))
        return self._events[1]

    async def _check_revoked(self, info: TokenInfo) -> None:
        events = await self._revocation_events()
        if events and revoke.is_revoked(events, self._facts(info)):
            raise TokenInvalid("The token has been revoked.")

    @staticmethod
    def _facts(info: TokenInfo) -> revoke.TokenFacts:
        p, s = info.payload, info.scope
        trust = s.trust or {}
        users = {
            s.user["id"],
            trust.get("trustor_user", {}).get("id"),
            trust.get("trustee_user", {}).get("id"),
        } - {None}
        domains = {
            s.user_domain_id,
            p.domain_id,
            s.project["domain"]["id"] if s.project else None,
        } - {None}
        return revoke.TokenFacts(
            user_ids=tuple(users),  # type: ignore[arg-type]
            project_id=p.project_id,
            domain_ids=tuple(domains),  # type: ignore[arg-type]
            role_ids=tuple(r["id"] for r in s.roles),
            trust_id=p.trust_id,
            audit_id=p.audit_ids[0],
            audit_chain_id=p.audit_ids[-1],
            issued_at=p.issued_at.astimezone(dt.UTC).replace(tzinfo=None),
            consumer_id=(s.oauth or {}).get("consumer_id"),
            access_token_id=p.access_token_id,
        )

    async def _scope_data(self, p: TokenPayload) -> ScopeData:
        if self._scopes_revision != self.mgr.revision:
            self._scopes.clear()
            self._scopes_revision = self.mgr.revision
        key = (
            p.user_id,
            p.project_id,
            p.domain_id,
            p.system,
            p.trust_id,
            p.app_cred_id,
            p.access_token_id,
            p.idp_id,
            tuple(p.federated_group_ids or ()),
        )
        data = self._scopes.get(key)
        if data is None:
            async with self.mgr.read() as session:
                data = await self._load_scope(session, p)
            if len(self._scopes) > self.mgr.conf.token_cache_size:
                self._scopes.clear()
            self._scopes[key] = data
        return data

    async def _load_scope(self, session: AsyncSession, p: TokenPayload) -> ScopeData:
        user = await session.get(User, p.user_id)
        if user is None or not user.enabled:
            raise TokenInvalid("The token's user is gone or disabled.")
        user_domain = await session.get(Domain, user.domain_id)
        if user_domain is None or not user_domain.enabled:
            raise TokenInvalid("The token's user domain is disabled.")
        data = ScopeData(user=_user_ref(user, user_domain), user_domain_id=user.domain_id)
        groups = tuple(p.federated_group_ids or ())
        if p.idp_id:
            idp = await session.get(IdentityProvider, p.idp_id)
            if idp is None or not idp.enabled:
                raise TokenInvalid("The token's identity provider is gone or disabled.")
            data.user["OS-FEDERATION"] = {
                "identity_provider": {"id": p.idp_id},
                "protocol": {"id": p.protocol_id},
                "groups": [{"id": g} for g in groups],
            }
        if p.project_id:
            project, domain = await _enabled_project(session, p.project_id)
            data.project = _project_ref(project, domain)
            data.is_admin_project = self._is_admin_project(project.id)
            roles = await self._project_roles(session, p, user, project)
        elif p.domain_id:
            scope_domain = await session.get(Domain, p.domain_id)
            if scope_domain is None or not scope_domain.enabled:
                raise TokenInvalid("The token's domain is gone or disabled.")
            data.domain = {"id": scope_domain.id, "name": scope_domain.name}
            roles = await assignment.effective_roles(
                session, user.id, domain_id=p.domain_id, extra_groups=groups
            )
        elif p.system:
            roles = await assignment.effective_roles(
                session, user.id, system=True, extra_groups=groups
            )
        else:
            roles = []
        if (p.project_id or p.domain_id or p.system) and not roles:
            raise TokenInvalid("The token's user has no role on its scope any more.")
        data.roles = [{"id": r.id, "name": r.name} for r in roles]
        if p.trust_id:
            trust = await session.get(Trust, p.trust_id)
            assert trust is not None  # checked in _project_roles
            data.trust = {
                "id": trust.id,
                "impersonation": trust.impersonation,
                "trustee_user": {"id": trust.trustee_user_id},
                "trustor_user": {"id": trust.trustor_user_id},
            }
        if p.app_cred_id:
            cred = await session.get(ApplicationCredential, p.app_cred_id)
            assert cred is not None  # checked in _project_roles
            data.app_cred = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
        if p.access_token_id:
            access = await session.get(OAuthAccessToken, p.access_token_id)
            assert access is not None  # checked in _project_roles
            data.oauth = {"access_token_id": access.id, "consumer_id": access.consumer_id}
        return data

    async def _project_roles(
        self, session: AsyncSession, p: TokenPayload, user: User, project: Project
    ) -> list[Role]:
        if p.trust_id:
            trust = await session.get(Trust, p.trust_id)
            if trust is None or trust.deleted_at is not None or trust.project_id != project.id:
                raise TokenInvalid("The trust is gone.")
            if trust.expires_at is not None and trust.expires_at <= utcnow():
                raise TokenInvalid("The trust has expired.")
            trustor = await session.get(User, trust.trustor_user_id)
            if trustor is None or not trustor.enabled:
                raise TokenInvalid("The trustor is gone or disabled.")
            held = await assignment.effective_roles(session, trust.trustor_user_id, project=project)
            wanted = await _roles_of(session, TrustRole, TrustRole.trust_id, trust.id)
            wanted_ids = await assignment.implied_closure(session, wanted)
            if not set(wanted) <= {r.id for r in held}:
                raise TokenInvalid("The trustor no longer has the delegated roles.")
            return [r for r in held if r.id in wanted_ids]
        held = await assignment.effective_roles(
            session, user.id, project=project, extra_groups=tuple(p.federated_group_ids or ())
        )
        if p.access_token_id:
            access = await session.get(OAuthAccessToken, p.access_token_id)
            if access is None or access.authorizing_user_id != user.id:
                raise TokenInvalid("The OAuth access token is gone.")
            if access.project_id != project.id:
                raise TokenInvalid("The OAuth access token is for another project.")
            if access.expires_at is not None and access.expires_at <= utcnow():
                raise TokenInvalid("The OAuth access token has expired.")
            wanted_ids = await assignment.implied_closure(session, list(access.role_ids))
            return [r for r in held if r.id in wanted_ids]
        if p.app_cred_id:
            cred = await session.get(ApplicationCredential, p.app_cred_id)
            if cred is None or cred.user_id != user.id or cred.project_id != project.id:
                raise TokenInvalid("The application credential is gone.")
            if cred.expires_at is not None and cred.expires_at <= utcnow():
                raise TokenInvalid("The application credential has expired.")
            wanted = await _roles_of(
                session,
                ApplicationCredentialRole,
                ApplicationCredentialRole.application_credential_id,
                cred.id,
            )
            wanted_ids = await assignment.implied_closure(session, wanted)
            return [r for r in held if r.id in wanted_ids]
        return held

    # -- issuing ----------------------------------------------------------------------------
    async def issue(self, payload: TokenPayload) -> tuple[str, TokenInfo]:
        """Encrypt ``payload`` and return the token with its meaning.

        Fernet timestamps have one-second resolution, so a token issued in the same second as
        a revocation event that matches it would look revoked: wait for the next second then.
        """
        scope = await self._scope_data(payload)
        for _ in range(3):
            token = self.mgr.formatter.create(payload)
            info = TokenInfo(replace(payload, issued_at=_issued_at(self.mgr, token)), scope)
            try:
                await self._check_revoked(info)
            except TokenInvalid:
                now = dt.datetime.now(dt.UTC)
                await asyncio.sleep(1.05 - now.microsecond / 1e6)
                continue
            self._remember(token, self.mgr.revision, info)
            return token, info
        raise Unauthorized("The token could not be issued; try again.")


def _issued_at(mgr: IdentityManager, token: str) -> dt.datetime:
    raw = (token + "=" * (-len(token) % 4)).encode()
    return dt.datetime.fromtimestamp(mgr.keys.timestamp(raw), dt.UTC)


async def _roles_of(session: AsyncSession, model: Any, column: Any, owner: str) -> list[str]:
    return list((await session.execute(select(model.role_id).where(column == owner))).scalars())


async def _enabled_project(session: AsyncSession, project_id: str) -> tuple[Project, Domain]:
    project = await session.get(Project, project_id)
    if project is None or not project.enabled:
        raise TokenInvalid("The token's project is gone or disabled.")
    domain = await session.get(Domain, project.domain_id)
    if domain is None or not domain.enabled:
        raise TokenInvalid("The token's project domain is disabled.")
    return project, domain


def _user_ref(user: User, domain: Domain) -> dict[str, Any]:
    return {
        "domain": {"id": domain.id, "name": domain.name},
        "id": user.id,
        "name": user.name,
        "password_expires_at": isotime(user.password_expires_at),
    }


def _project_ref(project: Project, domain: Domain) -> dict[str, Any]:
    return {
        "domain": {"id": domain.id, "name": domain.name},
        "id": project.id,
        "name": project.name,
    }
