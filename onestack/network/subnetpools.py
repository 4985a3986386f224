"""Subnet pools and address scopes: prefixes subnets are carved from, and the scopes that
group pools of one address family."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing
from onestack.network.attributes import (
    Attr,
    boolean,
    cidr,
    integer,
    list_of,
    one_of,
    resource,
    uuid_or_none,
)
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import AddressScope, RBACPolicy, Subnet, SubnetPool, new_id
from onestack.network.policies import ADMIN_SET

POOLS = resource(
    "subnetpool",
    "subnetpools",
    SubnetPool,
    Attr("prefixes", "prefixes", put=True, convert=list_of(cidr), filter=False, sort=False),
    Attr("ip_version", "ip_version", post=False),
    Attr(
        "default_prefixlen",
        "default_prefixlen",
        put=True,
        default=None,
        convert=integer(0, 128, nullable=True),
    ),
    Attr(
        "min_prefixlen",
        "min_prefixlen",
        put=True,
        default=None,
        convert=integer(0, 128, nullable=True),
    ),
    Attr(
        "max_prefixlen",
        "max_prefixlen",
        put=True,
        default=None,
        convert=integer(0, 128, nullable=True),
    ),
    Attr("shared", "shared", default=False, convert=boolean),
    Attr("is_default", "is_default", put=True, default=False, convert=boolean),
    Attr("address_scope_id", "address_scope_id", put=True, default=None, convert=uuid_or_none),
    Attr(
        "default_quota", "default_quota", put=True, default=None, convert=integer(0, nullable=True)
    ),
)
SCOPES = resource(
    "address_scope",
    "address_scopes",
    AddressScope,
    Attr("ip_version", "ip_version", convert=one_of(4, 6)),
    Attr("shared", "shared", put=True, default=False, convert=boolean),
)


def _visible(model: Any, object_type: str, ctx: RequestContext) -> Any:
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == object_type,
        RBACPolicy.target_project.in_([t for t in ("*", ctx.project_id) if t]),
    )
    return or_(model.project_id == ctx.project_id, model.shared, model.id.in_(rbac))


async def get_visible(
    mgr: Any, session: AsyncSession, ctx: RequestContext, pool_id: str, *, for_update: bool = False
) -> SubnetPool:
    stmt = select(SubnetPool).where(SubnetPool.id == pool_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible(SubnetPool, "subnetpool", ctx))
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("SubnetPoolNotFound", "Subnet pool", pool_id)
    return row


async def get_scope(
    mgr: Any, session: AsyncSession, ctx: RequestContext, scope_id: str
) -> AddressScope:
    stmt = select(AddressScope).where(AddressScope.id == scope_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible(AddressScope, "address_scope", ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("AddressScopeNotFound", "Address scope", scope_id)
    return row


def pool_view(row: SubnetPool, tags: list[str]) -> dict[str, Any]:
    out = crud.standard(row, tags)
    out.update(
        prefixes=list(row.prefixes),
        ip_version=row.ip_version,
        default_prefixlen=row.default_prefixlen,
        min_prefixlen=row.min_prefixlen,
        max_prefixlen=row.max_prefixlen,
        shared=row.shared,
        is_default=row.is_default,
        address_scope_id=row.address_scope_id,
        default_quota=row.default_quota,
    )
    return out


def scope_view(row: AddressScope, tags: list[str]) -> dict[str, Any]:
    out = crud.standard(row, tags)
    out.update(ip_version=row.ip_version, shared=row.shared)
    return out


def _collapse(prefixes: list[str]) -> tuple[int, list[str]]:
    nets = [ipaddress.ip_network(p) for p in prefixes]
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise bad_request(
            "Invalid input for operation: the prefixes of a subnet pool must be of one IP version.",
            "PrefixVersionMismatch",
        )
    return versions.pop(), [str(n) for n in ipaddress.collapse_addresses(nets)]  # type: ignore[arg-type]


def _lengths(row: SubnetPool) -> None:
    top = 32 if row.ip_version == 4 else 128
    smallest_prefix = min(ipaddress.ip_network(p).prefixlen for p in row.prefixes)
    row.min_prefixlen = row.min_prefixlen if row.min_prefixlen is not None else smallest_prefix
    row.max_prefixlen = row.max_prefixlen if row.max_prefixlen is not None else top
    row.default_prefixlen = (
        row.default_prefixlen if row.default_prefixlen is not None else row.min_prefixlen
    )
    if not (row.min_prefixlen <= row.default_prefixlen <= row.max_prefixlen <= top):
        raise bad_request(
            "Illegal prefix bounds: min_prefixlen <= default_prefixlen <= "
            f"max_prefixlen <= {top} must hold.",
            "IllegalSubnetPoolPrefixBounds",
        )


#: ``default_quota`` counts addresses (/32s) in IPv4 pools and /64 prefixes in IPv6 ones.
QUOTA_UNIT = {4: 32, 6: 64}


def _check_quota(pool: SubnetPool, mine: list[Any], length: int) -> None:
    """Refuse a /``length`` that would take ``project``'s prefix space in ``pool`` (``mine``,
    its subnets there) over the pool's ``default_quota`` (none, or 0: no quota)."""
    if not pool.default_quota:
        return
    unit = QUOTA_UNIT[pool.ip_version]
    used = sum(2 ** max(0, unit - n.prefixlen) for n in mine)
    if used + 2 ** max(0, unit - length) > pool.default_quota:
        raise conflict("SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded.")


