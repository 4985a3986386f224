"""QoS policies and their rules (bandwidth limit, DSCP marking, minimum bandwidth), applied
to networks and ports through ``qos_policy_id``; the dataplane enforces them."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import crud, listing
from onestack.network.attributes import MISSING, Attr, boolean, integer, one_of, resource
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import Network, Port, QosPolicy, QosRule, RBACPolicy, new_id

POLICIES = resource(
    "policy",
    "policies",
    QosPolicy,
    Attr("shared", "shared", put=True, default=False, convert=boolean),
    Attr("is_default", "is_default", put=True, default=False, convert=boolean),
    Attr("rules", None, post=False),
)
#: rule type -> (URL collection, attributes with converters and defaults)
RULE_TYPES: dict[str, tuple[str, dict[str, Attr]]] = {
    "bandwidth_limit": (
        "bandwidth_limit_rules",
        {
            "max_kbps": Attr("max_kbps", "max_kbps", put=True, convert=integer(0, 2**31 - 1)),
            "max_burst_kbps": Attr(
                "max_burst_kbps",
                "max_burst_kbps",
                put=True,
                default=0,
                convert=integer(0, 2**31 - 1),
            ),
            "direction": Attr(
                "direction",
                "direction",
                put=True,
                default="egress",
                convert=one_of("egress", "ingress"),
            ),
        },
    ),
    "dscp_marking": (
        "dscp_marking_rules",
        {
            "dscp_mark": Attr(
                "dscp_mark",
                "dscp_mark",
                put=True,
                convert=one_of(
                    0,
                    8,
                    10,
                    12,
                    14,
                    16,
                    18,
                    20,
                    22,
                    24,
                    26,
                    28,
                    30,
                    32,
                    34,
                    36,
                    38,
                    40,
                    44,
                    46,
                    48,
                    56,
                ),
            ),
        },
    ),
    "minimum_bandwidth": (
        "minimum_bandwidth_rules",
        {
            "min_kbps": Attr("min_kbps", "min_kbps", put=True, convert=integer(0, 2**31 - 1)),
            "direction": Attr(
                "direction",
                "direction",
                put=True,
                default="egress",
                convert=one_of("egress", "ingress"),
            ),
        },
    ),
}
BY_COLLECTION = {collection: kind for kind, (collection, _) in RULE_TYPES.items()}


def _visible(ctx: RequestContext) -> Any:
    rbac = select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == "qos_policy",
        RBACPolicy.target_project.in_([t for t in ("*", ctx.project_id) if t]),
    )
    return or_(QosPolicy.project_id == ctx.project_id, QosPolicy.shared, QosPolicy.id.in_(rbac))


async def get_visible(
    mgr: Any, session: AsyncSession, ctx: RequestContext, policy_id: str
) -> QosPolicy:
    stmt = select(QosPolicy).where(QosPolicy.id == policy_id)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(_visible(ctx))
    row = (await session.execute(stmt)).scalar()
    if row is None:
        raise not_found("QosPolicyNotFound", "QoS policy", policy_id)
    return row


async def check_usable(
    mgr: Any, session: AsyncSession, ctx: RequestContext, policy_id: str | None
) -> None:
    """A network or port may name only a QoS policy its caller sees."""
    if policy_id is not None:
        await get_visible(mgr, session, ctx, policy_id)


def rule_view(row: QosRule) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "type": row.type, "qos_policy_id": row.policy_id}
    for name in RULE_TYPES[row.type][1]:
        out[name] = getattr(row, name)
    return out


async def _render(
    session: AsyncSession, rows: list[QosPolicy], fields: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    rules: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for rule in (
            await session.execute(select(QosRule).where(QosRule.policy_id.in_(ids)))
        ).scalars():
            rules[rule.policy_id].append(rule_view(rule))
    tags = await crud.tags_of(session, ids)
    out = []
    for row in rows:
        item = crud.standard(row, tags[row.id])
        item.update(shared=row.shared, is_default=row.is_default, rules=rules[row.id])
        out.append(listing.select_fields(item, fields or ()))
    return out


async def create_policy(mgr: Any, ctx: RequestContext, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    project = crud.owner_for(mgr, ctx, values)
    mgr.enforce(ctx, "create_policy", {"project_id": project})
    if values.get("shared"):
        mgr.enforce(ctx, "create_policy:shared", {"project_id": project})

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = QosPolicy(id=new_id(), project_id=project)
        crud.assign(row, POLICIES, values)
        if row.is_default:
            await _one_default(session, row)
        session.add(row)
        await session.flush()
        return (await _render(session, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "qos_policy", "create", {"policy": out})
    return out


async def _one_default(session: AsyncSession, row: QosPolicy) -> None:
    other = (
        await session.execute(
            select(QosPolicy.id).where(
                QosPolicy.is_default, QosPolicy.project_id == row.project_id, QosPolicy.id != row.id
            )
        )
    ).first()
    if other is not None:
        raise conflict(
            "QoSPolicyDefaultAlreadyExists",
            f"A default QoS policy exists for project {row.project_id}.",
        )


async def list_policies(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    query = listing.parse(POLICIES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = select(QosPolicy)
        if not mgr.is_admin(ctx):
            stmt = stmt.where(_visible(ctx))
        stmt = listing.apply_filters(POLICIES, stmt, query.filters)
        rows = await listing.paginate(session, POLICIES, stmt, query)
        items = await _render(session, rows, query.fields)
    return {"policies": items, **listing.links(request, POLICIES, rows, query)}


async def show_policy(
    mgr: Any, ctx: RequestContext, policy_id: str, fields: list[str]
) -> dict[str, Any]:
    async with mgr.read() as session:
        row = await get_visible(mgr, session, ctx, policy_id)
        return (await _render(session, [row], fields))[0]


async def update_policy(
    mgr: Any, ctx: RequestContext, policy_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await get_visible(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "update_policy", {"project_id": row.project_id})
        if "shared" in values:
            mgr.enforce(ctx, "update_policy:shared", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        crud.assign(row, POLICIES, values)
        if row.is_default:
            await _one_default(session, row)
        crud.bump(row)
        await session.flush()
        return (await _render(session, [row]))[0]

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "qos_policy", "update", {"policy": out})
    return out


async def delete_policy(
    mgr: Any, ctx: RequestContext, policy_id: str, if_match: str | None
) -> None:
    async def work(session: AsyncSession) -> None:
        row = await get_visible(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "delete_policy", {"project_id": row.project_id})
        crud.check_revision(if_match, row)
        for model in (Network, Port):
            used = (
                await session.execute(
                    select(model.id).where(model.qos_policy_id == row.id).limit(1)
                )
            ).first()
            if used is not None:
                raise conflict(
                    "QosPolicyInUse",
                    f"QoS Policy {row.id} is used by {model.__name__.lower()} {used[0]}.",
                )
        await crud.drop_tags(session, row.id)
        await session.execute(delete(RBACPolicy).where(RBACPolicy.object_id == row.id))
        await session.execute(delete(QosPolicy).where(QosPolicy.id == row.id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "qos_policy", "delete", {"policy_id": policy_id})


# -- rules --------------------------------------------------------------------------------------
def _kind(collection: str) -> str:
    kind = BY_COLLECTION.get(collection)
    if kind is None:
        raise not_found("NotFound", "QoS rule collection", collection)
    return kind


def parse_rule(kind: str, body: Any, create: bool) -> dict[str, Any]:
    member = kind + "_rule"
    if not isinstance(body, dict) or not isinstance(body.get(member), dict):
        raise bad_request(f"Resource body required: a JSON object with key '{member}'.")
    attrs = RULE_TYPES[kind][1]
    data = body[member]
    unknown = sorted(set(data) - set(attrs))
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    values = {}
    for name, attr in attrs.items():
        if name in data:
            values[name] = attr.convert(data[name]) if attr.convert else data[name]
        elif create:
            if attr.default is MISSING:
                raise bad_request(
                    f"Failed to parse request. Required attribute '{name}' not specified"
                )
            values[name] = attr.default
    return values


async def create_rule(
    mgr: Any, ctx: RequestContext, policy_id: str, collection: str, body: Any
) -> dict[str, Any]:
    kind = _kind(collection)
    values = parse_rule(kind, body, create=True)

    async def work(session: AsyncSession) -> dict[str, Any]:
        policy = await get_visible(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "update_policy", {"project_id": policy.project_id})
        row = QosRule(
            id=new_id(), policy_id=policy.id, type=kind, direction=values.get("direction", "egress")
        )
        for name, value in values.items():
            setattr(row, name, value)
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise conflict(
                "QoSRulesConflict",
                f"Rule {kind} already exists in QoS policy "
                f"{policy.id} (direction {row.direction}).",
            ) from None
        crud.bump(policy)
        return rule_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "qos_policy", "update", {"rule": out})
    return out


async def _rule(session: AsyncSession, policy: QosPolicy, kind: str, rule_id: str) -> QosRule:
    row = (
        await session.execute(
            select(QosRule).where(
                QosRule.id == rule_id, QosRule.policy_id == policy.id, QosRule.type == kind
            )
        )
    ).scalar()
    if row is None:
        raise not_found("QosRuleNotFound", f"QoS rule {rule_id} for policy", policy.id)
    return row


async def list_rules(
    mgr: Any, ctx: RequestContext, policy_id: str, collection: str
) -> list[dict[str, Any]]:
    kind = _kind(collection)
    async with mgr.read() as session:
        policy = await get_visible(mgr, session, ctx, policy_id)
        rows = (
            await session.execute(
                select(QosRule).where(QosRule.policy_id == policy.id, QosRule.type == kind)
            )
        ).scalars()
        return [rule_view(r) for r in rows]


async def show_rule(
    mgr: Any, ctx: RequestContext, policy_id: str, collection: str, rule_id: str
) -> dict[str, Any]:
    kind = _kind(collection)
    async with mgr.read() as session:
        policy = await get_visible(mgr, session, ctx, policy_id)
        return rule_view(await _rule(session, policy, kind, rule_id))


async def update_rule(
    mgr: Any, ctx: RequestContext, policy_id: str, collection: str, rule_id: str, body: Any
) -> dict[str, Any]:
    kind = _kind(collection)
    values = parse_rule(kind, body, create=False)

    async def work(session: AsyncSession) -> dict[str, Any]:
        policy = await get_visible(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "update_policy", {"project_id": policy.project_id})
        row = await _rule(session, policy, kind, rule_id)
        try:
            async with session.begin_nested():
                await session.execute(update(QosRule).where(QosRule.id == row.id).values(**values))
        except IntegrityError:
            raise conflict(
                "QoSRulesConflict", f"Rule {kind} already exists in QoS policy {policy.id}."
            ) from None
        await session.refresh(row)
        crud.bump(policy)
        return rule_view(row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "qos_policy", "update", {"rule": out})
    return out


async def delete_rule(
    mgr: Any, ctx: RequestContext, policy_id: str, collection: str, rule_id: str
) -> None:
    kind = _kind(collection)

    async def work(session: AsyncSession) -> None:
        policy = await get_visible(mgr, session, ctx, policy_id)
        mgr.enforce(ctx, "update_policy", {"project_id": policy.project_id})
        row = await _rule(session, policy, kind, rule_id)
        await session.execute(delete(QosRule).where(QosRule.id == row.id))
        crud.bump(policy)

    await mgr.transaction(work)
