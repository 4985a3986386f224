"""Authentication: from a ``POST /v3/auth/tokens`` body to the payload of a new token.

Every failure to prove identity is the same 401, so a caller never learns whether a user exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Forbidden, Unauthorized
from onestack.identity import assignment, oauth1
from onestack.identity.manager import IdentityManager
from onestack.identity.models import (
    ApplicationCredential,
    Domain,
    OAuthAccessToken,
    OAuthConsumer,
    Project,
    Trust,
    User,
)
from onestack.identity.passwords import check_password
from onestack.identity.token_formatter import TokenPayload, new_audit_id
from onestack.identity.tokens import TokenInfo, TokenInvalid, TokenProvider

Name = Field(None, min_length=1, max_length=255)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class DomainRef(_Model):
    id: str | None = Name
    name: str | None = Name


class UserRef(_Model):
    id: str | None = Name
    name: str | None = Name
    domain: DomainRef | None = None
    password: str | None = Field(None, max_length=4096)


class PasswordMethod(_Model):
    user: UserRef


class TokenMethod(_Model):
    id: str = Field(min_length=1, max_length=1024)


class AppCredMethod(_Model):
    id: str | None = Name
    name: str | None = Name
    secret: str = Field(min_length=1, max_length=4096)
    user: UserRef | None = None


class Identity(_Model):
    methods: list[str] = Field(min_length=1, max_length=8)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: AppCredMethod | None = None
    oauth1: dict[str, Any] | None = None


class ProjectRef(_Model):
    id: str | None = Name
    name: str | None = Name
    domain: DomainRef | None = None


class TrustRef(_Model):
    id: str = Field(min_length=1, max_length=64)


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    project: ProjectRef | None = None
    domain: DomainRef | None = None
    system: dict[str, bool] | None = None
    trust: TrustRef | None = Field(None, alias="OS-TRUST:trust")


class Auth(_Model):
    identity: Identity
    scope: Scope | str | None = None


class AuthRequest(_Model):
    auth: Auth


SUPPORTED = ("password", "token", "application_credential", "oauth1")


class Authenticator:
    def __init__(self, manager: IdentityManager, provider: TokenProvider):
        self.mgr = manager
        self.provider = provider

    async def authenticate(
        self, req: AuthRequest, signed: oauth1.SignedRequest | None = None
    ) -> tuple[str, TokenInfo]:
        """A token for ``req``; ``signed`` is the HTTP request an ``oauth1`` method signed."""
        ident = req.auth.identity
        methods = list(dict.fromkeys(ident.methods))
        for m in methods:
            if m not in SUPPORTED:
                raise Unauthorized("Attempted to authenticate with an unsupported method.")
            if getattr(ident, m) is None:
                raise BadRequest(f"The request body must contain the '{m}' method details.")
        user_ids: set[str] = set()
        parent: TokenInfo | None = None
        cred: ApplicationCredential | None = None
        if "password" in methods:
            user_ids.add(await self._password(ident.password))  # type: ignore[arg-type]
        if "token" in methods:
            parent = await self._token(ident.token)  # type: ignore[arg-type]
            user_ids.add(parent.payload.user_id)
        if "application_credential" in methods:
            cred = await self._app_cred(ident.application_credential)  # type: ignore[arg-type]
            user_ids.add(cred.user_id)
        access: OAuthAccessToken | None = None
        if "oauth1" in methods:
            access = await self._oauth1(signed)
            user_ids.add(access.authorizing_user_id)
        if len(user_ids) != 1:
            raise Unauthorized("The methods authenticated different users.")
        user_id = user_ids.pop()

        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=self.mgr.conf.token_expiration)
        audit_ids = [new_audit_id()]
        if parent is not None:
            expires = min(expires, parent.payload.expires_at)
            audit_ids.append(parent.payload.audit_ids[-1])
            # as Keystone: a rescoped token was proved by its parent's methods too
            methods = list(dict.fromkeys([*methods, *parent.payload.methods]))
        payload = TokenPayload(user_id, methods, expires, audit_ids)
        if parent is not None and parent.payload.idp_id:
            # a rescoped federated token keeps its identity provider and mapped groups
            payload.idp_id, payload.protocol_id = parent.payload.idp_id, parent.payload.protocol_id
            payload.federated_group_ids = parent.payload.federated_group_ids
        scope = req.auth.scope
        if access is not None:
            # the access token fixes the scope: its project, its delegated roles
            payload.project_id, payload.access_token_id = access.project_id, access.id
            if access.expires_at is not None:
                payload.expires_at = min(expires, access.expires_at.replace(tzinfo=dt.UTC))
        elif cred is not None:
            if scope not in (None, "unscoped") and scope:
                raise Unauthorized("Application credentials cannot request a scope.")
            if cred.expires_at is not None:
                payload.expires_at = min(expires, cred.expires_at.replace(tzinfo=dt.UTC))
            payload.project_id, payload.app_cred_id = cred.project_id, cred.id
        elif isinstance(scope, str):
            if scope != "unscoped":
                raise BadRequest("scope must be an object or the string 'unscoped'.")
        elif scope is not None:
            if payload.idp_id and (scope.system is not None or scope.trust is not None):
                raise Forbidden("A federated token can be rescoped to a project or a domain only.")
            await self._scope(payload, scope)
        else:
            await self._default_scope(payload)
        if parent is not None and parent.payload.app_cred_id:
            payload.app_cred_id = parent.payload.app_cred_id
            if payload.project_id != parent.payload.project_id or payload.trust_id:
                raise Forbidden("A token from an application credential cannot be rescoped.")
        try:
            return await self.provider.issue(payload)
        except TokenInvalid as exc:
            raise Unauthorized(_scope_denied(payload)) from exc

    # -- methods ----------------------------------------------------------------------------
    async def _password(self, method: PasswordMethod) -> str:
        ref = method.user
        if ref.password is None:
            raise BadRequest("password is required for the password method.")
        async with self.mgr.read() as session:
            user = await _find_user(session, ref)
            domain = await session.get(Domain, user.domain_id) if user else None
        conf = self.mgr.conf
        if user is not None and conf.lockout_failure_attempts and _locked(user, conf):
            raise Unauthorized(f"The account is locked for user: {user.id}.")
        ok = await check_password(
            ref.password, user.password_hash if user else None, conf.password_hash_rounds
        )
        if user is None or not ok:
            if user is not None and conf.lockout_failure_attempts:
                await self._record_failure(user.id)
            raise Unauthorized()
        if not user.enabled or domain is None or not domain.enabled:
            raise Unauthorized()
        if user.password_expires_at is not None and user.password_expires_at <= utcnow():
            raise Unauthorized(
                f"The password is expired and needs to be changed for user: {user.id}."
            )
        if conf.lockout_failure_attempts and user.failed_auth_count:
            async with self.mgr.write() as session:
                row = await session.get(User, user.id)
                if row is not None:
                    row.failed_auth_count, row.failed_auth_at = 0, None
        return user.id

    async def _record_failure(self, user_id: str) -> None:
        async with self.mgr.write() as session:
            row = await session.get(User, user_id)
            if row is not None:
                row.failed_auth_count = (row.failed_auth_count or 0) + 1
                row.failed_auth_at = utcnow()

    async def _token(self, method: TokenMethod) -> TokenInfo:
        try:
            parent = await self.provider.validate(method.id)
        except TokenInvalid:
            raise Unauthorized() from None
        if parent.payload.trust_id:
            raise Forbidden("A trust-scoped token cannot be rescoped.")
        if parent.payload.access_token_id:
            raise Forbidden(
                "Using an OAuth-scoped token to create another token is not allowed; "
                "create a new OAuth-scoped token instead."
            )
        if parent.scope.app_cred is not None and parent.scope.app_cred.get("restricted"):
            raise Forbidden(
                "Using a token created with a restricted application credential "
                "to create another token is not allowed."
            )
        return parent

    async def _oauth1(self, signed: oauth1.SignedRequest | None) -> OAuthAccessToken:
        if signed is None:
            raise Unauthorized("The oauth1 method needs a signed request.")
        async with self.mgr.read() as session:
            access = await oauth1.access_token_for_auth(session, self.mgr.credential_keys, signed)
            consumer = await session.get(OAuthConsumer, access.consumer_id)
        if consumer is None:
            raise Unauthorized("The OAuth consumer is gone.")
        return access

    async def _app_cred(self, method: AppCredMethod) -> ApplicationCredential:
        async with self.mgr.read() as session:
            cred: ApplicationCredential | None = None
            if method.id:
                cred = await session.get(ApplicationCredential, method.id)
            elif method.name and method.user is not None:
                user = await _find_user(session, method.user)
                if user is not None:
                    cred = (
                        await session.execute(
                            select(ApplicationCredential).where(
                                ApplicationCredential.user_id == user.id,
                                ApplicationCredential.name == method.name,
                            )
                        )
                    ).scalar()
            else:
                raise BadRequest("An application credential needs an id, or a name and a user.")
            owner = await session.get(User, cred.user_id) if cred else None
        ok = await check_password(
            method.secret, cred.secret_hash if cred else None, self.mgr.conf.password_hash_rounds
        )
        if cred is None or not ok or owner is None or not owner.enabled:
            raise Unauthorized()
        if cred.expires_at is not None and cred.expires_at <= utcnow():
            raise Unauthorized()
        return cred

    # -- scope ------------------------------------------------------------------------------
    async def _scope(self, payload: TokenPayload, scope: Scope) -> None:
        chosen = [s for s in (scope.project, scope.domain, scope.system, scope.trust) if s]
        if len(chosen) != 1:
            raise BadRequest(
                "Specify exactly one of project, domain, system or OS-TRUST:trust in scope."
            )
        if scope.project is not None:
            payload.project_id = await self._resolve("project", scope.project, _find_project)
            if payload.project_id is None:
                raise Unauthorized(_scope_denied(payload))
        elif scope.domain is not None:
            payload.domain_id = await self._resolve("domain", scope.domain, _find_domain)
            if payload.domain_id is None:
                raise Unauthorized(_scope_denied(payload))
        elif scope.system is not None:
            if scope.system != {"all": True}:
                raise BadRequest("Only the system scope {'all': true} exists.")
            payload.system = "all"
        elif scope.trust is not None:
            async with self.mgr.read() as session:
                await self._trust_scope(session, payload, scope.trust.id)
            await self._consume_trust(payload.trust_id)  # type: ignore[arg-type]

    async def _resolve(self, kind: str, ref: Any, find: Any) -> str | None:
        """The id a project/domain reference names (remembered until the next write)."""
        key = (kind, ref.model_dump_json())

        async def load() -> str | None:
            async with self.mgr.read() as session:
                row = await find(session, ref)
                return row.id if row is not None else None

        return await self.mgr.memo(key, load)

    async def _trust_scope(
        self, session: AsyncSession, payload: TokenPayload, trust_id: str
    ) -> None:
        trust = await session.get(Trust, trust_id)
        if trust is None or trust.deleted_at is not None:
            raise Unauthorized("Could not find the trust.")
        if trust.trustee_user_id != payload.user_id:
            raise Forbidden("The user is not the trustee of this trust.")
        if trust.expires_at is not None and trust.expires_at <= utcnow():
            raise Unauthorized("The trust has expired.")
        if trust.remaining_uses is not None and trust.remaining_uses <= 0:
            raise Unauthorized("The trust has no remaining uses.")
        if trust.project_id is None:
            raise Unauthorized("A trust without a project cannot scope a token.")
        payload.trust_id, payload.project_id = trust.id, trust.project_id
        if trust.impersonation:
            payload.user_id = trust.trustor_user_id
        if trust.expires_at is not None:
            payload.expires_at = min(payload.expires_at, trust.expires_at.replace(tzinfo=dt.UTC))

    async def _consume_trust(self, trust_id: str) -> None:
        async with self.mgr.write() as session:
            trust = await session.get(Trust, trust_id)
            if trust is None:
                raise Unauthorized("Could not find the trust.")
            if trust.remaining_uses is not None:
                if trust.remaining_uses <= 0:
                    raise Unauthorized("The trust has no remaining uses.")
                trust.remaining_uses -= 1

    async def _default_scope(self, payload: TokenPayload) -> None:
        """No scope asked: the user's default project, if they hold a role on it."""
        async with self.mgr.read() as session:
            user = await session.get(User, payload.user_id)
            if user is None or not user.default_project_id:
                return
            project = await session.get(Project, user.default_project_id)
            if project is None or not project.enabled:
                return
            if await assignment.effective_roles(session, user.id, project=project):
                payload.project_id = project.id


