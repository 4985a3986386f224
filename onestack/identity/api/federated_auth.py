"""Federated authentication: a trusted front end's claims, or an OpenID Connect bearer token,
become a token (/v3/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/auth) or a
WebSSO page posting it to a trusted dashboard (/v3/auth/OS-FEDERATION/.../websso)."""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from onestack.common.api import json
from onestack.common.errors import BadRequest, Conflict, Unauthorized
from onestack.identity import federation
from onestack.identity.api import public_router
from onestack.identity.api.auth import SUBJECT
from onestack.identity.manager import manager_of
from onestack.identity.token_formatter import TokenPayload, new_audit_id
from onestack.identity.tokens import TokenInfo

router = public_router()  # authenticated by the front end's assertion or the bearer token
#: Request headers that are never assertion attributes.
NOT_ASSERTED = frozenset({"authorization", "cookie", "x-auth-token", "x-subject-token", "host"})


def assertion_of(request: Request) -> dict[str, str]:
    """The assertion attributes a trusted front end put in the request headers."""
    conf = manager_of(request).conf
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
        trusted = any(
            address in ipaddress.ip_network(net, strict=False)
            for net in conf.federation_trusted_proxies
        )
    except ValueError:
        trusted = False
    if not trusted:
        raise Unauthorized(
            "Federated authentication is accepted only through a trusted front end "
            "(identity.federation_trusted_proxies) or with an OpenID Connect bearer token "
            "(identity.federation_oidc_audience)."
        )
    prefix = conf.federation_assertion_prefix.lower()
    # as Keystone's assertion_prefix: it selects the attributes, their names stay whole
    return {
        name: value
        for name, value in request.headers.items()
        if name.lower().startswith(prefix) and name.lower() not in NOT_ASSERTED
    }


def _bearer(request: Request) -> str | None:
    """An OpenID Connect access token onestack checks itself, when it is configured to."""
    header = request.headers.get("authorization", "")
    if manager_of(request).conf.federation_oidc_audience and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


async def _oidc_assertion(request: Request, token: str, idp_id: str) -> dict[str, str]:
    from onestack.identity import oidc

    conf = manager_of(request).conf
    issuer = oidc.unverified_issuer(token)
    async with manager_of(request).read() as session:
        await federation.get_idp(session, idp_id)
        remote_ids = (await federation.remote_ids_of(session, [idp_id]))[idp_id]
    if issuer not in remote_ids:
        raise Unauthorized(f"The issuer {issuer} is not a remote id of identity provider {idp_id}.")
    claims = await oidc.verify(token, issuer, conf.federation_oidc_audience or "")
    return oidc.claims_as_assertion(claims, conf.federation_oidc_claim_prefix)


async def _federated_token(
    request: Request, idp_id: str, protocol_id: str, *, bearer_allowed: bool = False
) -> tuple[str, TokenInfo]:
    """A token for the assertion of a trusted front end, or for an OpenID Connect bearer
    token (on the authentication URL: a browser's WebSSO comes through the front end)."""
    mgr = manager_of(request)
    remote_id_attribute = mgr.conf.federation_remote_id_attribute
    bearer = _bearer(request) if bearer_allowed else None
    if bearer is not None:
        assertion = await _oidc_assertion(request, bearer, idp_id)
        remote_id_attribute = f"{mgr.conf.federation_oidc_claim_prefix}iss"
    else:
        assertion = assertion_of(request)
    for attempt in range(2):
        try:
            async with mgr.write() as session:
                who = await federation.authenticate(
                    session,
                    idp_id,
                    protocol_id,
                    assertion,
                    remote_id_attribute,
                    mgr.conf.federation_default_authorization_ttl,
                )
            break
        except Conflict:
            # a concurrent first login made the same shadow user (or project): use theirs
            if attempt:
                raise
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=mgr.conf.token_expiration)
    payload = TokenPayload(who.user_id, ["mapped"], expires, [new_audit_id()])
    if who.ephemeral:
        payload.idp_id, payload.protocol_id = who.idp_id, who.protocol_id
        payload.federated_group_ids = who.group_ids
    return await request.app.state.tokens.issue(payload)


@router.api_route(
    "/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/auth",
    methods=["GET", "POST"],
)
async def federated_auth(request: Request, idp_id: str, protocol_id: str) -> Response:
    token, info = await _federated_token(request, idp_id, protocol_id, bearer_allowed=True)
    return json(info.body(None), status=201, headers={SUBJECT: token})


def _origin(request: Request, form: dict[str, Any]) -> str:
    origin = request.query_params.get("origin") or form.get("origin")
    if not origin:
        raise BadRequest("Request must have an origin query parameter.")
    if origin not in manager_of(request).conf.federation_trusted_dashboards:
        raise Unauthorized(f"{origin} is not a trusted dashboard host.")
    return str(origin)


async def _form(request: Request) -> dict[str, Any]:
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        try:
            text = (await request.body()).decode()
        except UnicodeDecodeError:
            raise BadRequest("The form body is not UTF-8.") from None
        return {k: v[0] for k, v in parse_qs(text).items()}
    return {}


def _sso_page(origin: str, token: str) -> HTMLResponse:
    """A page that posts the token to the dashboard it came from."""
    action, value = html.escape(origin, quote=True), html.escape(token, quote=True)
    page = (
        "<!DOCTYPE html><html><head><title>Signing in</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{action}">'
        f'<input type="hidden" name="token" value="{value}">'
        '<noscript><button type="submit">Continue</button></noscript>'
        "</form></body></html>"
    )
    return HTMLResponse(page)


@router.api_route("/v3/auth/OS-FEDERATION/websso/{protocol_id}", methods=["GET", "POST"])
async def websso(request: Request, protocol_id: str) -> Response:
    """WebSSO without an identity provider: the assertion's remote id names it."""
    origin = _origin(request, await _form(request))
    assertion = assertion_of(request)
    mgr = manager_of(request)
    attribute = mgr.conf.federation_remote_id_attribute
    if not attribute:
        raise BadRequest(
            "WebSSO without an identity provider needs identity.federation_remote_id_attribute."
        )
    remote_id = next(
        (
            v
            for k, v in assertion.items()
            if k.upper().replace("-", "_") == attribute.upper().replace("-", "_")
        ),
        None,
    )
    if not remote_id:
        raise Unauthorized("Missing entity ID from environment.")
    async with mgr.read() as session:
        idp = await federation.idp_for_remote_id(session, remote_id)
    token, _ = await _federated_token(request, idp.id, protocol_id)
    return _sso_page(origin, token)


@router.api_route(
    "/v3/auth/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/websso",
    methods=["GET", "POST"],
)
async def websso_for_idp(request: Request, idp_id: str, protocol_id: str) -> Response:
    origin = _origin(request, await _form(request))
    token, _ = await _federated_token(request, idp_id, protocol_id)
    return _sso_page(origin, token)