async def carve(
    session: AsyncSession,
    pool: SubnetPool,
    wanted: str | None,
    prefixlen: int | None,
    project: str,
) -> Any:
    """A free prefix of ``pool`` for ``project``: the requested CIDR if it is inside and free,
    else the first free one of ``prefixlen`` (the pool's default), within the project's quota
    of the pool (``default_quota``)."""
    rows = (
        await session.execute(
            select(Subnet.cidr, Subnet.project_id).where(Subnet.subnetpool_id == pool.id)
        )
    ).all()
    used = [ipaddress.ip_network(c) for c, _ in rows]
    mine = [ipaddress.ip_network(c) for c, owner in rows if owner == project]
    if wanted:
        net = ipaddress.ip_network(cidr(wanted))
        if not any(net.subnet_of(ipaddress.ip_network(p)) for p in pool.prefixes):  # type: ignore[arg-type]
            raise bad_request(f"Cidr {net} is not within the prefixes of subnet pool {pool.id}.")
        if any(net.overlaps(u) for u in used):
            raise conflict(
                "SubnetAllocationError",
                f"Failed to allocate subnet: {net} is already in use in the subnet pool.",
            )
        _check_quota(pool, mine, net.prefixlen)
        return net
    length = pool.default_prefixlen if prefixlen is None else prefixlen
    if not pool.min_prefixlen <= length <= pool.max_prefixlen:
        raise bad_request(
            f"Unable to allocate subnet with prefix length {length}, the pool "
            f"allows {pool.min_prefixlen} through {pool.max_prefixlen}.",
            "IllegalSubnetPoolPrefixLength",
        )
    _check_quota(pool, mine, length)
    for prefix in pool.prefixes:
        base = ipaddress.ip_network(prefix)
        if base.prefixlen > length:
            continue
        for candidate in base.subnets(new_prefix=length):
            if not any(candidate.overlaps(u) for u in used):
                return candidate
    raise conflict(
        "SubnetAllocationError",
        f"Failed to allocate subnet: Insufficient prefix space to allocate subnet size /{length}.",
    )


