"""Authentication and authorization, as Swift's keystoneauth and tempauth middlewares do it.

Keystone tokens (X-Auth-Token) reach accounts ``AUTH_<project_id>``: the operator roles
(admin, member) own their project's account, the reader role reads it, the reseller admin role
reaches every account; a service token (X-Service-Token with the service role) is needed as
well for accounts with the service prefix. Tempauth answers ``GET /auth/v1.0`` with
X-Auth-User / X-Auth-Key for the users configured in ``[object] tempauth_users``.

The middleware only says who is calling (``environ["identity"]``) and leaves an ``authorize``
callback; the proxy calls it once it knows the container's ACLs, as in Swift.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onestack.object.middleware.acl import granted, parse_acl, referrer_allowed
from onestack.object.proxy.http import App, HTTPError, Request, Response, error_body

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from onestack.object.service import ObjectService

RESELLER_PREFIX = "AUTH_"
SERVICE_PREFIX = "SERVICE_"
READ_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Identity:
    kind: str  # keystone, tempauth, anonymous
    user_id: str | None = None
    user_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()  # accounts it operates (owns)
    read_accounts: tuple[str, ...] = ()  # accounts it may only read
    reseller: bool = False
    service: bool = False  # a valid service token came too
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"


ANONYMOUS = Identity("anonymous")


@dataclass
class TempAuthUser:
    account: str
    user: str
    key: str
    groups: tuple[str, ...]


class TempAuth:
    """Users from settings; tokens in memory (as tempauth keeps them in memcache)."""

    def __init__(self, users: dict[str, str], token_life: int = 86400):
        self.users: dict[str, TempAuthUser] = {}
        for name, spec in users.items():
            account, _, user = name.partition(":")
            key, *groups = spec.split()
            self.users[name] = TempAuthUser(account, user, key, tuple(groups))
        self.tokens: dict[str, tuple[TempAuthUser, float]] = {}
        self.token_life = token_life

    def login(self, req: Request, base: str) -> Response:
        user = req.header("x-auth-user") or req.header("x-storage-user")
        key = req.header("x-auth-key") or req.header("x-storage-pass")
        if not user or not key:
            raise HTTPError(401)
        found = self.users.get(user)
        if found is None or not secrets.compare_digest(found.key, key):
            raise HTTPError(401)
        token = "AUTH_tk" + secrets.token_hex(16)
        expires = time.time() + self.token_life
        self.tokens[token] = (found, expires)
        if len(self.tokens) > 100000:
            now = time.time()
            self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}
        url = f"{base}/v1/{RESELLER_PREFIX}{found.account}"
        headers = {
            "X-Auth-Token": token,
            "X-Storage-Token": token,
            "X-Storage-Url": url,
            "X-Auth-Token-Expires": str(self.token_life),
        }
        return Response(200, b"", headers, content_type="text/plain; charset=UTF-8")

    def identity(self, token: str) -> Identity | None:
        entry = self.tokens.get(token)
        if entry is None or entry[1] < time.time():
            self.tokens.pop(token, None)
            return None
        user, _ = entry
        account = RESELLER_PREFIX + user.account
        admin = ".admin" in user.groups or ".reseller_admin" in user.groups
        return Identity(
            "tempauth",
            user_id=f"{user.account}:{user.user}",
            user_name=user.user,
            project_id=user.account,
            project_name=user.account,
            roles=user.groups,
            accounts=(account,) if admin else (),
            reseller=".reseller_admin" in user.groups,
        )


class AuthMiddleware:
    def __init__(self, app: App, service: ObjectService):
        self.app = app
        self.service = service
        conf = service.conf
        self.operator_roles = tuple(conf.operator_roles)
        self.reader_roles = tuple(conf.reader_roles)
        self.reseller_roles = tuple(conf.reseller_admin_roles)
        self.service_roles = tuple(conf.service_roles)
        self.tempauth = TempAuth(conf.tempauth_users)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        env = req.environ
        if req.path in (b"/auth/v1.0", b"/auth/v1", b"/v1.0", b"/auth/v1.0/"):
            try:
                response = self.tempauth.login(req, self.service.public_base(scope))
            except HTTPError as exc:
                response = exc.response()
            await response(scope, receive, send)
            return
        token = req.header("x-auth-token") or req.header("x-storage-token")
        identity = ANONYMOUS
        if token:
            found = await self._identify(token, req)
            if found is None:
                await Response(
                    401,
                    error_body(401),
                    {"Www-Authenticate": f'Swift realm="{req.path.decode("latin-1")}"'},
                    content_type="text/html; charset=UTF-8",
                )(scope, receive, send)
                return
            identity = found
            service_token = req.header("x-service-token")
            if service_token:
                other = await self._identify(service_token, req)
                identity.service = other is not None and any(
                    r in self.service_roles for r in other.roles
                )
        env["identity"] = identity
        env.setdefault("authorize", self.authorize)
        await self.app(scope, receive, send)

    async def _identify(self, token: str, req: Request) -> Identity | None:
        if token.startswith("AUTH_tk"):
            return self.tempauth.identity(token)
        validator = self.service.platform.token_validator
        if validator is None:
            return None
        try:
            ctx = await validator.context_for(token, req.environ.get("trans_id", ""))
        except Exception:
            return None
        if ctx.project_id is None:
            # domain- and system-scoped tokens own no account (a reseller admin still works)
            roles = tuple(ctx.roles)
            return Identity(
                "keystone",
                ctx.user_id,
                ctx.user_name,
                roles=roles,
                reseller=any(r in self.reseller_roles for r in roles),
            )
        roles = tuple(ctx.roles)
        account = RESELLER_PREFIX + ctx.project_id
        service_account = SERVICE_PREFIX + ctx.project_id
        owns = any(r in self.operator_roles for r in roles)
        reads = owns or any(r in self.reader_roles for r in roles)
        return Identity(
            "keystone",
            ctx.user_id,
            ctx.user_name,
            ctx.project_id,
            ctx.project_name,
            roles,
            accounts=(account, service_account) if owns else (),
            read_accounts=(account, service_account) if reads else (),
            reseller=any(r in self.reseller_roles for r in roles),
        )

    def authorize(
        self, req: Request, account: str, container_acls: dict[str, str] | None, *, target: str
    ) -> None:
        """Raise 401/403 unless the caller may do ``req.method`` on ``target`` (account,
        container or object) of ``account``; ``container_acls`` holds the container's
        ``read`` and ``write`` ACL strings when there is a container."""
        env = req.environ
        if env.get("authorize_override"):
            return
        identity: Identity = env.get("identity", ANONYMOUS)
        if not account.startswith((RESELLER_PREFIX, SERVICE_PREFIX)):
            raise HTTPError(403 if not identity.anonymous else 401)
        if identity.reseller:
            env["owner"] = True
            return
        if account.startswith(SERVICE_PREFIX) and not identity.service:
            raise HTTPError(403 if not identity.anonymous else 401)
        if account in identity.accounts:
            env["owner"] = True
            return
        reading = req.method in READ_METHODS
        if reading and account in identity.read_accounts:
            return
        if container_acls is not None and target in ("container", "object"):
            acl = parse_acl(container_acls.get("read" if reading else "write"))
            listing = target == "container"
            if (
                reading
                and req.method != "OPTIONS"
                and (not listing or acl.listings)
                and referrer_allowed(req.header("referer"), acl.referrers)
            ):
                return
            if (
                not identity.anonymous
                and (target == "object" or reading)
                and granted(
                    acl,
                    (identity.project_id, identity.project_name),
                    (identity.user_id, identity.user_name),
                    identity.roles,
                )
            ):
                return
        raise HTTPError(401 if identity.anonymous else 403)