def _scope_denied(payload: TokenPayload) -> str:
    target = payload.project_id or payload.domain_id or payload.system or "the requested scope"
    return f"User {payload.user_id} has no access to {target}."


def _locked(user: User, conf: Any) -> bool:
    if (user.failed_auth_count or 0) < conf.lockout_failure_attempts:
        return False
    if user.failed_auth_at is None:
        return False
    return utcnow() < user.failed_auth_at + dt.timedelta(seconds=conf.lockout_duration)


async def _find_domain(session: AsyncSession, ref: DomainRef | None) -> Domain | None:
    if ref is None:
        return None
    if ref.id:
        return await session.get(Domain, ref.id)
    if ref.name:
        return (await session.execute(select(Domain).where(Domain.name == ref.name))).scalar()
    raise BadRequest("A domain needs an id or a name.")


async def _find_user(session: AsyncSession, ref: UserRef) -> User | None:
    if ref.id:
        return await session.get(User, ref.id)
    if not ref.name:
        raise BadRequest("A user needs an id, or a name and a domain.")
    if ref.domain is None:
        raise BadRequest("A user given by name needs a domain.")
    domain = await _find_domain(session, ref.domain)
    if domain is None:
        return None
    return (
        await session.execute(
            select(User).where(User.domain_id == domain.id, User.name == ref.name)
        )
    ).scalar()


async def _find_project(session: AsyncSession, ref: ProjectRef) -> Project | None:
    if ref.id:
        return await session.get(Project, ref.id)
    if not ref.name:
        raise BadRequest("A project needs an id, or a name and a domain.")
    if ref.domain is None:
        raise BadRequest("A project given by name needs a domain.")
    domain = await _find_domain(session, ref.domain)
    if domain is None:
        return None
    return (
        await session.execute(
            select(Project).where(Project.domain_id == domain.id, Project.name == ref.name)
        )
    ).scalar()
