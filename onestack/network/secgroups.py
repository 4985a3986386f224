"""Security groups and rules: a ``default`` group per project, made on the project's first
use with Neutron's default rules; rules normalised and refused when duplicated."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing
from onestack.network.attributes import (
    Attr,
    boolean,
    integer,
    one_of,
    resource,
    string,
    uuid_or_none,
)
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import (
    AddressGroup,
    DefaultSecurityGroup,
    PortSecurityGroup,
    RBACPolicy,
    SecurityGroup,
    SecurityGroupRule,
    new_id,
)

#: Protocol names Neutron accepts, and their numbers.
PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ip": 0,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}

GROUPS = resource(
    "security_group",
    "security_groups",
    SecurityGroup,
    Attr("stateful", "stateful", put=True, default=True, convert=boolean),
    Attr("shared", "shared", post=False),
    Attr("security_group_rules", None, post=False),
)


def _protocol(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() in ("any", "")):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad_request(
            f"Security group rule protocol {value} not supported.",
            "SecurityGroupRuleInvalidProtocol",
        )
    text = value.lower()
    if text.isdigit():
        if not 0 <= int(text) <= 255:
            raise bad_request(
                f"Security group rule protocol {value} not supported. Only "
                "protocol values [...] and integer representations [0 to 255] are "
                "supported.",
                "SecurityGroupRuleInvalidProtocol",
            )
        return text
    if text not in PROTOCOLS and text != "any":
        raise bad_request(
            f"Security group rule protocol {value} not supported. Only protocol "
            f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] "
            "are supported.",
            "SecurityGroupRuleInvalidProtocol",
        )
    return text


RULES = resource(
    "security_group_rule",
    "security_group_rules",
    SecurityGroupRule,
    Attr("security_group_id", "security_group_id", convert=lambda v: uuid_or_none(v)),
    Attr("direction", "direction", convert=one_of("ingress", "egress")),
    Attr("ethertype", "ethertype", default="IPv4", convert=one_of("IPv4", "IPv6")),
    Attr("protocol", "protocol", default=None, convert=_protocol),
    Attr(
        "port_range_min", "port_range_min", default=None, convert=integer(0, 65535, nullable=True)
    ),
    Attr(
        "port_range_max", "port_range_max", default=None, convert=integer(0, 65535, nullable=True)
    ),
    Attr("remote_ip_prefix", "remote_ip_prefix", default=None, convert=lambda v: v),
    Attr("remote_group_id", "remote_group_id", default=None, convert=uuid_or_none),
    Attr("remote_address_group_id", "remote_address_group_id", default=None, convert=uuid_or_none),
    Attr("normalized_cidr", "normalized_cidr", post=False),
    Attr("belongs_to_default_sg", None, post=False),
    standard=True,
    tags=False,
)
# rules have no name
RULES.attrs.pop("name")


def _visible_groups(ctx: RequestContext) -> Any:
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == "security_group",
        RBACPolicy.target_project.in_([t for t in ("*", ctx.project_id) if t]),
    )
    return or_(SecurityGroup.project_id == ctx.project_id, SecurityGroup.id.in_(rbac))


async def get_visible(
    mgr: Any,
    session: AsyncSession,
    ctx: RequestContext,
    group_id: str,
    *,
    project: str | None = None,
) -> SecurityGroup:
    stmt = select(SecurityGroup).where(SecurityGroup.id == group_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible_groups(ctx))
    elif project is not None:
        pass
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("SecurityGroupNotFound", "Security group", group_id)
    return row


# -- the default group --------------------------------------------------------------------------
async def ensure_default(mgr: Any, session: AsyncSession, project_id: str) -> str:
    """The project's ``default`` group, made on first use (once, under concurrency too)."""
    found = (
        await session.execute(
            select(DefaultSecurityGroup.security_group_id).where(
                DefaultSecurityGroup.project_id == project_id
            )
        )
    ).scalar()
    if found is not None:
        return found
    group = SecurityGroup(
        id=new_id(),
        project_id=project_id,
        name="default",
        description="Default security group",
        stateful=True,
    )
    try:
        async with session.begin_nested():
            session.add(group)
            await session.flush()
            session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
            await session.flush()
            for ethertype in ("IPv4", "IPv6"):
                session.add(
                    _rule_row(
                        project_id,
                        group.id,
                        "ingress",
                        ethertype,
                        None,
                        None,
                        None,
                        None,
                        group.id,
                        None,
                        "",
                    )
                )
                session.add(
                    _rule_row(
                        project_id,
                        group.id,
                        "egress",
                        ethertype,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        "",
                    )
                )
            await session.flush()
    except IntegrityError:
        found = (
            await session.execute(
                select(DefaultSecurityGroup.security_group_id).where(
                    DefaultSecurityGroup.project_id == project_id
                )
            )
        ).scalar()
        if found is None:
            raise
        return found
    return group.id


