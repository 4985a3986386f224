"""/v3/auth: issue, validate, check and revoke tokens; the caller's catalog and scopes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import NotFound
from onestack.identity import assignment, federation, revoke
from onestack.identity.api import public_router
from onestack.identity.api.common import (
    Caller,
    body_as,
    enforce,
    self_link,
    signed_request,
    truthy,
)
from onestack.identity.auth import AuthRequest
from onestack.identity.manager import manager_of
from onestack.identity.models import SYSTEM_TARGET, Assignment, Domain, Project
from onestack.identity.tokens import TokenInfo, TokenInvalid

router = public_router()
SUBJECT = "X-Subject-Token"


@router.post("/v3/auth/tokens")
async def issue_token(request: Request) -> Response:
    body = await body_as(request, AuthRequest)
    app = request.app.state
    token, info = await app.authenticator.authenticate(body, signed_request(request))
    catalog = (
        None
        if truthy(request.query_params.get("nocatalog"))
        else await app.tokens.catalog(info.payload.project_id)
    )
    return json(await with_sps(request, info.body(catalog)), status=201, headers={SUBJECT: token})


async def with_sps(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """A token with a catalog lists the enabled service providers (OS-FEDERATION)."""
    if "catalog" not in body["token"]:
        return body
    mgr = manager_of(request)

    async def load() -> list[dict[str, str]]:
        async with mgr.read() as session:
            return [
                {"id": sp.id, "auth_url": sp.auth_url, "sp_url": sp.sp_url}
                for sp in await federation.enabled_sps(session)
            ]

    sps = await mgr.memo(("enabled-service-providers",), load)  # until the next write
    if sps:
        body["token"]["service_providers"] = sps
    return body


async def _subject(request: Request, ctx: RequestContext, rule: str) -> tuple[str, TokenInfo]:
    subject = request.headers.get(SUBJECT)
    if not subject:
        raise NotFound("Could not find token: no X-Subject-Token given.")
    allow_expired = truthy(request.query_params.get("allow_expired"))
    try:
        info = await request.app.state.tokens.validate(subject, allow_expired=allow_expired)
    except TokenInvalid:
        # as Keystone: the token is looked up before the policy check that needs its owner
        raise NotFound(f"Could not find token: {subject[:16]}...") from None
    enforce(request, ctx, rule, {"target": {"token": {"user_id": info.user_id}}})
    return subject, info


@router.get("/v3/auth/tokens")
async def validate_token(request: Request, ctx: RequestContext = Caller) -> Response:
    subject, info = await _subject(request, ctx, "identity:validate_token")
    catalog = (
        None
        if truthy(request.query_params.get("nocatalog"))
        else await request.app.state.tokens.catalog(info.payload.project_id)
    )
    return json(await with_sps(request, info.body(catalog)), headers={SUBJECT: subject})


@router.head("/v3/auth/tokens")
async def check_token(request: Request, ctx: RequestContext = Caller) -> Response:
    subject, _info = await _subject(request, ctx, "identity:check_token")
    return Response(status_code=200, headers={SUBJECT: subject})


@router.delete("/v3/auth/tokens")
async def revoke_token(request: Request, ctx: RequestContext = Caller) -> Response:
    _subject_token, info = await _subject(request, ctx, "identity:revoke_token")
    async with manager_of(request).write() as session:
        await revoke.revoke(session, audit_id=info.payload.audit_ids[0])
    return no_content()


@router.get("/v3/auth/catalog")
async def auth_catalog(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_auth_catalog")
    if not (ctx.project_id or ctx.domain_id or ctx.system_scope):
        raise NotFound("The catalog is only available to scoped tokens.")
    catalog = await request.app.state.tokens.catalog(ctx.project_id)
    return json({"catalog": catalog, "links": self_link(request, "auth/catalog")})


def _federated_groups(ctx: RequestContext) -> list[str]:
    """The mapped groups a federated token carries (they count as the user's groups)."""
    token = getattr(ctx, "token", None)
    return list(getattr(getattr(token, "payload", None), "federated_group_ids", None) or [])


async def _actors(session: Any, ctx: RequestContext) -> list[str | None]:
    groups = await assignment.group_ids_of(session, ctx.user_id or "")
    return [ctx.user_id, *groups, *_federated_groups(ctx)]


async def _assigned_targets(
    request: Request, ctx: RequestContext, types: tuple[str, ...]
) -> set[str]:
    mgr = manager_of(request)
    async with mgr.read() as session:
        actors = await _actors(session, ctx)
        rows = await session.execute(
            select(Assignment.target_id).where(
                Assignment.actor_id.in_(actors), Assignment.type.in_(types)
            )
        )
        return set(rows.scalars())


@router.get("/v3/auth/projects")
@router.get("/v3/OS-FEDERATION/projects")
async def auth_projects(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_auth_projects")
    ids = await _assigned_targets(request, ctx, (assignment.USER_PROJECT, assignment.GROUP_PROJECT))
    mgr = manager_of(request)
    async with mgr.read() as session:
        domain_ids = await _assigned_targets(
            request, ctx, (assignment.USER_DOMAIN, assignment.GROUP_DOMAIN)
        )
        # inherited domain grants reach every project of the domain
        inherited = await session.execute(
            select(Assignment.target_id).where(
                Assignment.actor_id.in_(await _actors(session, ctx)),
                Assignment.type.in_((assignment.USER_DOMAIN, assignment.GROUP_DOMAIN)),
                Assignment.inherited.is_(True),
            )
        )
        inherit_domains = set(inherited.scalars()) & domain_ids
        stmt = select(Project).where(Project.enabled.is_(True))
        projects = [
            p
            for p in (await session.execute(stmt)).scalars()
            if p.id in ids or p.domain_id in inherit_domains
        ]
        enabled_domains = set(
            (await session.execute(select(Domain.id).where(Domain.enabled.is_(True)))).scalars()
        )
    body = [
        {
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "enabled": p.enabled,
            "is_domain": False,
            "description": p.description or "",
            "parent_id": p.parent_id or p.domain_id,
            "tags": [],
            "options": {},
            "links": self_link(request, f"projects/{p.id}"),
        }
        for p in sorted(projects, key=lambda p: p.name)
        if p.domain_id in enabled_domains
    ]
    return json({"projects": body, "links": self_link(request, request.url.path.split("/v3/")[-1])})


@router.get("/v3/auth/domains")
@router.get("/v3/OS-FEDERATION/domains")
async def auth_domains(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_auth_domains")
    ids = await _assigned_targets(request, ctx, (assignment.USER_DOMAIN, assignment.GROUP_DOMAIN))
    async with manager_of(request).read() as session:
        rows = (
            await session.execute(
                select(Domain)
                .where(Domain.id.in_(ids), Domain.enabled.is_(True))
                .order_by(Domain.name)
            )
        ).scalars()
        body = [
            {
                "id": d.id,
                "name": d.name,
                "enabled": d.enabled,
                "description": d.description or "",
                "tags": [],
                "options": d.options or {},
                "links": self_link(request, f"domains/{d.id}"),
            }
            for d in rows
        ]
    return json({"domains": body, "links": self_link(request, request.url.path.split("/v3/")[-1])})


@router.get("/v3/auth/system")
async def auth_system(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_auth_system")
    ids = await _assigned_targets(request, ctx, (assignment.USER_SYSTEM, assignment.GROUP_SYSTEM))
    system = [{"all": True}] if SYSTEM_TARGET in ids else []
    return json({"system": system, "links": self_link(request, "auth/system")})
