"""The runnable Identity service: its app, manager, token provider and start-up."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onestack.common.api import LazyApp, create_app
from onestack.common.errors import keystone_format
from onestack.common.platform import Platform
from onestack.common.service import ServiceSpec
from onestack.identity.auth import Authenticator
from onestack.identity.manager import IdentityManager
from onestack.identity.tokens import TokenProvider

SPEC = ServiceSpec("identity", "/identity", "identity", "keystone")


class IdentityService:
    spec = SPEC

    def __init__(self, platform: Platform):
        settings = platform.settings
        self.settings = settings
        self.platform = platform
        self.manager = IdentityManager(settings)
        self.tokens = TokenProvider(self.manager)
        platform.token_validator = self.tokens
        self.authenticator = Authenticator(self.manager, self.tokens)
        self.app = LazyApp(self._build_app)

    def _build_app(self) -> FastAPI:
        from onestack.identity.api import (
            application_credentials,
            assignments,
            auth,
            catalog,
            credentials,
            domain_config,
            domains,
            ec2,
            endpoint_filter,
            federated_auth,
            federation,
            groups,
            limits,
            oauth1,
            passwords,
            policies_api,
            projects,
            revoke_events,
            roles,
            s3tokens,
            trusts,
            users,
            versions,
        )

        routers = (
            versions,
            auth,
            domain_config,
            domains,
            projects,
            users,
            groups,
            roles,
            assignments,
            catalog,
            credentials,
            ec2,
            application_credentials,
            trusts,
            policies_api,
            endpoint_filter,
            limits,
            passwords,
            revoke_events,
            oauth1,
            federation,
            federated_auth,
            s3tokens,
        )
        app = create_app(
            title="onestack identity",
            routers=[r for m in routers for r in getattr(m, "routers", (m.router,))],
            error_format=keystone_format,
            token_validator=self.tokens,
            policy=self.manager.policy,
            max_body=self.settings.max_request_body,
            state={
                "identity": self.manager,
                "tokens": self.tokens,
                "authenticator": self.authenticator,
            },
        )
        realm = f"{self.settings.base_url}{SPEC.prefix}"
        app.add_middleware(WWWAuthenticate, realm_of=lambda: realm)
        return app

    async def start(self) -> None:
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()


class WWWAuthenticate:
    """401 answers name the Identity endpoint to authenticate at, as Keystone's do."""

    def __init__(self, app: ASGIApp, realm_of: Callable[[], str]):
        self.app = app
        self.realm_of = realm_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                value = f'Keystone uri="{self.realm_of()}"'.encode()
                message["headers"] = [*message.get("headers", []), (b"www-authenticate", value)]
            await send(message)

        await self.app(scope, receive, send_with_header)
