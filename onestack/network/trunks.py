"""Trunks: a parent port carrying sub-ports on VLANs (``segmentation_type`` vlan)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing, ports
from onestack.network.attributes import (
    Attr,
    boolean,
    dict_of,
    integer,
    list_of,
    one_of,
    resource,
    uuid,
)
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import SubPort, Trunk, new_id

_subport = dict_of(
    {
        "port_id": uuid,
        "segmentation_type": one_of("vlan", "inherit"),
        "segmentation_id": integer(1, 4094),
    },
    required=("port_id",),
)
RES = resource(
    "trunk",
    "trunks",
    Trunk,
    Attr("port_id", "port_id", convert=uuid),
    Attr("admin_state_up", "admin_state_up", put=True, default=True, convert=boolean),
    Attr("status", "status", post=False),
    Attr("sub_ports", None, default=list, convert=list_of(_subport)),
)


def _sub_view(row: SubPort) -> dict[str, Any]:
    return {
        "port_id": row.port_id,
        "segmentation_type": row.segmentation_type,
        "segmentation_id": row.segmentation_id,
    }


async def _render(
    session: AsyncSession, rows: list[Trunk], fields: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    subs: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for sub in (
            await session.execute(select(SubPort).where(SubPort.trunk_id.in_(ids)))
        ).scalars():
            subs[sub.trunk_id].append(_sub_view(sub))
    tags = await crud.tags_of(session, ids)
    out = []
    for row in rows:
        item = crud.standard(row, tags[row.id])
        item.update(
            port_id=row.port_id,
            admin_state_up=row.admin_state_up,
            status=row.status,
            sub_ports=sorted(subs[row.id], key=lambda s: s["segmentation_id"]),
        )
        out.append(listing.select_fields(item, fields or ()))
    return out


async def get_visible(mgr: Any, session: AsyncSession, ctx: RequestContext, trunk_id: str) -> Trunk:
    stmt = select(Trunk).where(Trunk.id == trunk_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(Trunk.project_id == ctx.project_id)
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("TrunkNotFound", "Trunk", trunk_id)
    return row


async def _add(
    mgr: Any, session: AsyncSession, ctx: RequestContext, trunk: Trunk, subs: list[dict[str, Any]]
) -> None:
    for sub in subs:
        port = await ports.get_visible(mgr, session, ctx, sub["port_id"])
        if port.id == trunk.port_id:
            raise bad_request(
                f"Port {port.id} is the trunk's parent; it cannot be its sub-port.",
                "ParentPortInUse",
            )
        parent = (await session.execute(select(Trunk.id).where(Trunk.port_id == port.id))).first()
        if parent is not None:
            raise conflict(
                "PortInUseAsTrunkParent",
                f"Port {port.id} is currently a parent port for trunk {parent[0]}.",
            )
        if sub.get("segmentation_type", "vlan") != "inherit" and "segmentation_id" not in sub:
            raise bad_request(
                "Invalid input for operation: segmentation_id is required for "
                "segmentation_type vlan."
            )
        row = SubPort(
            port_id=port.id,
            trunk_id=trunk.id,
            segmentation_type=sub.get("segmentation_type", "vlan"),
            segmentation_id=sub.get("segmentation_id", 0),
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise conflict(
                "DuplicateSubPort",
                f"Segmentation type {row.segmentation_type} and "
                f"id {row.segmentation_id} or port {port.id} are already in use on a "
                "trunk.",
            ) from None


async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    mgr.enforce(ctx, "create_trunk", {"project_id": project})

    async def work(session: AsyncSession) -> dict[str, Any]:
        parent = await ports.get_visible(mgr, session, ctx, values["port_id"])
        used = (
            await session.execute(select(SubPort.trunk_id).where(SubPort.port_id == parent.id))
        ).first()
        if used is not None:
            raise conflict(
                "TrunkPortInUse", f"Port {parent.id} is in use by trunk {used[0]} as a sub-port."
            )
        row = Trunk(
            id=new_id(),
            project_id=project,
            port_id=parent.id,
            status="ACTIVE" if parent.status == "ACTIVE" else "DOWN",
        )
        crud.assign(row, RES, {k: v for k, v in values.items() if k != "port_id"})
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise conflict(
                "TrunkPortInUse", f"Port {parent.id} is already the parent of a trunk."
            ) from None
        await _add(mgr, session, ctx, row, values.get("sub_ports") or [])
        return (await _render(session, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "trunk", "create", {"trunk": out})
    return out


async def list_trunks(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(Trunk)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(Trunk.project_id == ctx.project_id)
        stmt = listing.apply_filters(RES, stmt, query.filters)
        rows = await listing.paginate(session, RES, stmt, query)
        items = await _render(session, rows, query.fields)
    return {"trunks": items, **listing.links(request, RES, rows, query)}


async def show(mgr: Any, ctx: RequestContext, trunk_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        return (await _render(session, [await get_visible(mgr, session, ctx, trunk_id)], fields))[0]


async def update(
    mgr: Any, ctx: RequestContext, trunk_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    if "sub_ports" in values:
        raise bad_request("Cannot update read-only attribute sub_ports")

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, trunk_id)
        mgr.enforce(ctx, "update_trunk", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        crud.assign(row, RES, values)
        crud.bump(row)
        await session.flush()
        return (await _render(session, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "trunk", "update", {"trunk": out})
    return out


async def delete_trunk(mgr: Any, ctx: RequestContext, trunk_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_visible(mgr, session, ctx, trunk_id)
        mgr.enforce(ctx, "delete_trunk", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        parent = await ports.get_visible(mgr, session, ctx, row.port_id)
        if parent.device_id and parent.binding_host_id:
            raise conflict("TrunkInUse", f"Trunk {row.id} is currently in use.")
        await crud.drop_tags(session, row.id)
        await session.execute(delete(Trunk).where(Trunk.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "trunk", "delete", {"trunk_id": trunk_id})


def _subports_of(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("sub_ports"), list):
        raise bad_request("Resource body required: {'sub_ports': [...]}.")
    return [
        dict_of(
            {
                "port_id": uuid,
                "segmentation_type": one_of("vlan", "inherit"),
                "segmentation_id": integer(1, 4094),
            }
        )(s)
        for s in body["sub_ports"]
    ]


async def change_subports(
    mgr: Any, ctx: RequestContext, trunk_id: str, body: Any, add: bool
) -> dict[str, Any]:
    subs = _subports_of(body)

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, trunk_id)
        mgr.enforce(ctx, "update_trunk", {"project_id": row.project_id})
        if add:
            await _add(mgr, session, ctx, row, subs)
        else:
            for sub in subs:
                gone = await session.execute(
                    delete(SubPort).where(
                        SubPort.trunk_id == row.id, SubPort.port_id == sub.get("port_id")
                    )
                )
                if getattr(gone, "rowcount", 0) == 0:
                    raise not_found(
                        "SubPortNotFound", f"SubPort {sub.get('port_id')} of trunk", row.id
                    )
        crud.bump(row)
        await session.flush()
        return (await _render(session, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "trunk", "update", {"trunk": out})
    return out


async def subports(mgr: Any, ctx: RequestContext, trunk_id: str) -> list[dict[str, Any]]:
    return list((await show(mgr, ctx, trunk_id, []))["sub_ports"])