async def ensure_default_for(mgr: Any, ctx: RequestContext) -> None:
    if not ctx.project_id:
        return
    async with mgr.read() as session:
        known = (
            await session.execute(
                select(DefaultSecurityGroup.project_id).where(
                    DefaultSecurityGroup.project_id == ctx.project_id
                )
            )
        ).first()
    if known is None:

        async def work(session: AsyncSession) -> str:
            return await ensure_default(mgr, session, ctx.project_id or "")

        await mgr.transaction(work)


# -- rules --------------------------------------------------------------------------------------
def _signature(
    direction: str,
    ethertype: str,
    protocol: str | None,
    pmin: int | None,
    pmax: int | None,
    cidr: str | None,
    remote_group: str | None,
    remote_ag: str | None,
) -> str:
    proto = str(PROTOCOLS.get(protocol, protocol)) if protocol else ""
    if proto == "58":
        proto = "58"
    return "|".join(
        str(x) if x is not None else ""
        for x in (direction, ethertype, proto, pmin, pmax, cidr, remote_group, remote_ag)
    )


def _rule_row(
    project: str,
    group_id: str,
    direction: str,
    ethertype: str,
    protocol: str | None,
    pmin: int | None,
    pmax: int | None,
    prefix: str | None,
    remote_group: str | None,
    remote_ag: str | None,
    description: str,
) -> SecurityGroupRule:
    normalized = str(ipaddress.ip_network(prefix, strict=False)) if prefix else None
    return SecurityGroupRule(
        id=new_id(),
        project_id=project,
        security_group_id=group_id,
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=pmin,
        port_range_max=pmax,
        remote_ip_prefix=prefix,
        normalized_cidr=normalized,
        remote_group_id=remote_group,
        remote_address_group_id=remote_ag,
        description=description,
        signature=_signature(
            direction, ethertype, protocol, pmin, pmax, normalized, remote_group, remote_ag
        ),
    )


def _check_rule(values: dict[str, Any]) -> None:
    protocol = values.get("protocol")
    pmin, pmax = values.get("port_range_min"), values.get("port_range_max")
    if protocol in PORT_PROTOCOLS:
        if pmin is not None and pmax is None:
            values["port_range_max"] = pmax = pmin
        if pmin is None and pmax is not None:
            raise bad_request(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                "SecurityGroupInvalidPortRange",
            )
        if pmin is not None and pmax is not None:
            if pmin == 0 or pmax == 0:
                raise bad_request("Invalid value for port 0", "SecurityGroupInvalidPortValue")
            if pmin > pmax:
                raise bad_request(
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    "SecurityGroupInvalidPortRange",
                )
            if pmin == 1 and pmax == 65535:
                values["port_range_min"] = values["port_range_max"] = None
    elif protocol in ICMP_PROTOCOLS:
        for name, value in (("type", pmin), ("code", pmax)):
            if value is not None and value > 255:
                raise bad_request(
                    f"Invalid value for ICMP {name} (port-range-min): {value}",
                    "SecurityGroupInvalidIcmpValue",
                )
        if pmin is None and pmax is not None:
            raise bad_request(
                "ICMP code (port-range-max) is provided but ICMP type (port-range-min) is missing.",
                "SecurityGroupMissingIcmpType",
            )
    elif pmin is not None or pmax is not None:
        raise bad_request(
            f"Invalid protocol {protocol} for port range, only supported for "
            "TCP, UDP, UDPLITE, SCTP and DCCP.",
            "SecurityGroupInvalidProtocolForPort",
        )
    ethertype = values.get("ethertype") or "IPv4"
    if protocol in ("icmpv6", "ipv6-icmp", "58") and ethertype == "IPv4":
        raise bad_request(
            f"Protocol {protocol} is not supported for ethertype IPv4",
            "SecurityGroupEthertypeConflictWithProtocol",
        )
    prefix = values.get("remote_ip_prefix")
    if prefix is not None:
        if not isinstance(prefix, str):
            raise bad_request(f"Invalid input for operation: '{prefix}' is not a valid IP subnet.")
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise bad_request(
                f"Invalid input for operation: '{prefix}' is not a valid IP subnet."
            ) from None
        if net.version != (4 if ethertype == "IPv4" else 6):
            raise bad_request(
                f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                "SecurityGroupRuleParameterConflict",
            )
        if "/" not in prefix:
            values["remote_ip_prefix"] = str(net)
    remotes = [
        values.get(k) for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id")
    ]
    if sum(r is not None for r in remotes) > 1:
        raise bad_request(
            "Only one of remote_ip_prefix, remote_group_id and "
            "remote_address_group_id may be given.",
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )


