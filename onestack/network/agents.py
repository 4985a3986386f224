"""Network agents: the dataplane's L2, L3, DHCP and metadata agents report here (RPC
``report_state`` heartbeats and device up/down), and admins list, show, update and delete
them at ``/v2.0/agents``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.network import crud, listing
from onestack.network.attributes import Attr, boolean, resource, string
from onestack.network.errors import bad_request, not_found
from onestack.network.ml2.mechanisms.base import AgentInfo
from onestack.network.models import Agent

RES = resource(
    "agent",
    "agents",
    Agent,
    Attr("agent_type", "agent_type", post=False),
    Attr("binary", "binary", post=False),
    Attr("topic", "topic", post=False),
    Attr("host", "host", post=False),
    Attr("admin_state_up", "admin_state_up", post=False, put=True, convert=boolean),
    Attr("availability_zone", "availability_zone", post=False),
    Attr("description", "description", post=False, put=True, convert=string(255, nullable=True)),
    Attr("alive", None, post=False),
    Attr("configurations", None, post=False),
    standard=False,
    tags=False,
)


def alive(mgr: Any, row: Agent) -> bool:
    return (utcnow() - row.heartbeat_timestamp).total_seconds() <= mgr.conf.agent_down_time


def info(mgr: Any, row: Agent) -> AgentInfo:
    return AgentInfo(
        row.agent_type,
        row.host,
        alive(mgr, row),
        row.admin_state_up,
        dict(row.configurations or {}),
    )


def view(mgr: Any, row: Agent) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "topic": row.topic,
        "host": row.host,
        "admin_state_up": row.admin_state_up,
        "alive": alive(mgr, row),
        "availability_zone": row.availability_zone,
        "configurations": dict(row.configurations or {}),
        "description": row.description,
        "resources_synced": row.resources_synced,
        "created_at": _ts(row.created_at),
        "started_at": _ts(row.started_at),
        "heartbeat_timestamp": _ts(row.heartbeat_timestamp),
    }


def _ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


async def report_state(mgr: Any, state: dict[str, Any], *, start_flag: bool = False) -> str:
    """An agent's heartbeat (``agent_type``, ``binary``, ``host``, ``topic``,
    ``configurations``, ``availability_zone``); creates the agent the first time."""
    for key in ("agent_type", "binary", "host"):
        if not isinstance(state.get(key), str) or not state[key]:
            raise bad_request(f"agent state needs {key}")

    async def work(session: AsyncSession) -> str:
        now = utcnow()
        row = (
            await session.execute(
                select(Agent).where(
                    Agent.agent_type == state["agent_type"], Agent.host == state["host"]
                )
            )
        ).scalar()
        if row is None:
            row = Agent(
                agent_type=state["agent_type"],
                host=state["host"],
                binary=state["binary"],
                topic=state.get("topic") or "N/A",
                created_at=now,
                started_at=now,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
            except IntegrityError:
                row = (
                    await session.execute(
                        select(Agent).where(
                            Agent.agent_type == state["agent_type"], Agent.host == state["host"]
                        )
                    )
                ).scalar_one()
        row.binary = state["binary"]
        row.topic = state.get("topic") or row.topic
        row.configurations = dict(state.get("configurations") or {})
        row.availability_zone = state.get("availability_zone")
        row.resources_synced = state.get("resources_synced")
        row.heartbeat_timestamp = now
        if start_flag:
            row.started_at = now
            await session.flush()
            from onestack.network import scheduling

            await scheduling.adopt(mgr, session, row)
        return row.id

    return await mgr.transaction(work)


async def list_agents(mgr: Any, ctx: RequestContext, request: Request) -> dict[str, Any]:
    mgr.enforce(ctx, "get_agent", {})
    query = listing.parse(RES, request, mgr.conf.pagination_max_limit)
    async with mgr.read() as session:
        stmt = listing.apply_filters(RES, select(Agent), query.filters, {"alive": lambda s, v: s})
        rows = await listing.paginate(session, RES, stmt, query)
    items = [view(mgr, r) for r in rows]
    if "alive" in query.filters:
        wanted = boolean(query.filters["alive"][0])
        items = [i for i in items if i["alive"] == wanted]
    return {
        "agents": [listing.select_fields(i, query.fields) for i in items],
        **listing.links(request, RES, rows, query),
    }


async def _get(session: AsyncSession, agent_id: str) -> Agent:
    row = (await session.execute(select(Agent).where(Agent.id == agent_id))).scalar()
    if row is None:
        raise not_found("AgentNotFound", "Agent", agent_id)
    return row


async def show(mgr: Any, ctx: RequestContext, agent_id: str, fields: list[str]) -> dict[str, Any]:
    mgr.enforce(ctx, "get_agent", {})
    async with mgr.read() as session:
        row = await _get(session, agent_id)
    return listing.select_fields(view(mgr, row), fields)


async def update(
    mgr: Any, ctx: RequestContext, agent_id: str, values: dict[str, Any], if_match: str | None
) -> dict[str, Any]:
    mgr.enforce(ctx, "update_agent", {})

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await _get(session, agent_id)
        crud.assign(row, RES, values)
        return view(mgr, row)

    out = await mgr.transaction(work)
    await crud.notify(mgr, ctx, "agent", "update", {"agent": out})
    return out


async def delete_agent(mgr: Any, ctx: RequestContext, agent_id: str, if_match: str | None) -> None:
    mgr.enforce(ctx, "delete_agent", {})

    async def work(session: AsyncSession) -> None:
        await _get(session, agent_id)
        await session.execute(delete(Agent).where(Agent.id == agent_id))

    await mgr.transaction(work)
    await crud.notify(mgr, ctx, "agent", "delete", {"agent_id": agent_id})
