"""Nova's instance usage audit: with ``instance_usage_audit`` on, each compute host, once per
audit period (``instance_usage_audit_period``: hour, day, month or year), sends an
``instance.exists`` notification for every instance it ran in the last completed period and
records the run in the task log that ``os-instance-usage-audit-log`` reports."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from onestack.common.db import utcnow
from onestack.compute.models import ComputeService, Instance, TaskLog

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

TASK = "instance_usage_audit"
UNITS = ("hour", "day", "month", "year")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def last_completed_period(unit: str, before: dt.datetime | None = None) -> tuple[Any, Any]:
    """The (beginning, ending) of the last whole period ending at or before ``before``."""
    now = before or utcnow()
    if unit == "hour":
        end = now.replace(minute=0, second=0, microsecond=0)
        return end - dt.timedelta(hours=1), end
    if unit == "day":
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return end - dt.timedelta(days=1), end
    if unit == "year":
        end = dt.datetime(now.year, 1, 1)
        return dt.datetime(now.year - 1, 1, 1), end
    end = dt.datetime(now.year, now.month, 1)
    begin = dt.datetime(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)
    return begin, end


async def run(core: ComputeCore, host: str) -> int | None:
    """Audit the last completed period on ``host`` once; the instances counted, or None
    when it is off or already ran."""
    if not core.conf.instance_usage_audit:
        return None
    begin, end = last_completed_period(core.conf.instance_usage_audit_period)
    started = time.monotonic()
    async with core.write() as session:
        stmt = select(TaskLog).where(
            TaskLog.task_name == TASK,
            TaskLog.host == host,
            TaskLog.period_beginning == begin,
            TaskLog.period_ending == end,
        )
        if (await session.execute(stmt)).scalar() is not None:
            return None
        log = TaskLog(
            task_name=TASK, state="RUNNING", host=host, period_beginning=begin, period_ending=end
        )
        session.add(log)
    async with core.read() as session:
        rows = list(
            (
                await session.execute(
                    select(Instance).where(
                        Instance.host == host,
                        Instance.launched_at.is_not(None),
                        Instance.launched_at < end,
                        or_(Instance.terminated_at.is_(None), Instance.terminated_at > begin),
                    )
                )
            ).scalars()
        )
    errors = 0
    for instance in rows:
        try:
            await core.notify_instance(None, "instance.exists", instance, audit_period=(begin, end))
        except Exception:
            errors += 1
    seconds = time.monotonic() - started
    async with core.write() as session:
        log = (await session.execute(stmt)).scalar_one()
        log.state, log.task_items, log.errors = "DONE", len(rows), errors
        log.message = (
            f"Instance usage audit ran for host {host}, {len(rows)} instances in "
            f"{seconds:.2f} seconds."
        )[:255]
    return len(rows)


async def summary(core: ComputeCore, before: dt.datetime | None = None) -> dict[str, Any]:
    """The audit of the last completed period (before ``before``) over every compute host."""
    begin, end = last_completed_period(core.conf.instance_usage_audit_period, before)
    async with core.read() as session:
        hosts = sorted(
            set(
                (
                    await session.execute(
                        select(ComputeService.host).where(ComputeService.binary == "nova-compute")
                    )
                ).scalars()
            )
        )
        logs = list(
            (
                await session.execute(
                    select(TaskLog).where(
                        TaskLog.task_name == TASK,
                        TaskLog.period_beginning == begin,
                        TaskLog.period_ending == end,
                    )
                )
            ).scalars()
        )
    ran = {log.host: log for log in logs}
    done = sum(1 for log in logs if log.state == "DONE")
    errors = sum(log.errors for log in logs)
    if hosts and done == len(hosts):
        status = f"ALL hosts done. {errors} errors."
    else:
        status = f"{done} of {len(hosts)} hosts done. {errors} errors."
    return {
        "hosts_not_run": [h for h in hosts if h not in ran],
        "log": {
            log.host: {
                "errors": log.errors,
                "instances": log.task_items,
                "message": log.message,
                "state": log.state,
            }
            for log in logs
        },
        "num_hosts": len(hosts),
        "num_hosts_done": done,
        "num_hosts_not_run": len([h for h in hosts if h not in ran]),
        "num_hosts_running": sum(1 for log in logs if log.state == "RUNNING"),
        "overall_status": status,
        "period_beginning": begin.strftime(TIME_FORMAT),
        "period_ending": end.strftime(TIME_FORMAT),
        "total_errors": errors,
        "total_instances": sum(log.task_items for log in logs),
    }
