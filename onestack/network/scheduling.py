"""Agent scheduling (the ``l3_agent_scheduler`` and ``dhcp_agent_scheduler`` extensions):
which L3 agent hosts a router, which DHCP agents serve a network.

A new router goes to the alive, enabled L3 agent hosting the fewest routers, and a network
that gets a DHCP-enabled subnet to the alive, enabled DHCP agent serving the fewest networks
(Neutron's least-routers / ``dhcp_agents_per_network = 1``), when such an agent exists; admins
move them with ``/agents/{id}/l3-routers`` and ``/agents/{id}/dhcp-networks``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common import errors
from onestack.common.context import RequestContext
from onestack.network import agents
from onestack.network.errors import bad_request, conflict, not_found
from onestack.network.models import Agent, Network, NetworkDhcpAgent, Router, RouterL3Agent

L3_AGENT = "L3 agent"
DHCP_AGENT = "DHCP agent"


@dataclass(frozen=True, slots=True)
class Kind:
    """One scheduler: the agents of ``agent_type`` hosting ``resource``s in ``table``."""

    agent_type: str
    table: Any
    key: str  # the table's column naming the resource
    resource: str  # "router" / "network"
    model: Any
    invalid: tuple[str, str]  # error type, message with {id}
    hosted: str  # already hosted error type
    not_hosted: str
    noun: str  # "L3 Agent" / "DHCP Agent", as in Neutron's messages


L3 = Kind(
    L3_AGENT,
    RouterL3Agent,
    "router_id",
    "router",
    Router,
    ("InvalidL3Agent", "Agent {id} is not a L3 Agent or has been disabled"),
    "RouterHostedByL3Agent",
    "RouterNotHostedByL3Agent",
    "L3 Agent",
)
DHCP = Kind(
    DHCP_AGENT,
    NetworkDhcpAgent,
    "network_id",
    "network",
    Network,
    ("InvalidDHCPAgent", "Agent {id} is not a valid DHCP Agent or has been disabled."),
    "NetworkHostedByDHCPAgent",
    "NetworkNotHostedByDhcpAgent",
    "DHCP Agent",
)


async def schedule(mgr: Any, session: AsyncSession, kind: Kind, resource_id: str) -> str | None:
    """Bind ``resource_id`` to the least loaded alive, enabled agent of ``kind`` unless an
    agent hosts it already; the agent's id, or None when no agent can take it."""
    column = getattr(kind.table, kind.key)
    hosted = (
        await session.execute(select(kind.table.agent_id).where(column == resource_id))
    ).first()
    if hosted is not None:
        return str(hosted[0])
    load = (
        select(kind.table.agent_id, func.count().label("n"))
        .group_by(kind.table.agent_id)
        .subquery()
    )
    candidates = (
        await session.execute(
            select(Agent, func.coalesce(load.c.n, 0))
            .outerjoin(load, load.c.agent_id == Agent.id)
            .where(Agent.agent_type == kind.agent_type, Agent.admin_state_up.is_(True))
        )
    ).all()
    live = sorted(
        ((n, row.host, row) for row, n in candidates if agents.alive(mgr, row)),
        key=lambda c: (c[0], c[1]),
    )
    if not live:
        return None
    agent = live[0][2]
    session.add(kind.table(**{kind.key: resource_id, "agent_id": agent.id}))
    await session.flush()
    return str(agent.id)


async def adopt(mgr: Any, session: AsyncSession, agent: Agent) -> int:
    """An L3 or DHCP agent (re)starting takes the routers / DHCP-enabled networks no agent
    hosts (Neutron's auto-scheduling on an agent's sync); how many it took."""
    from onestack.network.models import Subnet

    kind = {L3_AGENT: L3, DHCP_AGENT: DHCP}.get(agent.agent_type)
    if kind is None or not agent.admin_state_up:
        return 0
    column = getattr(kind.table, kind.key)
    stmt = select(kind.model.id).where(kind.model.id.not_in(select(column)))
    if kind is DHCP:
        stmt = stmt.where(kind.model.id.in_(select(Subnet.network_id).where(Subnet.enable_dhcp)))
    orphans = list((await session.execute(stmt)).scalars())
    for resource_id in orphans:
        session.add(kind.table(**{kind.key: resource_id, "agent_id": agent.id}))
    await session.flush()
    return len(orphans)


async def _agent(session: AsyncSession, agent_id: str) -> Agent:
    row = (await session.execute(select(Agent).where(Agent.id == agent_id))).scalar()
    if row is None:
        raise not_found("AgentNotFound", "Agent", agent_id)
    return row


