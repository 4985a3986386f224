"""POST /reshaper (1.30): move inventories and allocations in one transaction."""

from __future__ import annotations

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.responses import Response

from onestack.common.api import no_content
from onestack.common.context import RequestContext
from onestack.common.microversions import since
from onestack.placement import allocations
from onestack.placement import providers as rps
from onestack.placement.api import protected_router
from onestack.placement.api.allocations import _allocations_schema, _claim, _default_ids
from onestack.placement.api.common import UUID_SCHEMA, Caller, conflict, json_body, version
from onestack.placement.api.inventories import PUT_ALL, _wanted
from onestack.placement.inventories import of_provider, replace
from onestack.placement.manager import manager_of
from onestack.placement.models import allocations as allocation_rows
from onestack.placement.models import inventories

router = protected_router(dependencies=[Depends(since("1.30"))])


@router.post("/reshaper")
async def reshape(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:reshaper:reshape")
    v = version(request)
    schema = {
        "type": "object",
        "properties": {
            "inventories": {
                "type": "object",
                "patternProperties": {UUID_SCHEMA["pattern"]: PUT_ALL},
                "additionalProperties": False,
            },
            "allocations": {
                "type": "object",
                "patternProperties": {UUID_SCHEMA["pattern"]: _allocations_schema(v, many=True)},
                "additionalProperties": False,
            },
        },
        "required": ["inventories", "allocations"],
        "additionalProperties": False,
    }
    body = await json_body(request, schema)
    claims = [_claim(c, entry, v) for c, entry in body["allocations"].items()]
    for claim in claims:
        _default_ids(claim, ctx)
    async with mgr.write() as conn:
        touched: set[int] = set()
        for rp_uuid, entry in body["inventories"].items():
            rp = await rps.get(conn, rp_uuid)
            wanted = await _wanted(mgr, conn, entry["inventories"], v)
            current = await of_provider(conn, rp.id)
            names = {rc: await mgr.classes.name_of(conn, rc) for rc in {**current, **wanted}}
            await replace(
                conn,
                rp,
                entry["resource_provider_generation"],
                wanted,
                names=names,
                allow_in_use=True,
            )
            touched.add(rp.id)
        await allocations.write(mgr, conn, claims)
        if touched:
            orphan = (
                await conn.execute(
                    select(
                        allocation_rows.c.resource_provider_id, allocation_rows.c.resource_class_id
                    )
                    .outerjoin(
                        inventories,
                        (
                            inventories.c.resource_provider_id
                            == allocation_rows.c.resource_provider_id
                        )
                        & (inventories.c.resource_class_id == allocation_rows.c.resource_class_id),
                    )
                    .where(
                        allocation_rows.c.resource_provider_id.in_(sorted(touched)),
                        inventories.c.total.is_(None),
                    )
                    .limit(1)
                )
            ).first()
            if orphan is not None:
                name = await mgr.classes.name_of(conn, orphan[1])
                raise conflict(
                    f"Inventory for {name} is in use: allocations remain against "
                    f"an inventory the reshape removes.",
                    "placement.inventory.inuse",
                )
    return no_content()
