"""/v3/regions, /v3/services and /v3/endpoints: the service catalog."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import catalog
from onestack.identity.api import protected_router
from onestack.identity.api.common import (
    Caller,
    body_as,
    enforce,
    list_body,
    list_page,
    self_link,
)
from onestack.identity.manager import manager_of
from onestack.identity.models import Endpoint, Region, Service

router = protected_router()

#: Attributes never stored as free attributes (the server owns them).
_RESERVED = frozenset({"id", "links", "extra"})
Text = Field(None, max_length=65535)
URL_PATTERN = r"^[a-zA-Z0-9+.\-]+:.+"


class _Open(BaseModel):
    """A body that keeps unknown attributes, as Keystone's catalog schemas do."""

    model_config = ConfigDict(extra="allow")

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(known column values that were sent, free attributes)."""
        extra = {k: v for k, v in (self.model_extra or {}).items() if k not in _RESERVED}
        columns = self.model_dump(exclude_unset=True, exclude=set(self.model_extra or {}))
        return columns, extra


# -- regions ----------------------------------------------------------------------------------
class RegionFields(_Open):
    description: str | None = Text
    parent_region_id: str | None = Field(None, max_length=255)


class RegionCreateFields(RegionFields):
    id: str | None = Field(None, min_length=1, max_length=255)


class RegionCreate(BaseModel):
    region: RegionCreateFields


class RegionUpdate(BaseModel):
    region: RegionFields


def region_view(request: Request, r: Region) -> dict[str, Any]:
    return {
        **(r.extra or {}),
        "id": r.id,
        "description": r.description or "",
        "parent_region_id": r.parent_region_id,
        "links": self_link(request, f"regions/{r.id}"),
    }


async def _create_region(request: Request, region_id: str | None) -> Response:
    body = await body_as(request, RegionCreate)
    columns, extra = body.region.split()
    given = columns.pop("id", None)
    if region_id is not None and given is not None and given != region_id:
        raise BadRequest(f"Conflicting region IDs specified: {given} != {region_id}.")
    async with manager_of(request).write() as session:
        region = await catalog.create_region(
            session, region_id=region_id or given, extra=extra, **columns
        )
        return json({"region": region_view(request, region)}, status=201)


@router.get("/regions")
async def list_regions(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_regions")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("id",))
    async with mgr.read() as session:
        rows = await catalog.list_regions(
            session, page, parent_region_id=request.query_params.get("parent_region_id")
        )
        items = [region_view(request, r) for r in rows]
    return json(list_body(request, "regions", items, page))


@router.post("/regions")
async def create_region(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_region")
    return await _create_region(request, None)


@router.put("/regions/{region_id}")
async def create_region_with_id(
    request: Request, region_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:create_region")
    return await _create_region(request, region_id)


@router.get("/regions/{region_id}")
async def get_region(request: Request, region_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_region")
    async with manager_of(request).read() as session:
        region = await catalog.get_region(session, region_id)
        return json({"region": region_view(request, region)})


@router.patch("/regions/{region_id}")
async def update_region(request: Request, region_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:update_region")
    body = await body_as(request, RegionUpdate)
    columns, extra = body.region.split()
    async with manager_of(request).write() as session:
        region = await catalog.update_region(session, region_id, columns, extra)
        return json({"region": region_view(request, region)})


@router.delete("/regions/{region_id}")
async def delete_region(request: Request, region_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:delete_region")
    async with manager_of(request).write() as session:
        await catalog.delete_region(session, region_id)
    return no_content()


# -- services ---------------------------------------------------------------------------------
class ServiceFields(_Open):
    name: str | None = Field(None, max_length=255)
    description: str | None = Text
    enabled: StrictBool | None = None


class ServiceCreateFields(ServiceFields):
    type: str = Field(min_length=1, max_length=255)


class ServiceUpdateFields(ServiceFields):
    type: str | None = Field(None, min_length=1, max_length=255)


class ServiceCreate(BaseModel):
    service: ServiceCreateFields


class ServiceUpdate(BaseModel):
    service: ServiceUpdateFields


def service_view(request: Request, s: Service) -> dict[str, Any]:
    view: dict[str, Any] = {
        **(s.extra or {}),
        "id": s.id,
        "type": s.type,
        "enabled": s.enabled,
        "links": self_link(request, f"services/{s.id}"),
    }
    if s.name is not None:
        view["name"] = s.name
    if s.description is not None:
        view["description"] = s.description
    return view


def _not_null(columns: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if name in columns and columns[name] is None:
            raise BadRequest(f"Invalid input for field '{name}': it cannot be null.")
    return columns


@router.get("/services")
async def list_services(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_services")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("name", "type", "id"))
    q = request.query_params
    async with mgr.read() as session:
        rows = await catalog.list_services(session, page, type=q.get("type"), name=q.get("name"))
        items = [service_view(request, s) for s in rows]
    return json(list_body(request, "services", items, page))


@router.post("/services")
async def create_service(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_service")
    body = await body_as(request, ServiceCreate)
    columns, extra = body.service.split()
    columns = _not_null(columns, "enabled")
    async with manager_of(request).write() as session:
        service = await catalog.create_service(session, extra=extra, **columns)
        return json({"service": service_view(request, service)}, status=201)


@router.get("/services/{service_id}")
async def get_service(request: Request, service_id: str, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:get_service")
    async with manager_of(request).read() as session:
        service = await catalog.get_service(session, service_id)
        return json({"service": service_view(request, service)})


@router.patch("/services/{service_id}")
async def update_service(
    request: Request, service_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_service")
    body = await body_as(request, ServiceUpdate)
    columns, extra = body.service.split()
    columns = _not_null(columns, "enabled", "type")
    async with manager_of(request).write() as session:
        service = await catalog.update_service(session, service_id, columns, extra)
        return json({"service": service_view(request, service)})


@router.delete("/services/{service_id}")
async def delete_service(
    request: Request, service_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_service")
    async with manager_of(request).write() as session:
        await catalog.delete_service(session, service_id)
    return no_content()


# -- endpoints --------------------------------------------------------------------------------
class EndpointFields(_Open):
    enabled: StrictBool | None = None
    region_id: str | None = Field(None, max_length=255)
    #: The legacy name of region_id.
    region: str | None = Field(None, max_length=255)

    def columns(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The columns and free attributes; the legacy ``region`` alone (as v2-era clients
        send it) also sets ``ensure_region``: that region is created if missing, as Keystone
        does."""
        columns, extra = self.split()
        if "region" in columns:
            legacy = columns.pop("region")
            if columns.get("region_id") is not None:
                if columns["region_id"] != legacy:
                    raise BadRequest("region and region_id are both given and differ.")
            else:
                columns["region_id"] = legacy
                columns["ensure_region"] = bool(legacy)
        return _not_null(columns, "enabled", "service_id", "interface", "url"), extra


