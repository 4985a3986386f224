"""Token payloads in Keystone's Fernet layout.

A token is ``Fernet(msgpack((version, *payload)))`` with the base64 padding stripped. Ids that
are UUID hex are packed as 16 bytes, others as strings, each as ``(is_uuid, value)``; methods
are a bit mask over Keystone's method order; audit ids are packed as their 16 raw bytes; the
issue time is Fernet's own timestamp.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field

import msgpack

from onestack.common.fernet import InvalidToken, KeyRepository

#: Keystone's default ``[auth] methods`` order, which fixes the bit of each method.
METHODS = (
    "external",
    "password",
    "token",
    "oauth1",
    "mapped",
    "application_credential",
    "ec2credential",
)

UNSCOPED, DOMAIN, PROJECT, TRUST, OAUTH, SYSTEM, APP_CRED = 0, 1, 2, 3, 5, 8, 9
FED_UNSCOPED, FED_PROJECT, FED_DOMAIN = 4, 6, 7


@dataclass(slots=True)
class TokenPayload:
    user_id: str
    methods: list[str]
    expires_at: dt.datetime
    audit_ids: list[str]
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    trust_id: str | None = None
    app_cred_id: str | None = None
    access_token_id: str | None = None
    #: OS-FEDERATION: the mapped groups, the identity provider and protocol of a shadow user.
    federated_group_ids: list[str] | None = None
    idp_id: str | None = None
    protocol_id: str | None = None
    issued_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _pack_id(value: str) -> tuple[bool, bytes | str]:
    try:
        if len(value) == 32:
            return True, uuid.UUID(hex=value).bytes
    except ValueError:
        pass
    return False, value


def _unpack_id(packed: object) -> str:
    if isinstance(packed, list | tuple) and len(packed) == 2:
        is_uuid, value = packed
        if is_uuid and isinstance(value, bytes):
            return uuid.UUID(bytes=value).hex
        return value.decode() if isinstance(value, bytes) else str(value)
    raise ValueError("malformed id")


def _pack_methods(methods: list[str]) -> int:
    return sum(1 << METHODS.index(m) for m in set(methods))


def _unpack_methods(mask: int) -> list[str]:
    return [m for i, m in enumerate(METHODS) if mask & (1 << i)]


def _pack_audit(ids: list[str]) -> list[bytes]:
    return [base64.urlsafe_b64decode(a + "==") for a in ids]


def _unpack_audit(ids: list[bytes]) -> list[str]:
    return [base64.urlsafe_b64encode(b).decode().rstrip("=") for b in ids]


class TokenFormatter:
    def __init__(self, keys: KeyRepository):
        self.keys = keys

    def create(self, p: TokenPayload) -> str:
        user = _pack_id(p.user_id)
        methods = _pack_methods(p.methods)
        expires = (
            p.expires_at.replace(tzinfo=dt.UTC).timestamp()
            if p.expires_at.tzinfo is None
            else p.expires_at.timestamp()
        )
        audit = _pack_audit(p.audit_ids)
        body: tuple[object, ...]
        if p.idp_id:
            federation = (
                [_pack_id(g) for g in p.federated_group_ids or []],
                _pack_id(p.idp_id),
                p.protocol_id or "",
            )
            if p.project_id:
                body = (FED_PROJECT, user, methods, _pack_id(p.project_id), *federation)
            elif p.domain_id:
                body = (FED_DOMAIN, user, methods, _pack_id(p.domain_id), *federation)
            else:
                body = (FED_UNSCOPED, user, methods, *federation)
            body = (*body, expires, audit)
        elif p.trust_id:
            body = (
                TRUST,
                user,
                methods,
                _pack_id(p.project_id or ""),
                expires,
                audit,
                _pack_id(p.trust_id),
            )
        elif p.access_token_id:
            body = (
                OAUTH,
                user,
                methods,
                _pack_id(p.project_id or ""),
                _pack_id(p.access_token_id),
                expires,
                audit,
            )
        elif p.app_cred_id:
            body = (
                APP_CRED,
                user,
                methods,
                _pack_id(p.project_id or ""),
                expires,
                audit,
                _pack_id(p.app_cred_id),
            )
        elif p.project_id:
            body = (PROJECT, user, methods, _pack_id(p.project_id), expires, audit)
        elif p.domain_id:
            body = (DOMAIN, user, methods, _pack_id(p.domain_id), expires, audit)
        elif p.system:
            body = (SYSTEM, user, methods, p.system, expires, audit)
        else:
            body = (UNSCOPED, user, methods, expires, audit)
        token = self.keys.encrypt(msgpack.packb(body, use_bin_type=True))
        return token.decode().rstrip("=")

    def parse(self, token: str) -> TokenPayload:
        """Decrypt and unpack; raises :class:`InvalidToken` for anything that is not ours."""
        if not token or len(token) > 1024 or not token.isascii():
            raise InvalidToken()
        raw = (token + "=" * (-len(token) % 4)).encode()
        try:
            packed = self.keys.decrypt(raw)
            body = msgpack.unpackb(packed, raw=False)
            issued = dt.datetime.fromtimestamp(self.keys.timestamp(raw), dt.UTC)
            return _payload(body, issued)
        except InvalidToken:
            raise
        except Exception as exc:  # malformed payload inside a valid envelope
            raise InvalidToken() from exc


def _payload(body: list[object], issued: dt.datetime) -> TokenPayload:
    version, user, methods = body[0], _unpack_id(body[1]), _unpack_methods(int(body[2]))  # type: ignore[call-overload]

    def when(v: object) -> dt.datetime:
        return dt.datetime.fromtimestamp(float(v), dt.UTC)  # type: ignore[arg-type]

    if version == UNSCOPED:
        return TokenPayload(
            user,
            methods,
            when(body[3]),
            _unpack_audit(body[4]),  # type: ignore[arg-type]
            issued_at=issued,
        )
    if version in (FED_UNSCOPED, FED_PROJECT, FED_DOMAIN):
        scope = None if version == FED_UNSCOPED else _unpack_id(body[3])
        groups, idp, protocol, expires_at, audit_ids = body[3 if scope is None else 4 :]  # type: ignore[misc]
        return TokenPayload(
            user,
            methods,
            when(expires_at),
            _unpack_audit(audit_ids),  # type: ignore[arg-type]
            project_id=scope if version == FED_PROJECT else None,
            domain_id=scope if version == FED_DOMAIN else None,
            federated_group_ids=[_unpack_id(g) for g in groups],  # type: ignore[attr-defined]
            idp_id=_unpack_id(idp),
            protocol_id=str(protocol),
            issued_at=issued,
        )
    if version == OAUTH:
        return TokenPayload(
            user,
            methods,
            when(body[5]),
            _unpack_audit(body[6]),  # type: ignore[arg-type]
            project_id=_unpack_id(body[3]),
            access_token_id=_unpack_id(body[4]),
            issued_at=issued,
        )
    expires, audit = when(body[4]), _unpack_audit(body[5])  # type: ignore[arg-type]
    if version == PROJECT:
        return TokenPayload(
            user, methods, expires, audit, project_id=_unpack_id(body[3]), issued_at=issued
        )
    if version == DOMAIN:
        return TokenPayload(
            user, methods, expires, audit, domain_id=_unpack_id(body[3]), issued_at=issued
        )
    if version == SYSTEM:
        return TokenPayload(user, methods, expires, audit, system=str(body[3]), issued_at=issued)
    if version == TRUST:
        return TokenPayload(
            user,
            methods,
            expires,
            audit,
            project_id=_unpack_id(body[3]),
            trust_id=_unpack_id(body[6]),
            issued_at=issued,
        )
    if version == APP_CRED:
        return TokenPayload(
            user,
            methods,
            expires,
            audit,
            project_id=_unpack_id(body[3]),
            app_cred_id=_unpack_id(body[6]),
            issued_at=issued,
        )
    raise InvalidToken()
