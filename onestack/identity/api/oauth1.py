"""/v3/OS-OAUTH1: consumers, request tokens, authorization, access tokens."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.identity import oauth1
from onestack.identity.api import protected_router, public_router
from onestack.identity.api.common import Caller, body_as, enforce, self_link, signed_request
from onestack.identity.manager import manager_of
from onestack.identity.models import OAuthAccessToken, OAuthConsumer, Role
from onestack.identity.views import isotime

router = protected_router()
signed = public_router()  # authenticated by the OAuth signature, not by a token
routers = (router, signed)
FORM = "application/x-www-form-urlencoded"
RESERVED = frozenset({"id", "links", "secret"})


class ConsumerFields(BaseModel):
    """Keystone keeps any other attribute of a consumer."""

    model_config = ConfigDict(extra="allow")
    description: str | None = Field(None, max_length=65535)


class ConsumerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consumer: ConsumerFields


class RoleRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=255)


class AuthorizeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: Annotated[list[RoleRef], Field(min_length=1, max_length=100)]


def consumer_view(request: Request, c: OAuthConsumer, secret: str | None = None) -> dict[str, Any]:
    body = {
        **{k: v for k, v in (c.extra or {}).items() if k not in RESERVED},
        "id": c.id,
        "description": c.description,
        "links": self_link(request, f"OS-OAUTH1/consumers/{c.id}"),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def _free(fields: ConsumerFields) -> dict[str, Any]:
    extra = dict(fields.model_extra or {})
    if "secret" in extra:
        raise BadRequest("Cannot change the consumer secret.")
    bad = set(extra) & RESERVED
    if bad:
        raise BadRequest(f"Cannot set {sorted(bad)[0]!r} on a consumer.")
    return extra


# -- consumers ----------------------------------------------------------------------------------
@router.post("/OS-OAUTH1/consumers")
async def create_consumer(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_consumer")
    body = await body_as(request, ConsumerBody)
    extra = _free(body.consumer)
    mgr = manager_of(request)
    async with mgr.write() as session:
        consumer, secret = await oauth1.create_consumer(
            session, mgr.credential_keys, body.consumer.description, extra
        )
        return json({"consumer": consumer_view(request, consumer, secret)}, status=201)


@router.get("/OS-OAUTH1/consumers")
async def list_consumers(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_consumers")
    async with manager_of(request).read() as session:
        rows = await oauth1.list_consumers(session)
        items = [consumer_view(request, c) for c in rows]
    return json({"consumers": items, "links": _links(request, "OS-OAUTH1/consumers")})


@router.get("/OS-OAUTH1/consumers/{consumer_id}")
async def get_consumer(
    request: Request, consumer_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_consumer")
    async with manager_of(request).read() as session:
        consumer = await oauth1.get_consumer(session, consumer_id)
        return json({"consumer": consumer_view(request, consumer)})


@router.patch("/OS-OAUTH1/consumers/{consumer_id}")
async def update_consumer(
    request: Request, consumer_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_consumer")
    body = await body_as(request, ConsumerBody)
    changes = _free(body.consumer)
    if "description" in body.consumer.model_fields_set:
        changes["description"] = body.consumer.description
    async with manager_of(request).write() as session:
        consumer = await oauth1.update_consumer(session, consumer_id, changes)
        return json({"consumer": consumer_view(request, consumer)})


@router.delete("/OS-OAUTH1/consumers/{consumer_id}")
async def delete_consumer(
    request: Request, consumer_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_consumer")
    async with manager_of(request).write() as session:
        await oauth1.delete_consumer(session, consumer_id)
    return no_content()


# -- the signed flow ----------------------------------------------------------------------------
async def _form_body(request: Request) -> str | None:
    """A form body is part of what the signature covers; other bodies are not."""
    if request.headers.get("content-type", "").startswith(FORM):
        raw = await request.body()
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise BadRequest("The form body is not UTF-8.") from None
    return None


def _token_answer(key: str, secret: str, expires_at: Any) -> Response:
    fields: dict[str, str | None] = {"oauth_token": key, "oauth_token_secret": secret}
    if expires_at is not None:
        fields["oauth_expires_at"] = isotime(expires_at)
    return Response(urlencode(fields), status_code=201, media_type=FORM)


@signed.post("/v3/OS-OAUTH1/request_token")
async def create_request_token(request: Request) -> Response:
    mgr = manager_of(request)
    req = signed_request(request, await _form_body(request))
    project_id = request.headers.get("requested-project-id")
    async with mgr.write() as session:
        token, secret = await oauth1.create_request_token(
            session, mgr.credential_keys, req, project_id, mgr.conf.oauth1_request_token_duration
        )
        return _token_answer(token.id, secret, token.expires_at)


@signed.post("/v3/OS-OAUTH1/access_token")
async def create_access_token(request: Request) -> Response:
    mgr = manager_of(request)
    req = signed_request(request, await _form_body(request))
    async with mgr.write() as session:
        token, secret = await oauth1.create_access_token(
            session, mgr.credential_keys, req, mgr.conf.oauth1_access_token_duration
        )
        return _token_answer(token.id, secret, token.expires_at)


@router.put("/OS-OAUTH1/authorize/{request_token_id}")
async def authorize_request_token(
    request: Request, request_token_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:authorize_request_token")
    oauth1.refuse_delegated(ctx)
    body = await body_as(request, AuthorizeBody)
    if any(not (r.id or r.name) for r in body.roles):
        raise BadRequest("Each role needs an id or a name.")
    refs = [r.model_dump(exclude_none=True) for r in body.roles]
    async with manager_of(request).write() as session:
        verifier = await oauth1.authorize(session, request_token_id, ctx.user_id or "", refs)
    return json({"token": {"oauth_verifier": verifier}})


# -- a user's access tokens ---------------------------------------------------------------------
def _user_target(user_id: str) -> dict[str, Any]:
    return {"target": {"user": {"id": user_id}}}


def access_view(request: Request, a: OAuthAccessToken) -> dict[str, Any]:
    return {
        "id": a.id,
        "consumer_id": a.consumer_id,
        "project_id": a.project_id,
        "authorizing_user_id": a.authorizing_user_id,
        "expires_at": isotime(a.expires_at),
        "links": self_link(
            request, f"users/{a.authorizing_user_id}/OS-OAUTH1/access_tokens/{a.id}"
        ),
    }


def role_view(request: Request, r: Role) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": None,
        "links": self_link(request, f"roles/{r.id}"),
    }


def _links(request: Request, path: str) -> dict[str, Any]:
    return {**self_link(request, path), "next": None, "previous": None}


@router.get("/users/{user_id}/OS-OAUTH1/access_tokens")
async def list_access_tokens(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_access_tokens", _user_target(user_id))
    oauth1.refuse_delegated(ctx, "list access tokens")
    async with manager_of(request).read() as session:
        rows = await oauth1.user_access_tokens(session, user_id)
    items = [access_view(request, a) for a in rows]
    path = f"users/{user_id}/OS-OAUTH1/access_tokens"
    return json({"access_tokens": items, "links": _links(request, path)})


@router.get("/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}")
async def get_access_token(
    request: Request, user_id: str, access_token_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_access_token", _user_target(user_id))
    async with manager_of(request).read() as session:
        access = await oauth1.get_access_token(session, user_id, access_token_id)
    return json({"access_token": access_view(request, access)})


@router.delete("/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}")
async def delete_access_token(
    request: Request, user_id: str, access_token_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_access_token", _user_target(user_id))
    async with manager_of(request).write() as session:
        await oauth1.delete_access_token(session, user_id, access_token_id)
    return no_content()


@router.get("/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles")
async def list_access_token_roles(
    request: Request, user_id: str, access_token_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:list_access_token_roles", _user_target(user_id))
    async with manager_of(request).read() as session:
        access = await oauth1.get_access_token(session, user_id, access_token_id)
        roles = await oauth1.roles_of(session, access)
    path = f"users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles"
    return json({"roles": [role_view(request, r) for r in roles], "links": _links(request, path)})


@router.get("/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}")
async def get_access_token_role(
    request: Request,
    user_id: str,
    access_token_id: str,
    role_id: str,
    ctx: RequestContext = Caller,
) -> Response:
    enforce(request, ctx, "identity:get_access_token_role", _user_target(user_id))
    async with manager_of(request).read() as session:
        access = await oauth1.get_access_token(session, user_id, access_token_id)
        role = next((r for r in await oauth1.roles_of(session, access) if r.id == role_id), None)
    if role is None:
        raise NotFound(f"Could not find role: {role_id}.")
    return json({"role": role_view(request, role)})
