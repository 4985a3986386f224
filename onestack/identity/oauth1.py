"""OS-OAUTH1: consumers, request and access tokens, and OAuth 1.0a signature checks.

The flow (Keystone's): a consumer asks for a request token for a project (a signed request),
a user authorizes it with some of their roles on that project and gets a verifier, the
consumer trades the request token and verifier for an access token (signed), and then gets
Identity tokens with the ``oauth1`` method (signed with the access token). Those tokens carry
only the delegated roles the user still holds. Secrets are stored encrypted with the
credential keys; signatures are checked with oauthlib (HMAC-SHA1, as Keystone accepts).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id, utcnow
from onestack.common.errors import BadRequest, Forbidden, NotFound, Unauthorized
from onestack.common.fernet import InvalidToken, KeyRepository
from onestack.identity import assignment, revoke
from onestack.identity.models import (
    OAuthAccessToken,
    OAuthConsumer,
    OAuthRequestToken,
    Project,
    Role,
)

VERIFIER_CHARS = string.ascii_letters + string.digits


# -- secrets at rest ----------------------------------------------------------------------------
def _seal(keys: KeyRepository, secret: str) -> str:
    return keys.encrypt(secret.encode()).decode()


def _open(keys: KeyRepository, sealed: str) -> str:
    try:
        return keys.decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise Unauthorized("The OAuth secret cannot be read with the credential keys.") from None


def _new_secret() -> str:
    return secrets.token_urlsafe(24)


# -- signatures ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What an OAuth signature covers: the method, the full URL, the Authorization header and
    a form body (other bodies are not signed)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: str | None = None

    def oauth_params(self) -> dict[str, str]:
        """The ``oauth_*`` parameters of the Authorization header (401 if there are none)."""
        from oauthlib.oauth1.rfc5849 import utils

        header = self.headers.get("authorization", "")
        if not header.lower().startswith("oauth "):
            raise Unauthorized("An OAuth 1.0a Authorization header is required.")
        try:
            return dict(utils.parse_authorization_header(header))
        except (ValueError, TypeError):
            raise Unauthorized("The OAuth Authorization header is malformed.") from None


class _Nonces:
    """Recently seen (consumer, timestamp, nonce, token): a replay within the timestamp
    window is refused (per process)."""

    def __init__(self, size: int = 10000):
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_use(self, key: tuple[str, ...]) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = time.monotonic()
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


NONCES = _Nonces()


def _validator(client_key: str, client_secret: str, token_key: str | None, token_secret: str):  # type: ignore[no-untyped-def]
    """An oauthlib request validator over secrets already loaded from the database."""
    from oauthlib.oauth1 import RequestValidator

    def safe(value: str | None) -> bool:
        return bool(value) and len(value) <= 255 and set(value) <= set(VERIFIER_CHARS + "-_")  # type: ignore[arg-type]

    class Preloaded(RequestValidator):  # type: ignore[misc]
        enforce_ssl = False
        allowed_signature_methods = ("HMAC-SHA1",)
        dummy_client = "dummy"
        dummy_access_token = "dummy"
        dummy_request_token = "dummy"

        def check_client_key(self, key: str) -> bool:
            return safe(key)

        def check_request_token(self, token: str) -> bool:
            return safe(token)

        def check_access_token(self, token: str) -> bool:
            return safe(token)

        def check_nonce(self, nonce: str) -> bool:
            return safe(nonce)

        def check_verifier(self, verifier: str) -> bool:
            return safe(verifier)

        def validate_client_key(self, key: str, request: Any) -> bool:
            return key == client_key

        def get_client_secret(self, key: str, request: Any) -> str:
            return client_secret if key == client_key else "dummy"

        def get_access_token_secret(self, key: str, token: str, request: Any) -> str:
            return token_secret if token == token_key else "dummy"

        get_request_token_secret = get_access_token_secret

        def validate_timestamp_and_nonce(
            self, key: str, timestamp: str, nonce: str, request: Any, **_: Any
        ) -> bool:
            return NONCES.first_use((key, timestamp, nonce, token_key or ""))

    return Preloaded()


def check_signature(
    req: SignedRequest, consumer_secret: str, token_secret: str = ""
) -> dict[str, str]:
    """401 unless ``req`` is signed (HMAC-SHA1) with these secrets; its oauth parameters."""
    from oauthlib.oauth1 import SignatureOnlyEndpoint

    params = req.oauth_params()
    validator = _validator(
        params.get("oauth_consumer_key", ""),
        consumer_secret,
        params.get("oauth_token"),
        token_secret,
    )
    valid, _ = SignatureOnlyEndpoint(validator).validate_request(
        req.url, http_method=req.method, body=req.body, headers=dict(req.headers)
    )
    if not valid:
        raise Unauthorized("The OAuth signature is invalid, stale or replayed.")
    return params


# -- consumers ----------------------------------------------------------------------------------
async def create_consumer(
    session: AsyncSession, keys: KeyRepository, description: str | None, extra: dict[str, Any]
) -> tuple[OAuthConsumer, str]:
    secret = _new_secret()
    consumer = OAuthConsumer(
        id=new_id(), description=description, secret=_seal(keys, secret), extra=extra
    )
    session.add(consumer)
    await session.flush()
    return consumer, secret


async def get_consumer(session: AsyncSession, consumer_id: str) -> OAuthConsumer:
    consumer = await session.get(OAuthConsumer, consumer_id)
    if consumer is None:
        raise NotFound(f"Could not find consumer: {consumer_id}.")
    return consumer


async def list_consumers(session: AsyncSession) -> list[OAuthConsumer]:
    return list((await session.execute(select(OAuthConsumer).order_by(OAuthConsumer.id))).scalars())


async def update_consumer(
    session: AsyncSession, consumer_id: str, changes: dict[str, Any]
) -> OAuthConsumer:
    consumer = await get_consumer(session, consumer_id)
    if "description" in changes:
        consumer.description = changes.pop("description")
    if changes:
        consumer.extra = {**(consumer.extra or {}), **changes}
    await session.flush()
    return consumer


async def delete_consumer(session: AsyncSession, consumer_id: str) -> None:
    """Delete the consumer with its request and access tokens; its tokens stop working."""
    consumer = await get_consumer(session, consumer_id)
    for model in (OAuthRequestToken, OAuthAccessToken):
        await session.execute(delete(model).where(model.consumer_id == consumer_id))
    await revoke.revoke(session, consumer_id=consumer_id)
    await session.delete(consumer)


async def consumer_secret(session: AsyncSession, keys: KeyRepository, consumer_id: str) -> str:
    consumer = await session.get(OAuthConsumer, consumer_id) if consumer_id else None
    if consumer is None:
        raise Unauthorized("The OAuth consumer is unknown.")
    return _open(keys, consumer.secret)


# -- request tokens -----------------------------------------------------------------------------
def _expiry(seconds: int) -> dt.datetime | None:
    return utcnow() + dt.timedelta(seconds=seconds) if seconds > 0 else None


def _expired(expires_at: dt.datetime | None) -> bool:
    return expires_at is not None and expires_at <= utcnow()


async def create_request_token(
    session: AsyncSession,
    keys: KeyRepository,
    req: SignedRequest,
    project_id: str | None,
    duration: int,
) -> tuple[OAuthRequestToken, str]:
    """A request token for ``project_id``, for the consumer that signed ``req``."""
    params = req.oauth_params()
    if "oauth_token" in params:
        raise Unauthorized("A request token request carries no oauth_token.")
    consumer_id = params.get("oauth_consumer_key", "")
    check_signature(req, await consumer_secret(session, keys, consumer_id))
    if not project_id:
        raise BadRequest("Expecting to find Requested-Project-Id in the request headers.")
    if await session.get(Project, project_id) is None:
        raise NotFound(f"Could not find project: {project_id}.")
    secret = _new_secret()
    token = OAuthRequestToken(
        id=new_id(),
        secret=_seal(keys, secret),
        consumer_id=consumer_id,
        requested_project_id=project_id,
        expires_at=_expiry(duration),
    )
    session.add(token)
    await session.flush()
    return token, secret


async def _role_ids(session: AsyncSession, refs: Sequence[Mapping[str, str]]) -> list[str]:
    ids: list[str] = []
    for ref in refs:
        if ref.get("id"):
            role = await session.get(Role, ref["id"])
        else:
            stmt = select(Role).where(Role.name == ref.get("name"))
            role = (await session.execute(stmt)).scalars().first()
        if role is None:
            raise NotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        ids.append(role.id)
    return list(dict.fromkeys(ids))


async def authorize(
    session: AsyncSession, request_token_id: str, user_id: str, roles: Sequence[Mapping[str, str]]
) -> str:
    """The user delegates ``roles`` (which they hold on the project) to the request token's
    consumer; the verifier the consumer needs to get an access token."""
    # locked: two authorizations of one request token cannot both win
    token = await session.get(OAuthRequestToken, request_token_id, with_for_update=True)
    if token is None:
        raise NotFound(f"Could not find request token: {request_token_id}.")
    if _expired(token.expires_at):
        raise Unauthorized("Request token is expired.")
    if token.authorizing_user_id is not None:
        raise Unauthorized("The request token has already been authorized.")
    project = await session.get(Project, token.requested_project_id)
    if project is None:
        raise NotFound(f"Could not find project: {token.requested_project_id}.")
    wanted = await _role_ids(session, roles)
    held = {r.id for r in await assignment.effective_roles(session, user_id, project=project)}
    missing = [r for r in wanted if r not in held]
    if missing:
        raise Unauthorized(f"The user has no role {missing[0]} on the requested project.")
    token.role_ids = wanted
    token.authorizing_user_id = user_id
    token.verifier = "".join(secrets.choice(VERIFIER_CHARS) for _ in range(8))
    await session.flush()
    return token.verifier


# -- access tokens ------------------------------------------------------------------------------
async def create_access_token(
    session: AsyncSession, keys: KeyRepository, req: SignedRequest, duration: int
) -> tuple[OAuthAccessToken, str]:
    """Trade an authorized request token (signed with it, with its verifier) for an access
    token; the request token is used up."""
    params = req.oauth_params()
    consumer_id = params.get("oauth_consumer_key", "")
    # locked: a request token is traded for one access token only, even when raced
    request_token = await session.get(
        OAuthRequestToken, params.get("oauth_token") or "", with_for_update=True
    )
    if request_token is None:
        raise Unauthorized("The request token is unknown.")
    check_signature(
        req, await consumer_secret(session, keys, consumer_id), _open(keys, request_token.secret)
    )
    if request_token.consumer_id != consumer_id:
        raise Unauthorized("The provided consumer key does not match the stored consumer key.")
    if _expired(request_token.expires_at):
        raise Unauthorized("Request token is expired.")
    if request_token.authorizing_user_id is None or request_token.verifier is None:
        raise Unauthorized("Request Token does not have an authorizing user id.")
    if not secrets.compare_digest(params.get("oauth_verifier", ""), request_token.verifier):
        raise Unauthorized("The provided verifier does not match the stored verifier.")
    secret = _new_secret()
    access = OAuthAccessToken(
        id=new_id(),
        secret=_seal(keys, secret),
        consumer_id=consumer_id,
        authorizing_user_id=request_token.authorizing_user_id,
        project_id=request_token.requested_project_id,
        role_ids=list(request_token.role_ids or []),
        expires_at=_expiry(duration),
    )
    session.add(access)
    await session.delete(request_token)
    await session.flush()
    return access, secret


async def access_token_for_auth(
    session: AsyncSession, keys: KeyRepository, req: SignedRequest
) -> OAuthAccessToken:
    """The access token that signed an ``oauth1`` authentication (401 otherwise)."""
    params = req.oauth_params()
    consumer_id = params.get("oauth_consumer_key", "")
    access = await session.get(OAuthAccessToken, params.get("oauth_token") or "")
    if access is None:
        raise Unauthorized("The access token is unknown.")
    check_signature(
        req, await consumer_secret(session, keys, consumer_id), _open(keys, access.secret)
    )
    if access.consumer_id != consumer_id:
        raise Unauthorized("The access token belongs to another consumer.")
    if _expired(access.expires_at):
        raise Unauthorized("Access token is expired.")
    return access


async def user_access_tokens(session: AsyncSession, user_id: str) -> list[OAuthAccessToken]:
    stmt = (
        select(OAuthAccessToken)
        .where(OAuthAccessToken.authorizing_user_id == user_id)
        .order_by(OAuthAccessToken.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_access_token(
    session: AsyncSession, user_id: str, access_token_id: str
) -> OAuthAccessToken:
    access = await session.get(OAuthAccessToken, access_token_id)
    if access is None or access.authorizing_user_id != user_id:
        raise NotFound(f"Could not find access token: {access_token_id}.")
    return access


async def delete_access_token(session: AsyncSession, user_id: str, access_token_id: str) -> None:
    """Revoke an access token and every token it gave."""
    access = await get_access_token(session, user_id, access_token_id)
    await revoke.revoke(session, access_token_id=access.id)
    await session.delete(access)


async def roles_of(session: AsyncSession, access: OAuthAccessToken) -> list[Role]:
    if not access.role_ids:
        return []
    rows = await session.execute(select(Role).where(Role.id.in_(access.role_ids)))
    return sorted(rows.scalars(), key=lambda r: r.name)


def refuse_delegated(ctx: Any, action: str = "authorize a request token") -> None:
    """A token obtained through OAuth cannot delegate further (403)."""
    token = getattr(ctx, "token", None)
    if token is not None and getattr(token.payload, "access_token_id", None):
        raise Forbidden(f"Cannot {action} with a token issued via delegation.")
