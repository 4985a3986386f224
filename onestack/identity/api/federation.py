"""/v3/OS-FEDERATION: identity providers, protocols, mappings, service providers; the
federated authentication and WebSSO endpoints."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import federation
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, body_as, enforce, self_link
from onestack.identity.api.ownership import flag
from onestack.identity.manager import manager_of
from onestack.identity.models import (
    FederationMapping,
    FederationProtocol,
    IdentityProvider,
    ServiceProvider,
)

router = protected_router()
FED = "OS-FEDERATION"
RemoteId = Annotated[str, Field(min_length=1, max_length=255)]


def _path_id(value: str, kind: str) -> str:
    if not 1 <= len(value) <= 64:
        raise BadRequest(f"The {kind} id must be 1 to 64 characters.")
    return value


def _same_id(fields: dict[str, Any], path_id: str) -> dict[str, Any]:
    """A body may repeat the id its path names (openstacksdk does), never another."""
    body_id = fields.pop("id", None)
    if body_id is not None and body_id != path_id:
        raise BadRequest(f"The body's id {body_id!r} differs from the path's {path_id!r}.")
    return fields


# -- identity providers -------------------------------------------------------------------------
class IdPFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=64)  # clients repeat the path's id
    description: str | None = Field(None, max_length=65535)
    enabled: StrictBool | None = None
    remote_ids: list[RemoteId] | None = Field(None, max_length=100)
    authorization_ttl: int | None = Field(None, ge=0, le=2**31 - 1)


class IdPCreateFields(IdPFields):
    domain_id: str | None = Field(None, min_length=1, max_length=64)


class IdPCreate(BaseModel):
    identity_provider: IdPCreateFields


class IdPUpdate(BaseModel):
    identity_provider: IdPFields


def idp_view(request: Request, idp: IdentityProvider, remote_ids: list[str]) -> dict[str, Any]:
    base = self_link(request, f"{FED}/identity_providers/{idp.id}")["self"]
    return {
        "id": idp.id,
        "domain_id": idp.domain_id,
        "description": idp.description,
        "enabled": idp.enabled,
        "remote_ids": remote_ids,
        "authorization_ttl": idp.authorization_ttl,
        "links": {"self": base, "protocols": f"{base}/protocols"},
    }


def _links(request: Request, path: str) -> dict[str, Any]:
    return {**self_link(request, path), "next": None, "previous": None}


@router.put("/OS-FEDERATION/identity_providers/{idp_id}")
async def create_idp(request: Request, idp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_identity_provider")
    _path_id(idp_id, "identity provider")
    body = await body_as(request, IdPCreate)
    fields = _same_id(
        body.identity_provider.model_dump(exclude_unset=True, exclude={"remote_ids"}), idp_id
    )
    if fields.get("enabled") is None:
        fields["enabled"] = False  # Keystone: disabled unless asked
    remote_ids = body.identity_provider.remote_ids or []
    async with manager_of(request).write() as session:
        idp = await federation.create_idp(session, idp_id, fields, remote_ids)
        ids = (await federation.remote_ids_of(session, [idp.id]))[idp.id]
        return json({"identity_provider": idp_view(request, idp, ids)}, status=201)


@router.get("/OS-FEDERATION/identity_providers")
async def list_idps(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_identity_providers")
    q = request.query_params
    async with manager_of(request).read() as session:
        rows = await federation.list_of(
            session, IdentityProvider, q.get("id"), flag(request, "enabled")
        )
        ids = await federation.remote_ids_of(session, [i.id for i in rows])
    items = [idp_view(request, i, ids[i.id]) for i in rows]
    return json(
        {"identity_providers": items, "links": _links(request, f"{FED}/identity_providers")}
    )


@router.get("/OS-FEDERATION/identity_providers/{idp_id}")
async def get_idp(request: Request, idp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_identity_provider")
    async with manager_of(request).read() as session:
        idp = await federation.get_idp(session, idp_id)
        ids = (await federation.remote_ids_of(session, [idp.id]))[idp.id]
    return json({"identity_provider": idp_view(request, idp, ids)})


@router.patch("/OS-FEDERATION/identity_providers/{idp_id}")
async def update_idp(request: Request, idp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_identity_provider")
    body = await body_as(request, IdPUpdate)
    fields = _same_id(
        body.identity_provider.model_dump(exclude_unset=True, exclude={"remote_ids"}), idp_id
    )
    if fields.get("enabled", True) is None:
        fields.pop("enabled")
    remote_ids = body.identity_provider.remote_ids
    if "remote_ids" in body.identity_provider.model_fields_set and remote_ids is None:
        remote_ids = []
    async with manager_of(request).write() as session:
        idp = await federation.update_idp(session, idp_id, fields, remote_ids)
        ids = (await federation.remote_ids_of(session, [idp.id]))[idp.id]
        return json({"identity_provider": idp_view(request, idp, ids)})


@router.delete("/OS-FEDERATION/identity_providers/{idp_id}")
async def delete_idp(request: Request, idp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_identity_provider")
    async with manager_of(request).write() as session:
        await federation.delete_idp(session, idp_id)
    return no_content()


# -- protocols ----------------------------------------------------------------------------------
class ProtocolFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=64)
    mapping_id: str | None = Field(None, min_length=1, max_length=64)
    remote_id_attribute: str | None = Field(None, min_length=1, max_length=64)


class ProtocolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol: ProtocolFields


def protocol_view(request: Request, p: FederationProtocol) -> dict[str, Any]:
    idp = self_link(request, f"{FED}/identity_providers/{p.idp_id}")["self"]
    body: dict[str, Any] = {
        "id": p.id,
        "mapping_id": p.mapping_id,
        "links": {"identity_provider": idp, "self": f"{idp}/protocols/{p.id}"},
    }
    if p.remote_id_attribute:
        body["remote_id_attribute"] = p.remote_id_attribute
    return body


PROTOCOL = "/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}"


@router.put(PROTOCOL)
async def create_protocol(
    request: Request, idp_id: str, protocol_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:create_protocol")
    _path_id(protocol_id, "protocol")
    body = await body_as(request, ProtocolBody)
    fields = _same_id(body.protocol.model_dump(exclude_unset=True), protocol_id)
    if not fields.get("mapping_id"):
        raise BadRequest("A protocol needs a mapping_id.")
    async with manager_of(request).write() as session:
        row = await federation.create_protocol(session, idp_id, protocol_id, fields)
        return json({"protocol": protocol_view(request, row)}, status=201)


@router.get("/OS-FEDERATION/identity_providers/{idp_id}/protocols")
async def list_protocols(request: Request, idp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_protocols")
    async with manager_of(request).read() as session:
        rows = await federation.list_protocols(session, idp_id)
    path = f"{FED}/identity_providers/{idp_id}/protocols"
    return json(
        {"protocols": [protocol_view(request, p) for p in rows], "links": _links(request, path)}
    )


@router.get(PROTOCOL)
async def get_protocol(
    request: Request, idp_id: str, protocol_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_protocol")
    async with manager_of(request).read() as session:
        row = await federation.get_protocol(session, idp_id, protocol_id)
    return json({"protocol": protocol_view(request, row)})


@router.patch(PROTOCOL)
async def update_protocol(
    request: Request, idp_id: str, protocol_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_protocol")
    body = await body_as(request, ProtocolBody)
    changes = _same_id(body.protocol.model_dump(exclude_unset=True), protocol_id)
    if "mapping_id" in changes and not changes["mapping_id"]:
        raise BadRequest("A protocol needs a mapping_id.")
    async with manager_of(request).write() as session:
        row = await federation.update_protocol(session, idp_id, protocol_id, changes)
        return json({"protocol": protocol_view(request, row)})


@router.delete(PROTOCOL)
async def delete_protocol(
    request: Request, idp_id: str, protocol_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_protocol")
    async with manager_of(request).write() as session:
        await federation.delete_protocol(session, idp_id, protocol_id)
    return no_content()


# -- mappings -----------------------------------------------------------------------------------
class MappingFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=64)
    rules: list[Any] | None = None
    schema_version: str | None = Field(None, max_length=16)


class MappingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: MappingFields


def mapping_view(request: Request, m: FederationMapping) -> dict[str, Any]:
    return {
        "id": m.id,
        "rules": m.rules,
        "schema_version": m.schema_version,
        "links": self_link(request, f"{FED}/mappings/{m.id}"),
    }


@router.put("/OS-FEDERATION/mappings/{mapping_id}")
async def create_mapping(
    request: Request, mapping_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:create_mapping")
    _path_id(mapping_id, "mapping")
    body = await body_as(request, MappingBody)
    _same_id({"id": body.mapping.id}, mapping_id)
    if body.mapping.rules is None:
        raise BadRequest("A mapping needs rules.")
    async with manager_of(request).write() as session:
        row = await federation.create_mapping(
            session, mapping_id, body.mapping.rules, body.mapping.schema_version or "1.0"
        )
        return json({"mapping": mapping_view(request, row)}, status=201)


@router.get("/OS-FEDERATION/mappings")
async def list_mappings(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_mappings")
    async with manager_of(request).read() as session:
        rows = await federation.list_of(session, FederationMapping)
    items = [mapping_view(request, m) for m in rows]
    return json({"mappings": items, "links": _links(request, f"{FED}/mappings")})


@router.get("/OS-FEDERATION/mappings/{mapping_id}")
async def get_mapping(request: Request, mapping_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_mapping")
    async with manager_of(request).read() as session:
        row = await federation.get_mapping(session, mapping_id)
    return json({"mapping": mapping_view(request, row)})


@router.patch("/OS-FEDERATION/mappings/{mapping_id}")
async def update_mapping(
    request: Request, mapping_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_mapping")
    body = await body_as(request, MappingBody)
    _same_id({"id": body.mapping.id}, mapping_id)
    async with manager_of(request).write() as session:
        row = await federation.update_mapping(
            session, mapping_id, body.mapping.rules, body.mapping.schema_version
        )
        return json({"mapping": mapping_view(request, row)})


@router.delete("/OS-FEDERATION/mappings/{mapping_id}")
async def delete_mapping(
    request: Request, mapping_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_mapping")
    async with manager_of(request).write() as session:
        await federation.delete_mapping(session, mapping_id)
    return no_content()


# -- service providers --------------------------------------------------------------------------
def _http_url(value: str | None) -> str | None:
    if value is None:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


class SPFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=64)
    auth_url: str | None = Field(None, max_length=256)
    sp_url: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=65535)
    enabled: StrictBool | None = None
    relay_state_prefix: str | None = Field(None, min_length=1, max_length=256)

    _urls = field_validator("auth_url", "sp_url")(_http_url)


class SPBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_provider: SPFields


def sp_view(request: Request, sp: ServiceProvider) -> dict[str, Any]:
    return {
        "id": sp.id,
        "auth_url": sp.auth_url,
        "sp_url": sp.sp_url,
        "description": sp.description,
        "enabled": sp.enabled,
        "relay_state_prefix": sp.relay_state_prefix,
        "links": self_link(request, f"{FED}/service_providers/{sp.id}"),
    }


@router.put("/OS-FEDERATION/service_providers/{sp_id}")
async def create_sp(request: Request, sp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_service_provider")
    _path_id(sp_id, "service provider")
    body = await body_as(request, SPBody)
    fields = _same_id(
        {k: v for k, v in body.service_provider.model_dump().items() if v is not None}, sp_id
    )
    if "auth_url" not in fields or "sp_url" not in fields:
        raise BadRequest("A service provider needs an auth_url and an sp_url.")
    fields.setdefault("enabled", False)
    async with manager_of(request).write() as session:
        sp = await federation.create_sp(session, sp_id, fields)
        return json({"service_provider": sp_view(request, sp)}, status=201)


@router.get("/OS-FEDERATION/service_providers")
async def list_sps(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_service_providers")
    q = request.query_params
    async with manager_of(request).read() as session:
        rows = await federation.list_of(
            session, ServiceProvider, q.get("id"), flag(request, "enabled")
        )
    items = [sp_view(request, sp) for sp in rows]
    return json({"service_providers": items, "links": _links(request, f"{FED}/service_providers")})


@router.get("/OS-FEDERATION/service_providers/{sp_id}")
async def get_sp(request: Request, sp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_service_provider")
    async with manager_of(request).read() as session:
        sp = await federation.get_sp(session, sp_id)
    return json({"service_provider": sp_view(request, sp)})


@router.patch("/OS-FEDERATION/service_providers/{sp_id}")
async def update_sp(request: Request, sp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_service_provider")
    body = await body_as(request, SPBody)
    changes = _same_id(body.service_provider.model_dump(exclude_unset=True), sp_id)
    for key in ("auth_url", "sp_url", "relay_state_prefix", "enabled"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null.")
    async with manager_of(request).write() as session:
        sp = await federation.update_sp(session, sp_id, changes)
        return json({"service_provider": sp_view(request, sp)})


@router.delete("/OS-FEDERATION/service_providers/{sp_id}")
async def delete_sp(request: Request, sp_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_service_provider")
    async with manager_of(request).write() as session:
        await federation.delete_sp(session, sp_id)
    return no_content()
