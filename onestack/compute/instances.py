"""Instance rows as the agents change them: state transitions, faults, action events."""

from __future__ import annotations

import traceback
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import utcnow
from onestack.common.errors import NotFound
from onestack.compute.models import Instance, InstanceAction, Migration


async def load(session: AsyncSession, uuid: str, *, deleted: bool = False) -> Instance:
    stmt = select(Instance).where(Instance.uuid == uuid)
    if not deleted:
        stmt = stmt.where(Instance.deleted.is_(False))
    instance = (await session.execute(stmt)).scalar()
    if instance is None:
        raise NotFound(f"Instance {uuid} could not be found.")
    return instance


async def set_state(
    session: AsyncSession, uuid: str, *, expected_task: Any = ..., **values: Any
) -> bool:
    """Update the instance if it still has ``expected_task`` (Nova's expected_task_state);
    False when another request changed it first (or it is gone)."""
    stmt = update(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
    if expected_task is not ...:
        if isinstance(expected_task, tuple | list | set):
            options = [t for t in expected_task if t is not None]
            cond = Instance.task_state.in_(options)
            if None in expected_task:
                cond = cond | Instance.task_state.is_(None)
            stmt = stmt.where(cond)
        elif expected_task is None:
            stmt = stmt.where(Instance.task_state.is_(None))
        else:
            stmt = stmt.where(Instance.task_state == expected_task)
    if "system_metadata" in values:
        values["system_metadata"] = await _keep_info_cache(session, uuid, values["system_metadata"])
    result = await session.execute(stmt.values(updated_at=utcnow(), **values))
    return bool(getattr(result, "rowcount", 0))


async def _keep_info_cache(
    session: AsyncSession, uuid: str, meta: dict[str, Any] | None
) -> dict[str, Any]:
    """``meta`` with the network info cache as it is now: only the networking code writes
    that key, so a flow that read the metadata earlier cannot put back an older cache."""
    from onestack.compute.network import CACHE_KEY

    current = (
        await session.execute(
            select(Instance.system_metadata).where(Instance.uuid == uuid).with_for_update()
        )
    ).scalar()
    out = {k: v for k, v in (meta or {}).items() if k != CACHE_KEY}
    if current and CACHE_KEY in current:
        out[CACHE_KEY] = current[CACHE_KEY]
    return out


def fault(message: str, code: int = 500, exc: BaseException | None = None) -> dict[str, Any]:
    details = ""
    if exc is not None:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    return {
        "code": code,
        "message": message[:255],
        "details": details,
        "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def start_action(
    session: AsyncSession, uuid: str, action: str, ctx: Any, message: str | None = None
) -> None:
    session.add(
        InstanceAction(
            instance_uuid=uuid,
            action=action,
            request_id=getattr(ctx, "request_id", "") or "",
            user_id=getattr(ctx, "user_id", None),
            project_id=getattr(ctx, "project_id", None),
            message=message,
            events=[],
        )
    )


async def record_event(
    session: AsyncSession,
    uuid: str,
    event: str,
    host: str | None,
    result: str = "Success",
    traceback_text: str | None = None,
) -> None:
    """Add a finished event to the instance's latest action (and an error message to it)."""
    action = (
        await session.execute(
            select(InstanceAction)
            .where(InstanceAction.instance_uuid == uuid)
            .order_by(InstanceAction.id.desc())
            .limit(1)
        )
    ).scalar()
    if action is None:
        return
    now = utcnow().isoformat()
    entry = {
        "event": event,
        "start_time": now,
        "finish_time": now,
        "result": result,
        "host": host,
        "traceback": traceback_text,
    }
    action.events = [*action.events, entry]
    if result == "Error":
        action.message = "Error"


MIGRATION_TYPES = {
    "resize": "resize",
    "migrate": "migration",
    "live-migration": "live-migration",
    "evacuate": "evacuation",
}


async def set_migration(session: AsyncSession, uuid: str | None, **values: Any) -> None:
    """Update a migration record (its status as the move goes on)."""
    if uuid:
        await session.execute(
            update(Migration).where(Migration.uuid == uuid).values(updated_at=utcnow(), **values)
        )