async def create_pool(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    tgt = {"project_id": project, "tenant_id": project}
    mgr.enforce(ctx, "create_subnetpool", tgt)
    crud.enforce_attrs(
        mgr,
        ctx,
        "create",
        "subnetpool",
        {k: v for k, v in values.items() if v},
        ADMIN_SET["subnetpool"],
        tgt,
    )
    if not values.get("prefixes"):
        raise bad_request("Invalid input for operation: prefixes must not be empty.")
    version, prefixes = _collapse(values["prefixes"])

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = SubnetPool(id=new_id(), project_id=project)
        crud.assign(row, POOLS, values)
        row.ip_version, row.prefixes = version, prefixes
        _lengths(row)
        if row.address_scope_id:
            scope = await get_scope(mgr, session, ctx, row.address_scope_id)
            if scope.ip_version != version:
                raise bad_request(
                    "Illegal subnetpool association: the address scope is of another IP version.",
                    "IllegalSubnetPoolAssociationToAddressScope",
                )
        if row.is_default:
            await _one_default(session, row)
        session.add(row)
        await session.flush()
        return pool_view(row, [])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnetpool", "create", {"subnetpool": out})
    return out


async def _one_default(session: AsyncSession, row: SubnetPool) -> None:
    other = (
        await session.execute(
            select(SubnetPool.id).where(
                SubnetPool.is_default,
                SubnetPool.ip_version == row.ip_version,
                SubnetPool.id != row.id,
            )
        )
    ).first()
    if other is not None:
        raise bad_request(
            f"Invalid input for operation: a default subnetpool for IPv"
            f"{row.ip_version} already exists ({other[0]})."
        )


async def list_pools(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(POOLS, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(SubnetPool)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible(SubnetPool, "subnetpool", ctx))
        stmt = listing.apply_filters(POOLS, stmt, query.filters)
        rows = await listing.paginate(session, POOLS, stmt, query)
        tags = await crud.tags_of(session, [r.id for r in rows])
    items = [listing.select_fields(pool_view(r, tags[r.id]), query.fields) for r in rows]
    return {"subnetpools": items, **listing.links(request, POOLS, rows, query)}


async def show_pool(
    mgr: Any, ctx: RequestContext, pool_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, pool_id)
        tags = await crud.tags_of(session, [row.id])
    return listing.select_fields(pool_view(row, tags[row.id]), fields)


async def update_pool(
    mgr: Any, ctx: RequestContext, pool_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, pool_id, for_update=True)
        tgt = {"project_id": row.project_id, "tenant_id": row.project_id}
        mgr.enforce(ctx, "update_subnetpool", tgt)
        crud.enforce_attrs(mgr, ctx, "update", "subnetpool", values, ADMIN_SET["subnetpool"], tgt)
        crud.check_revision(if_match, row)
        if "prefixes" in values:
            version, prefixes = _collapse(values["prefixes"] + list(row.prefixes))
            if version != row.ip_version:
                raise bad_request("Invalid input for operation: prefixes of another IP version.")
            for old in row.prefixes:
                if not any(
                    ipaddress.ip_network(old).subnet_of(ipaddress.ip_network(p))  # type: ignore[arg-type]
                    for p in prefixes
                ):
                    raise bad_request("Invalid input for operation: prefixes can only grow.")
            values["prefixes"] = prefixes
        crud.assign(row, POOLS, values)
        _lengths(row)
        if row.is_default:
            await _one_default(session, row)
        crud.bump(row)
        await session.flush()
        tags = await crud.tags_of(session, [row.id])
        return pool_view(row, tags[row.id])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnetpool", "update", {"subnetpool": out})
    return out


async def delete_pool(mgr: Any, ctx: RequestContext, pool_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_visible(mgr, session, ctx, pool_id, for_update=True)
        mgr.enforce(ctx, "delete_subnetpool", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        used = (
            await session.execute(
                select(func.count()).select_from(Subnet).where(Subnet.subnetpool_id == row.id)
            )
        ).scalar_one()
        if used:
            raise conflict(
                "SubnetPoolInUse",
                f"Subnet pool {row.id} cannot be deleted: subnets are allocated from it.",
            )
        await crud.drop_tags(session, row.id)
        await session.execute(delete(RBACPolicy).where(RBACPolicy.object_id == row.id))
        await session.execute(delete(SubnetPool).where(SubnetPool.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "subnetpool", "delete", {"subnetpool_id": pool_id})


# -- address scopes -----------------------------------------------------------------------------
async def create_scope(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    tgt = {"project_id": project}
    mgr.enforce(ctx, "create_address_scope", tgt)
    crud.enforce_attrs(
        mgr,
        ctx,
        "create",
        "address_scope",
        {k: v for k, v in values.items() if v},
        ADMIN_SET["address_scope"],
        tgt,
    )

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = AddressScope(id=new_id(), project_id=project)
        crud.assign(row, SCOPES, values)
        session.add(row)
        await session.flush()
        return scope_view(row, [])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_scope", "create", {"address_scope": out})
    return out


async def list_scopes(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(SCOPES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(AddressScope)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible(AddressScope, "address_scope", ctx))
        stmt = listing.apply_filters(SCOPES, stmt, query.filters)
        rows = await listing.paginate(session, SCOPES, stmt, query)
        tags = await crud.tags_of(session, [r.id for r in rows])
    items = [listing.select_fields(scope_view(r, tags[r.id]), query.fields) for r in rows]
    return {"address_scopes": items, **listing.links(request, SCOPES, rows, query)}


async def show_scope(
    mgr: Any, ctx: RequestContext, scope_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_scope(mgr, session, ctx, scope_id)
        tags = await crud.tags_of(session, [row.id])
    return listing.select_fields(scope_view(row, tags[row.id]), fields)


async def update_scope(
    mgr: Any, ctx: RequestContext, scope_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_scope(mgr, session, ctx, scope_id)
        tgt = {"project_id": row.project_id}
        mgr.enforce(ctx, "update_address_scope", tgt)
        crud.enforce_attrs(
            mgr, ctx, "update", "address_scope", values, ADMIN_SET["address_scope"], tgt
        )
        crud.check_revision(if_match, row)
        crud.assign(row, SCOPES, values)
        crud.bump(row)
        await session.flush()
        tags = await crud.tags_of(session, [row.id])
        return scope_view(row, tags[row.id])

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_scope", "update", {"address_scope": out})
    return out


async def delete_scope(mgr: Any, ctx: RequestContext, scope_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_scope(mgr, session, ctx, scope_id)
        mgr.enforce(ctx, "delete_address_scope", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        used = (
            await session.execute(
                select(SubnetPool.id).where(SubnetPool.address_scope_id == row.id).limit(1)
            )
        ).first()
        if used is not None:
            raise conflict(
                "AddressScopeInUse",
                f"Unable to complete operation on address scope "
                f"{row.id}. There are one or more subnet pools in use on the address "
                "scope.",
            )
        await crud.drop_tags(session, row.id)
        await session.execute(delete(RBACPolicy).where(RBACPolicy.object_id == row.id))
        await session.execute(delete(AddressScope).where(AddressScope.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "address_scope", "delete", {"address_scope_id": scope_id})
