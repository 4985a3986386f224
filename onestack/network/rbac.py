"""RBAC policies: share a network, security group, address scope, subnet pool or address
group with one project or all (``access_as_shared``), or offer a network as external
(``access_as_external``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing, networks
from onestack.network.attributes import Attr, one_of, resource, string, uuid
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import (
    AddressGroup,
    AddressScope,
    Network,
    QosPolicy,
    RBACPolicy,
    SecurityGroup,
    SubnetPool,
    new_id,
)

OBJECTS = {
    "network": Network,
    "security_group": SecurityGroup,
    "address_scope": AddressScope,
    "subnetpool": SubnetPool,
    "address_group": AddressGroup,
    "qos_policy": QosPolicy,
}
ACTIONS = {"network": ("access_as_shared", "access_as_external")}

RES = resource(
    "rbac_policy",
    "rbac_policies",
    RBACPolicy,
    Attr("object_type", "object_type", convert=one_of(*OBJECTS)),
    Attr("object_id", "object_id", convert=uuid),
    Attr("action", "action", convert=one_of("access_as_shared", "access_as_external")),
    Attr("target_tenant", "target_project", put=True, convert=string(255)),
    Attr(
        "target_project_id",
        "target_project",
        put=True,
        default=None,
        convert=string(255, nullable=True),
    ),
    tags=False,
)
for _name in ("name", "description", "created_at", "updated_at", "revision_number"):
    RES.attrs.pop(_name)


def view(row: RBACPolicy) -> dict[str, Any]:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "action": row.action,
        "target_tenant": row.target_project,
        "target_project_id": row.target_project,
    }


def _visible(ctx: RequestContext) -> Any:
    return RBACPolicy.project_id == ctx.project_id


async def _get(mgr: Any, session: AsyncSession, ctx: RequestContext, policy_id: str) -> RBACPolicy:
    stmt = select(RBACPolicy).where(RBACPolicy.id == policy_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible(ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("RbacPolicyNotFound", "RBAC policy", policy_id)
    return row


async def _sync_flags(session: AsyncSession, object_type: str, object_id: str) -> None:
    """Keep the objects' ``shared`` / ``router:external`` columns equal to a wildcard rule."""
    model = OBJECTS[object_type]
    wild = set(
        (
            await session.execute(
                select(RBACPolicy.action).where(
                    RBACPolicy.object_type == object_type,
                    RBACPolicy.object_id == object_id,
                    RBACPolicy.target_project == "*",
                )
            )
        ).scalars()
    )
    values: dict[str, Any] = {}
    if hasattr(model, "shared"):
        values["shared"] = "access_as_shared" in wild
    if object_type == "network":
        values["router_external"] = "access_as_external" in wild
    if values:
        await session.execute(update(model).where(model.id == object_id).values(**values))


async def count_usage(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count()).select_from(RBACPolicy).where(RBACPolicy.project_id == project)
        )
    ).scalar_one()
    return {"rbac_policy": n}


async def create(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    target_project = values.get("target_project_id") or values.get("target_tenant")
    if not target_project:
        raise bad_request(
            "Failed to parse request. Required attribute 'target_tenant' not specified"
        )
    object_type, action = values["object_type"], values["action"]
    if action not in ACTIONS.get(object_type, ("access_as_shared",)):
        raise bad_request(
            f"Invalid input for operation: action {action} is not supported for {object_type}.",
            "InvalidActionForType",
        )
    mgr.enforce(ctx, "create_rbac_policy", {"project_id": project, "tenant_id": project})

    async def work(session: AsyncSession) -> dict[str, Any]:
        model = OBJECTS[object_type]
        obj = (await session.execute(select(model).where(model.id == values["object_id"]))).scalar()
        if obj is None or (obj.project_id != ctx.project_id and not mgr.is_admin(ctx)):
            raise not_found(
                f"{''.join(p.title() for p in object_type.split('_'))}NotFound",
                object_type.replace("_", " ").capitalize(),
                values["object_id"],
            )
        await mgr.quotas.enforce(session, project, {"rbac_policy": 1}, usage=count_usage)
        row = RBACPolicy(
            id=new_id(),
            project_id=project,
            object_type=object_type,
            object_id=obj.id,
            action=action,
            target_project=target_project,
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise conflict(
                "DuplicateRbacPolicy", "An RBAC policy already exists with those values."
            ) from None
        await _sync_flags(session, object_type, obj.id)
        return view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "rbac_policy", "create", {"rbac_policy": out})
    return out


async def list_policies(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(RBACPolicy)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible(ctx))
        stmt = listing.apply_filters(RES, stmt, query.filters)
        rows = await listing.paginate(session, RES, stmt, query)
    return {
        "rbac_policies": [listing.select_fields(view(r), query.fields) for r in rows],
        **listing.links(request, RES, rows, query),
    }


async def show(mgr: Any, ctx: RequestContext, policy_id: str, fields: list[str]) -> dict[str, Any]:
    async with mgr.read() as session:
        return listing.select_fields(view(await _get(mgr, session, ctx, policy_id)), fields)


async def _check_release(session: AsyncSession, row: RBACPolicy, target: str) -> None:
    if row.object_type != "network":
        return
    network = (await session.execute(select(Network).where(Network.id == row.object_id))).scalar()
    if network is None:
        return
    # another rule still granting the same access keeps dependants valid
    others = (
        await session.execute(
            select(RBACPolicy.id)
            .where(
                RBACPolicy.object_id == row.object_id,
                RBACPolicy.action == row.action,
                RBACPolicy.id != row.id,
                RBACPolicy.target_project.in_(["*", target]),
            )
            .limit(1)
        )
    ).first()
    if others is None:
        try:
            await networks.check_unshare(session, network, row.action, target)
        except Exception as exc:
            raise conflict(
                "RbacPolicyInUse",
                f"RBAC policy on object {row.object_id} cannot "
                "be removed because other objects depend on it.",
            ) from exc


async def update_policy(
    mgr: Any, ctx: RequestContext, policy_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await _get(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "update_rbac_policy", {"project_id": row.project_id})
        target = values.get("target_project_id") or values.get("target_tenant")
        if target and target != row.target_project:
            await _check_release(session, row, row.target_project)
            row.target_project = target
            await session.flush()
            await _sync_flags(session, row.object_type, row.object_id)
        return view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "rbac_policy", "update", {"rbac_policy": out})
    return out


async def delete_policy(
    mgr: Any, ctx: RequestContext, policy_id: str, if_match: str | None
) -> None:
    async def work(session: AsyncSession) -> None:
        row = await _get(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "delete_rbac_policy", {"project_id": row.project_id})
        await _check_release(session, row, row.target_project)
        await session.execute(delete(RBACPolicy).where(RBACPolicy.id == row.id))
        await _sync_flags(session, row.object_type, row.object_id)

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "rbac_policy", "delete", {"rbac_policy_id": policy_id})
