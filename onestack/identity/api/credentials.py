"""/v3/credentials: a user's credentials, blobs encrypted at rest."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import credentials
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import Credential

router = protected_router()

Id = Field(None, min_length=1, max_length=64)


class CredentialFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str | None = Id
    blob: str | None = Field(None, max_length=65535)
    type: str | None = Field(None, min_length=1, max_length=255)
    user_id: str | None = Id


class CredentialCreateFields(CredentialFields):
    blob: str = Field(max_length=65535)
    type: str = Field(min_length=1, max_length=255)
    user_id: str = Field(min_length=1, max_length=64)


class CredentialCreate(BaseModel):
    credential: CredentialCreateFields


class CredentialUpdate(BaseModel):
    credential: CredentialFields


def _target(user_id: str | None) -> dict[str, Any]:
    return {"target": {"credential": {"user_id": user_id}}}


def view(request: Request, c: Credential, blob: str) -> dict[str, Any]:
    return {
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.type,
        "blob": blob,
        "links": self_link(request, f"credentials/{c.id}"),
    }


@router.get("/credentials")
async def list_credentials(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    q = request.query_params
    user_id = q.get("user_id")
    if not mgr.policy.check(ctx, "identity:list_credentials", _target(None)):
        # not a reader of everyone's credentials: one's own only
        enforce(request, ctx, "identity:list_credentials", _target(ctx.user_id))
        if user_id is not None and user_id != ctx.user_id:
            return json(list_body(request, "credentials", [], list_page(request, mgr, ("id",))))
        user_id = ctx.user_id
    page = list_page(request, mgr, sortable=("type", "user_id", "id"))
    async with mgr.read() as session:
        rows = await credentials.list_credentials(
            session, page, user_id=user_id, type=q.get("type")
        )
        items = [view(request, c, credentials.decrypt(mgr.credential_keys, c)) for c in rows]
    return json(list_body(request, "credentials", items, page))


@router.post("/credentials")
async def create_credential(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await body_as(request, CredentialCreate)
    fields = body.credential
    enforce(request, ctx, "identity:create_credential", _target(fields.user_id))
    mgr = manager_of(request)
    async with mgr.write() as session:
        cred = await credentials.create_credential(
            session,
            mgr.credential_keys,
            user_id=fields.user_id,
            type=fields.type,
            blob=fields.blob,
            project_id=fields.project_id,
        )
        return json({"credential": view(request, cred, fields.blob)}, status=201)


@router.get("/credentials/{credential_id}")
async def get_credential(
    request: Request, credential_id: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    async with mgr.read() as session:
        cred = await credentials.get_credential(session, credential_id)
        enforce(request, ctx, "identity:get_credential", _target(cred.user_id))
        blob = credentials.decrypt(mgr.credential_keys, cred)
        return json({"credential": view(request, cred, blob)})


@router.patch("/credentials/{credential_id}")
async def update_credential(
    request: Request, credential_id: str, ctx: RequestContext = Caller
) -> Response:
    body = await body_as(request, CredentialUpdate)
    changes = body.credential.model_dump(exclude_unset=True)
    for name in ("user_id", "type", "blob"):
        if name in changes and changes[name] is None:
            raise BadRequest(f"Invalid input for field '{name}': it cannot be null.")
    mgr = manager_of(request)
    async with mgr.write() as session:
        cred = await credentials.get_credential(session, credential_id)
        enforce(request, ctx, "identity:update_credential", _target(cred.user_id))
        if changes.get("user_id", cred.user_id) != cred.user_id:
            # giving it away needs the same right over the new owner
            enforce(request, ctx, "identity:update_credential", _target(changes["user_id"]))
        cred = await credentials.update_credential(session, mgr.credential_keys, cred, changes)
        blob = credentials.decrypt(mgr.credential_keys, cred)
        return json({"credential": view(request, cred, blob)})


@router.delete("/credentials/{credential_id}")
async def delete_credential(
    request: Request, credential_id: str, ctx: RequestContext = Caller
) -> Response:
    async with manager_of(request).write() as session:
        cred = await credentials.get_credential(session, credential_id)
        enforce(request, ctx, "identity:delete_credential", _target(cred.user_id))
        await credentials.delete_credential(session, credential_id)
    return no_content()
