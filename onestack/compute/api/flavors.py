"""/v2.1/flavors: list, detail, show, create, update (description), delete, extra specs,
access lists."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.common.microversions import Version
from onestack.compute import flavors, views
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, base, body_of
from onestack.compute.core import core_of

router = protected_router()


def _number(
    body: dict[str, Any], key: str, *, minimum: int, default: Any = None, real: bool = False
) -> Any:
    value = body.get(key, default)
    if value is None or (value == "" and default is not None):
        return default
    if isinstance(value, str):
        try:
            value = float(value) if real else int(value)
        except ValueError:
            raise BadRequest(f"Invalid input for field/attribute {key}.") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (not real and not float(value).is_integer())
    ):
        raise BadRequest(f"Invalid input for field/attribute {key}.")
    if value < minimum or value > 2**31 - 1:
        raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
    return float(value) if real else int(value)


async def _list(request: Request, ctx: RequestContext, version: Version, detail: bool) -> Response:
    core = core_of(request)
    core.enforce(ctx, "flavors:index")
    async with core.read() as session:
        rows = await flavors.list_flavors(session, core, ctx, request.query_params)
    specs = core.allowed(ctx, "os-flavor-extra-specs:index")
    root = base(request)
    return json(
        {
            "flavors": [
                views.flavor_view(root, f, version, brief=not detail, show_specs=specs)
                for f in rows
            ]
        }
    )


@router.get("/flavors")
async def list_flavors(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return await _list(request, ctx, version, False)


@router.get("/flavors/detail")
async def list_flavors_detail(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    return await _list(request, ctx, version, True)


@router.get("/flavors/{flavor_id}")
async def show_flavor(
    request: Request, flavor_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "flavors:show")
    async with core.read() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
    specs = core.allowed(ctx, "os-flavor-extra-specs:index")
    return json({"flavor": views.flavor_view(base(request), flavor, version, show_specs=specs)})


@router.post("/flavors")
async def create_flavor(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-manage:create")
    body = await body_of(request, "flavor")
    for key in ("name", "ram", "vcpus", "disk"):
        if key not in body:
            raise BadRequest(
                f"Invalid input for field/attribute flavor: '{key}' is a required property"
            )
    if not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 255:
        raise BadRequest("Invalid input for field/attribute name.")
    if "description" in body:
        if version < (2, 55):
            raise BadRequest(
                "Invalid input for field/attribute flavor. Additional properties "
                "are not allowed ('description' was unexpected)"
            )
        if body["description"] is not None and (
            not isinstance(body["description"], str) or len(body["description"]) > 65535
        ):
            raise BadRequest("Invalid input for field/attribute description.")
    clean = dict(body)
    clean["ram"] = _number(body, "ram", minimum=1)
    clean["vcpus"] = _number(body, "vcpus", minimum=1)
    clean["disk"] = _number(body, "disk", minimum=0)
    clean["OS-FLV-EXT-DATA:ephemeral"] = _number(
        body, "OS-FLV-EXT-DATA:ephemeral", minimum=0, default=0
    )
    clean["swap"] = _number(body, "swap", minimum=0, default=0)
    clean["rxtx_factor"] = _number(body, "rxtx_factor", minimum=0, default=1.0, real=True)
    public = body.get("os-flavor-access:is_public", True)
    if not isinstance(public, bool):
        raise BadRequest("Invalid input for field/attribute os-flavor-access:is_public.")
    async with core.write() as session:
        flavor = await flavors.create(session, clean)
    return json({"flavor": views.flavor_view(base(request), flavor, version, show_specs=True)})


@router.put("/flavors/{flavor_id}")
async def update_flavor(
    request: Request, flavor_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    if version < (2, 55):
        raise NotFound("The resource could not be found.")
    core.enforce(ctx, "os-flavor-manage:update")
    body = await body_of(request, "flavor")
    if set(body) != {"description"}:
        raise BadRequest(
            "Invalid input for field/attribute flavor: only 'description' can be updated."
        )
    description = body["description"]
    if description is not None and (not isinstance(description, str) or len(description) > 65535):
        raise BadRequest("Invalid input for field/attribute description.")
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        flavor.description = description
    return json({"flavor": views.flavor_view(base(request), flavor, version, show_specs=True)})


@router.delete("/flavors/{flavor_id}")
async def delete_flavor(request: Request, flavor_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-manage:delete")
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        await flavors.destroy(session, flavor)
    return Response(status_code=202)


# -- extra specs ----------------------------------------------------------------------------
@router.get("/flavors/{flavor_id}/os-extra_specs")
async def list_specs(request: Request, flavor_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-extra-specs:index")
    async with core.read() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
    return json({"extra_specs": dict(flavor.extra_specs or {})})


@router.post("/flavors/{flavor_id}/os-extra_specs")
async def add_specs(request: Request, flavor_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-extra-specs:create")
    specs = flavors.check_extra_specs(await body_of(request, "extra_specs"))
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    return json({"extra_specs": specs})


@router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
async def show_spec(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-extra-specs:show")
    async with core.read() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
    if key not in (flavor.extra_specs or {}):
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return json({key: flavor.extra_specs[key]})


@router.put("/flavors/{flavor_id}/os-extra_specs/{key}")
async def update_spec(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-extra-specs:update")
    body = await body_of(request)
    if set(body) != {key}:
        raise BadRequest("Request body and URI mismatch")
    specs = flavors.check_extra_specs(body)
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    return json(specs)


@router.delete("/flavors/{flavor_id}/os-extra_specs/{key}")
async def delete_spec(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-extra-specs:delete")
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        if key not in (flavor.extra_specs or {}):
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        flavor.extra_specs = {k: v for k, v in flavor.extra_specs.items() if k != key}
    return Response(status_code=200)


# -- access ---------------------------------------------------------------------------------
def _access(flavor_id: str, projects: list[str]) -> Response:
    return json({"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]})


@router.get("/flavors/{flavor_id}/os-flavor-access")
async def list_access(request: Request, flavor_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-flavor-access")
    async with core.read() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        if flavor.is_public:
            raise NotFound("Access list not available for public flavors.")
        return _access(flavor_id, await flavors.access_list(session, flavor))


@router.post("/flavors/{flavor_id}/action")
async def flavor_action(request: Request, flavor_id: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    body = await body_of(request)
    name = next(iter(body), "")
    args = body.get(name)
    if (
        name not in ("addTenantAccess", "removeTenantAccess")
        or not isinstance(args, dict)
        or not isinstance(args.get("tenant"), str)
        or not args["tenant"]
    ):
        raise BadRequest(
            "Invalid flavor action: use addTenantAccess or removeTenantAccess with a 'tenant'."
        )
    core.enforce(
        ctx,
        "os-flavor-access:add_tenant_access"
        if name == "addTenantAccess"
        else "os-flavor-access:remove_tenant_access",
    )
    async with core.write() as session:
        flavor = await flavors.get(session, core, ctx, flavor_id)
        if name == "addTenantAccess":
            await flavors.add_access(session, flavor, args["tenant"])
        else:
            await flavors.remove_access(session, flavor, args["tenant"])
        await session.flush()
        return _access(flavor_id, await flavors.access_list(session, flavor))
