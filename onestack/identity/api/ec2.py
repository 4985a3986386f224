"""/v3/users/{user_id}/credentials/OS-EC2: a user's EC2 access/secret pairs.

They are ordinary credentials of type ``ec2`` (so ``/v3/credentials`` lists them too); in this
API a credential is named by its access key. ``POST /v3/ec2tokens`` is not implemented.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.pagination import page_links
from onestack.identity import credentials
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, list_page, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import Credential

router = protected_router()

PATH = "/users/{user_id}/credentials/OS-EC2"


class EC2Create(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(min_length=1, max_length=64)


def _target(user_id: str) -> dict[str, Any]:
    return {"target": {"credential": {"user_id": user_id}}}


def view(request: Request, c: Credential, blob: str) -> dict[str, Any]:
    data = orjson.loads(blob)
    access = data.get("access")
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": access,
        "secret": data.get("secret"),
        "trust_id": data.get("trust_id"),
        "links": self_link(request, f"users/{c.user_id}/credentials/OS-EC2/{access}"),
    }


@router.post(PATH)
async def create_ec2_credential(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:ec2_create_credential", _target(user_id))
    body = await body_as(request, EC2Create)
    mgr = manager_of(request)
    async with mgr.write() as session:
        cred, blob = await credentials.create_ec2_credential(
            session,
            mgr.credential_keys,
            user_id=user_id,
            project_id=body.tenant_id,
            trust_id=ctx.trust_id,
        )
        return json({"credential": view(request, cred, blob)}, status=201)


@router.get(PATH)
async def list_ec2_credentials(
    request: Request, user_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:ec2_list_credentials", _target(user_id))
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("id",))
    async with mgr.read() as session:
        rows = await credentials.list_credentials(
            session, page, user_id=user_id, type=credentials.EC2
        )
        items = [view(request, c, credentials.decrypt(mgr.credential_keys, c)) for c in rows]
    return json({"credentials": items, "links": page_links(request, rows, page)})


@router.get(PATH + "/{access}")
async def get_ec2_credential(
    request: Request, user_id: str, access: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:ec2_get_credential", _target(user_id))
    mgr = manager_of(request)
    async with mgr.read() as session:
        cred = await credentials.get_ec2_credential(session, user_id, access)
        blob = credentials.decrypt(mgr.credential_keys, cred)
        return json({"credential": view(request, cred, blob)})


@router.delete(PATH + "/{access}")
async def delete_ec2_credential(
    request: Request, user_id: str, access: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:ec2_delete_credential", _target(user_id))
    async with manager_of(request).write() as session:
        cred = await credentials.get_ec2_credential(session, user_id, access)
        await credentials.delete_credential(session, cred.id)
    return no_content()