class EndpointCreateFields(EndpointFields):
    service_id: str = Field(min_length=1, max_length=64)
    interface: Literal["public", "internal", "admin"]
    url: str = Field(max_length=2048, pattern=URL_PATTERN)


class EndpointUpdateFields(EndpointFields):
    service_id: str | None = Field(None, min_length=1, max_length=64)
    interface: Literal["public", "internal", "admin"] | None = None
    url: str | None = Field(None, max_length=2048, pattern=URL_PATTERN)


class EndpointCreate(BaseModel):
    endpoint: EndpointCreateFields


class EndpointUpdate(BaseModel):
    endpoint: EndpointUpdateFields


def endpoint_view(request: Request, e: Endpoint) -> dict[str, Any]:
    return {
        **(e.extra or {}),
        "id": e.id,
        "interface": e.interface,
        "region": e.region_id,
        "region_id": e.region_id,
        "service_id": e.service_id,
        "url": e.url,
        "enabled": e.enabled,
        "links": self_link(request, f"endpoints/{e.id}"),
    }


@router.get("/endpoints")
async def list_endpoints(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_endpoints")
    mgr = manager_of(request)
    page = list_page(request, mgr, sortable=("interface", "service_id", "region_id", "id"))
    q = request.query_params
    async with mgr.read() as session:
        rows = await catalog.list_endpoints(
            session,
            page,
            service_id=q.get("service_id"),
            interface=q.get("interface"),
            region_id=q.get("region_id"),
        )
        items = [endpoint_view(request, e) for e in rows]
    return json(list_body(request, "endpoints", items, page))


@router.post("/endpoints")
async def create_endpoint(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:create_endpoint")
    body = await body_as(request, EndpointCreate)
    columns, extra = body.endpoint.columns()
    async with manager_of(request).write() as session:
        endpoint = await catalog.create_endpoint(session, extra=extra, **columns)
        return json({"endpoint": endpoint_view(request, endpoint)}, status=201)


@router.get("/endpoints/{endpoint_id}")
async def get_endpoint(
    request: Request, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:get_endpoint")
    async with manager_of(request).read() as session:
        endpoint = await catalog.get_endpoint(session, endpoint_id)
        return json({"endpoint": endpoint_view(request, endpoint)})


@router.patch("/endpoints/{endpoint_id}")
async def update_endpoint(
    request: Request, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:update_endpoint")
    body = await body_as(request, EndpointUpdate)
    columns, extra = body.endpoint.columns()
    async with manager_of(request).write() as session:
        endpoint = await catalog.update_endpoint(session, endpoint_id, columns, extra)
        return json({"endpoint": endpoint_view(request, endpoint)})


@router.delete("/endpoints/{endpoint_id}")
async def delete_endpoint(
    request: Request, endpoint_id: str, ctx: RequestContext = Caller
) -> Response:
    enforce(request, ctx, "identity:delete_endpoint")
    async with manager_of(request).write() as session:
        await catalog.delete_endpoint(session, endpoint_id)
    return no_content()
