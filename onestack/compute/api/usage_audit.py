"""``os-instance-usage-audit-log``: the usage audit of the last completed period (index), or
of the last one before a time (show), over every compute host (admin)."""

from __future__ import annotations

import datetime as dt

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.compute import usage_audit
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller
from onestack.compute.core import core_of

router = protected_router()


@router.get("/os-instance-usage-audit-log")
async def audit_log(request: Request, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-instance-usage-audit-log:list")
    return json({"instance_usage_audit_logs": await usage_audit.summary(core)})


@router.get("/os-instance-usage-audit-log/{before}")
async def audit_log_before(request: Request, before: str, ctx: RequestContext = Caller) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-instance-usage-audit-log:show")
    when = None
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            when = dt.datetime.strptime(before, layout)
            break
        except ValueError:
            continue
    if when is None:
        raise BadRequest(f"Invalid timestamp for date {before}")
    return json({"instance_usage_audit_log": await usage_audit.summary(core, when)})