def rule_view(row: SecurityGroupRule, default_ids: set[str] | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "normalized_cidr": row.normalized_cidr,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": row.remote_address_group_id,
        "description": row.description,
        "belongs_to_default_sg": row.security_group_id in (default_ids or set()),
        **crud.timestamps(row),
    }


async def _default_ids(session: AsyncSession, group_ids: list[str]) -> set[str]:
    if not group_ids:
        return set()
    return set(
        (
            await session.execute(
                select(DefaultSecurityGroup.security_group_id).where(
                    DefaultSecurityGroup.security_group_id.in_(group_ids)
                )
            )
        ).scalars()
    )


async def count_rules(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count())
            .select_from(SecurityGroupRule)
            .where(SecurityGroupRule.project_id == project)
        )
    ).scalar_one()
    return {"security_group_rule": n}


async def count_groups(session: AsyncSession, project: str, resources: Any) -> dict[str, int]:
    n = (
        await session.execute(
            select(func.count())
            .select_from(SecurityGroup)
            .where(SecurityGroup.project_id == project)
        )
    ).scalar_one()
    return {"security_group": n}


async def create_rule(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    crud.owner_for(mgr, ctx, values)
    _check_rule(values)

    async def work(session: AsyncSession) -> dict[str, Any]:
        group = await get_visible(mgr, session, ctx, values["security_group_id"])
        project = group.project_id
        mgr.enforce(
            ctx, "create_security_group_rule", {"project_id": project, "tenant_id": project}
        )
        if values.get("remote_group_id"):
            await get_visible(mgr, session, ctx, values["remote_group_id"])
        if values.get("remote_address_group_id"):
            found = (
                await session.execute(
                    select(AddressGroup.id).where(
                        AddressGroup.id == values["remote_address_group_id"]
                    )
                )
            ).first()
            if found is None:
                raise not_found(
                    "AddressGroupNotFound", "Address group", values["remote_address_group_id"]
                )
        await mgr.quotas.enforce(session, project, {"security_group_rule": 1}, usage=count_rules)
        row = _rule_row(
            project,
            group.id,
            values["direction"],
            values["ethertype"],
            values.get("protocol"),
            values.get("port_range_min"),
            values.get("port_range_max"),
            values.get("remote_ip_prefix"),
            values.get("remote_group_id"),
            values.get("remote_address_group_id"),
            values.get("description") or "",
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            existing = (
                await session.execute(
                    select(SecurityGroupRule.id).where(
                        SecurityGroupRule.security_group_id == group.id,
                        SecurityGroupRule.signature == row.signature,
                    )
                )
            ).scalar()
            raise conflict(
                "SecurityGroupRuleExists",
                f"Security group rule already exists. Rule id is {existing}.",
            ) from None
        crud.bump(group)
        return rule_view(row, await _default_ids(session, [group.id]))

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "security_group_rule", "create", {"security_group_rule": out})
    return out


def _visible_rules(ctx: RequestContext) -> Any:
    return or_(
        SecurityGroupRule.project_id == ctx.project_id,
        SecurityGroupRule.security_group_id.in_(
            select(SecurityGroup.id).where(_visible_groups(ctx))
        ),
    )


async def list_rules(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    await ensure_default_for(mgr, ctx)
    query = listing.parse(RULES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(SecurityGroupRule)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible_rules(ctx))
        stmt = listing.apply_filters(RULES, stmt, query.filters)
        rows = await listing.paginate(session, RULES, stmt, query)
        defaults = await _default_ids(session, list({r.security_group_id for r in rows}))
    items = [listing.select_fields(rule_view(r, defaults), query.fields) for r in rows]
    return {"security_group_rules": items, **listing.links(request, RULES, rows, query)}


async def _get_rule(
    mgr: Any, session: AsyncSession, ctx: RequestContext, rule_id: str
) -> SecurityGroupRule:
    stmt = select(SecurityGroupRule).where(SecurityGroupRule.id == rule_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible_rules(ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("SecurityGroupRuleNotFound", "Security group rule", rule_id)
    return row


async def show_rule(
    mgr: Any, ctx: RequestContext, rule_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await _get_rule(mgr, session, ctx, rule_id)
        defaults = await _default_ids(session, [row.security_group_id])
    return listing.select_fields(rule_view(row, defaults), fields)


async def delete_rule(mgr: Any, ctx: RequestContext, rule_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await _get_rule(mgr, session, ctx, rule_id)
        mgr.enforce(ctx, "delete_security_group_rule", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        await session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.id == row.id))

    await mgr.transaction(work)
    await crud.notify(
        mgr, ctx, "security_group_rule", "delete", {"security_group_rule_id": rule_id}
    )


# -- groups -------------------------------------------------------------------------------------
async def render_groups(
    session: AsyncSession,
    ctx: RequestContext,
    rows: list[SecurityGroup],
    fields: list[str] | None = None,
    mgr: Any = None,
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    rules: dict[str, list[SecurityGroupRule]] = defaultdict(list)
    want = set(fields or ())
    defaults = await _default_ids(session, ids)
    if not want or "security_group_rules" in want:
        for start in range(0, len(ids), 500):
            for rule in (
                await session.execute(
                    select(SecurityGroupRule)
                    .where(SecurityGroupRule.security_group_id.in_(ids[start : start + 500]))
                    .order_by(SecurityGroupRule.created_at)
                )
            ).scalars():
                rules[rule.security_group_id].append(rule)
    tags = await crud.tags_of(session, ids)
    shared = set()
    if ctx.project_id:
        shared = (
            set(
                (
                    await session.execute(
                        select(RBACPolicy.object_id).where(
                            RBACPolicy.object_type == "security_group",
                            RBACPolicy.object_id.in_(ids),
                            RBACPolicy.target_project.in_(["*", ctx.project_id]),
                        )
                    )
                ).scalars()
            )
            if ids
            else set()
        )
    out = []
    for row in rows:
        item = crud.standard(row, tags[row.id])
        item.update(
            stateful=row.stateful,
            shared=row.id in shared,
            security_group_rules=[rule_view(r, defaults) for r in rules[row.id]],
        )
        out.append(listing.select_fields(item, fields or ()))
    return out


async def create_group(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    mgr.enforce(ctx, "create_security_group", {"project_id": project, "tenant_id": project})
    if values.get("name") == "default":
        raise conflict(
            "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
        )

    async def work(session: AsyncSession) -> dict[str, Any]:
        await ensure_default(mgr, session, project)
        await mgr.quotas.enforce(session, project, {"security_group": 1}, usage=count_groups)
        row = SecurityGroup(id=new_id(), project_id=project)
        crud.assign(row, GROUPS, values)
        session.add(row)
        await session.flush()
        for ethertype in ("IPv4", "IPv6"):
            session.add(
                _rule_row(
                    project, row.id, "egress", ethertype, None, None, None, None, None, None, ""
                )
            )
        await session.flush()
        return (await render_groups(session, ctx, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "security_group", "create", {"security_group": out})
    return out


async def list_groups(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    await ensure_default_for(mgr, ctx)
    query = listing.parse(GROUPS, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(SecurityGroup)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible_groups(ctx))
        stmt = listing.apply_filters(GROUPS, stmt, query.filters, {"shared": lambda s, v: s})
        rows = await listing.paginate(session, GROUPS, stmt, query)
        items = await render_groups(session, ctx, rows, query.fields)
    return {"security_groups": items, **listing.links(request, GROUPS, rows, query)}


async def show_group(
    mgr: Any, ctx: RequestContext, group_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, group_id)
        return (await render_groups(session, ctx, [row], fields))[0]


async def update_group(
    mgr: Any, ctx: RequestContext, group_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, group_id)
        mgr.enforce(ctx, "update_security_group", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        is_default = bool(await _default_ids(session, [row.id]))
        if is_default and values.get("name", "default") != "default":
            raise conflict(
                "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."
            )
        if not is_default and values.get("name") == "default":
            raise conflict(
                "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
            )
        crud.assign(row, GROUPS, values)
        crud.bump(row)
        await session.flush()
        return (await render_groups(session, ctx, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "security_group", "update", {"security_group": out})
    return out


async def delete_group(mgr: Any, ctx: RequestContext, group_id: str, if_match: str | None) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_visible(mgr, session, ctx, group_id)
        mgr.enforce(ctx, "delete_security_group", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        if await _default_ids(session, [row.id]) and not mgr.is_admin(ctx):
            raise conflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            )
        used = (
            await session.execute(
                select(PortSecurityGroup.port_id)
                .where(PortSecurityGroup.security_group_id == row.id)
                .limit(1)
            )
        ).first()
        if used is not None:
            raise conflict("SecurityGroupInUse", f"Security Group {row.id} in use.")
        await crud.drop_tags(session, row.id)
        await session.execute(delete(RBACPolicy).where(RBACPolicy.object_id == row.id))
        await session.execute(
            delete(SecurityGroupRule).where(SecurityGroupRule.remote_group_id == row.id)
        )
        await session.execute(
            delete(DefaultSecurityGroup).where(DefaultSecurityGroup.security_group_id == row.id)
        )
        await session.execute(delete(SecurityGroup).where(SecurityGroup.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "security_group", "delete", {"security_group_id": group_id})


_ = string
