"""/v3/policies: the deprecated policy-blob store (``openstack policy ...``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import policy_blobs
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_body, list_page, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import PolicyBlob

router = protected_router()

#: Attributes of the wire format that are not free (extra) attributes.
RESERVED = ("id", "links", "blob", "type")


class PolicyFields(BaseModel):
    """Keystone accepts additional attributes on a policy and echoes them back."""

    model_config = ConfigDict(extra="allow")
    blob: str | None = Field(None, max_length=65535)
    type: str | None = Field(None, min_length=1, max_length=255)


class PolicyCreateFields(PolicyFields):
    blob: str = Field(max_length=65535)
    type: str = Field(min_length=1, max_length=255)


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: PolicyCreateFields


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: PolicyFields


def _extra(fields: PolicyFields) -> dict[str, Any]:
    """The free attributes of the body (``id`` and ``links`` are the server's, ignored)."""
    return {k: v for k, v in (fields.model_extra or {}).items() if k not in RESERVED}


def view(request: Request, p: PolicyBlob) -> dict[str, Any]:
    return {
        **(p.extra or {}),
        "id": p.id,
        "type": p.type,
        "blob": p.blob,
        "links": self_link(request, f"policies/{p.id}"),
    }


@router.get("/policies")
async def list_policies(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_policies", {})
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("type", "id"))
    async with mgr.read() as session:
        rows = await policy_blobs.list_policies(
            session, page, type=request.query_params.get("type")
        )
        items = [view(request, p) for p in rows]
    return json(list_body(request, "policies", items, page))


@router.post("/policies")
async def create_policy(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_policy", {})
    fields = (await body_as(request, PolicyCreate)).policy
    async with manager_of(request).write() as session:
        policy = await policy_blobs.create_policy(
            session, blob=fields.blob, type=fields.type, extra=_extra(fields)
        )
        return json({"policy": view(request, policy)}, status=201)


@router.get("/policies/{policy_id}")
async def get_policy(request: Request, policy_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_policy", {})
    async with manager_of(request).read() as session:
        policy = await policy_blobs.get_policy(session, policy_id)
        return json({"policy": view(request, policy)})


@router.patch("/policies/{policy_id}")
async def update_policy(request: Request, policy_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_policy", {})
    fields = (await body_as(request, PolicyUpdate)).policy
    changes = fields.model_dump(exclude_unset=True, include={"blob", "type"})
    for name in ("blob", "type"):
        if name in changes and changes[name] is None:
            raise BadRequest(f"Invalid input for field '{name}': it cannot be null.")
    async with manager_of(request).write() as session:
        policy = await policy_blobs.update_policy(session, policy_id, changes, _extra(fields))
        return json({"policy": view(request, policy)})


@router.delete("/policies/{policy_id}")
async def delete_policy(request: Request, policy_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_policy", {})
    async with manager_of(request).write() as session:
        await policy_blobs.delete_policy(session, policy_id)
    return no_content()