async def _resource(mgr: Any, session: AsyncSession, kind: Kind, resource_id: str) -> Any:
    row = (await session.execute(select(kind.model).where(kind.model.id == resource_id))).scalar()
    if row is None:
        name = "Router" if kind is L3 else "Network"
        raise not_found(f"{name}NotFound", name, resource_id)
    return row


async def _render(
    mgr: Any, session: AsyncSession, ctx: RequestContext, kind: Kind, rows: list[Any]
) -> list[dict[str, Any]]:
    from onestack.network import networks, routers

    module: Any = routers if kind is L3 else networks
    return await module.render_many(mgr, session, ctx, rows)


async def hosted_by(
    mgr: Any, ctx: RequestContext, kind: Kind, agent_id: str
) -> list[dict[str, Any]]:
    """``GET /agents/{id}/l3-routers`` / ``dhcp-networks``."""
    mgr.enforce(ctx, f"get_{_path(kind)}", {})
    async with mgr.read() as session:
        await _agent(session, agent_id)
        column = getattr(kind.table, kind.key)
        rows = list(
            (
                await session.execute(
                    select(kind.model)
                    .join(kind.table, column == kind.model.id)
                    .where(kind.table.agent_id == agent_id)
                    .order_by(kind.model.id)
                )
            ).scalars()
        )
        return await _render(mgr, session, ctx, kind, rows)


async def hosting(
    mgr: Any, ctx: RequestContext, kind: Kind, resource_id: str
) -> list[dict[str, Any]]:
    """``GET /routers/{id}/l3-agents`` / ``/networks/{id}/dhcp-agents``."""
    mgr.enforce(ctx, "get_l3-agents" if kind is L3 else "get_dhcp-agents", {})
    async with mgr.read() as session:
        await _resource(mgr, session, kind, resource_id)
        column = getattr(kind.table, kind.key)
        rows = (
            await session.execute(
                select(Agent)
                .join(kind.table, kind.table.agent_id == Agent.id)
                .where(column == resource_id)
                .order_by(Agent.host)
            )
        ).scalars()
        return [agents.view(mgr, r) for r in rows]


async def add(mgr: Any, ctx: RequestContext, kind: Kind, agent_id: str, body: Any) -> None:
    """``POST /agents/{id}/l3-routers {"router_id"}`` / ``dhcp-networks {"network_id"}``."""
    mgr.enforce(ctx, f"create_{_path(kind)[:-1]}", {})
    if not isinstance(body, dict) or not isinstance(body.get(kind.key), str):
        raise bad_request(f"Invalid input for operation: {kind.key} must be given.")
    resource_id = body[kind.key]

    async def work(session: AsyncSession) -> None:
        agent = await _agent(session, agent_id)
        if agent.agent_type != kind.agent_type or not agent.admin_state_up:
            error, message = kind.invalid
            err = errors.NotFound(message.format(id=agent_id))
            err.kind = error
            raise err
        await _resource(mgr, session, kind, resource_id)
        column = getattr(kind.table, kind.key)
        current = list(
            (
                await session.execute(select(kind.table.agent_id).where(column == resource_id))
            ).scalars()
        )
        if agent_id in current and kind is L3:
            return
        if agent_id in current:
            raise conflict(
                kind.hosted,
                f"The network {resource_id} has been already hosted by the DHCP Agent {agent_id}.",
            )
        if kind is L3 and current:
            raise conflict(
                kind.hosted,
                f"The router {resource_id} has been already hosted by the L3 Agent {current[0]}.",
            )
        session.add(kind.table(**{kind.key: resource_id, "agent_id": agent_id}))

    await mgr.transaction(work)
    await mgr.notify(ctx, f"{_event(kind)}.add", {kind.key: resource_id, "agent_id": agent_id})


async def remove(
    mgr: Any, ctx: RequestContext, kind: Kind, agent_id: str, resource_id: str
) -> None:
    """``DELETE /agents/{id}/l3-routers/{router_id}`` / ``dhcp-networks/{network_id}``."""
    mgr.enforce(ctx, f"delete_{_path(kind)[:-1]}", {})

    async def work(session: AsyncSession) -> None:
        await _agent(session, agent_id)
        column = getattr(kind.table, kind.key)
        gone = await session.execute(
            delete(kind.table).where(column == resource_id, kind.table.agent_id == agent_id)
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise conflict(
                kind.not_hosted,
                f"The {kind.resource} {resource_id} is not hosted by the {kind.noun} {agent_id}.",
            )

    await mgr.transaction(work)
    await mgr.notify(ctx, f"{_event(kind)}.remove", {kind.key: resource_id, "agent_id": agent_id})


def _path(kind: Kind) -> str:
    return "l3-routers" if kind is L3 else "dhcp-networks"


def _event(kind: Kind) -> str:
    return "l3_agent.router" if kind is L3 else "dhcp_agent.network"
