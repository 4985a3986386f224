"""What the projects, users and groups APIs share: owning domains, guarded lookups, extras.

Policy targets never carry a None: oslo.policy renders it as the string "None", which would
equal a credential that is also None (e.g. ``domain_id`` of a project-scoped token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, NotFound
from onestack.identity.api.common import enforce, truthy
from onestack.identity.manager import manager_of
from onestack.identity.resource import DEFAULT_DOMAIN_ID
from onestack.identity.users import EXPIRY_OPERATORS
from onestack.identity.views import parse_isotime


class Owned(Protocol):
    id: str
    domain_id: str


OwnedT = TypeVar("OwnedT", bound=Owned)


def caller_domain(ctx: RequestContext) -> str:
    """The domain new resources land in when none is given: the caller's scope's domain."""
    return ctx.domain_id or ctx.project_domain_id or DEFAULT_DOMAIN_ID


def ref(obj_id: str, obj: Owned | None) -> dict[str, str]:
    """A policy target entry for ``obj`` (just the id when it does not exist)."""
    return {"id": obj_id, "domain_id": obj.domain_id} if obj is not None else {"id": obj_id}


def guard(
    request: Request,
    ctx: RequestContext,
    rule: str,
    kind: str,
    obj_id: str,
    obj: OwnedT | None,
) -> OwnedT:
    """Enforce ``rule`` on the loaded ``obj``; a missing one is 404 only to who could see it.

    A caller the policy refuses gets 403 either way, so ids reveal nothing across tenants.
    """
    enforce(request, ctx, rule, {"target": {kind: ref(obj_id, obj)}})
    if obj is None:
        raise NotFound(f"Could not find {kind}: {obj_id}.")
    return obj


async def load_guarded(
    request: Request,
    ctx: RequestContext,
    rule: str,
    kind: str,
    obj_id: str,
    find: Callable[[AsyncSession, str], Awaitable[OwnedT | None]],
) -> OwnedT:
    """Load ``obj_id`` with ``find`` and :func:`guard` it."""
    async with manager_of(request).read() as session:
        obj = await find(session, obj_id)
    return guard(request, ctx, rule, kind, obj_id, obj)


def list_domain(request: Request, ctx: RequestContext, rule: str) -> str | None:
    """Enforce a list ``rule``; the domain the list is limited to (a domain-scoped caller's)."""
    domain_id = request.query_params.get("domain_id") or ctx.domain_id
    enforce(request, ctx, rule, {"target": {"domain_id": domain_id} if domain_id else {}})
    return domain_id


def flag(request: Request, name: str) -> bool | None:
    """A boolean query filter: None when absent."""
    q = request.query_params
    return truthy(q[name]) if name in q else None


def columns(
    fields: BaseModel, reserved: Iterable[str], exclude: Iterable[str] = ()
) -> dict[str, Any]:
    """The known fields a body set (but ``exclude``), its free attributes under ``extra``."""
    free = extras(fields, reserved)
    data = {
        k: v
        for k, v in fields.model_dump(exclude_unset=True).items()
        if k not in free and k not in set(exclude)
    }
    if data.get("enabled", True) is None:
        del data["enabled"]  # null means "as it is"
    if free:
        data["extra"] = free
    return data


def extras(fields: BaseModel, reserved: Iterable[str]) -> dict[str, Any]:
    """The free attributes of a body (kept in ``extra``); 400 for names the API owns."""
    extra = dict(fields.model_extra or {})
    clash = sorted(set(extra) & set(reserved))
    if clash:
        raise BadRequest(f"Invalid input for field '{clash[0]}': it cannot be set.")
    return extra


def public_extra(extra: Mapping[str, Any] | None, reserved: Iterable[str]) -> dict[str, Any]:
    """The stored free attributes to render at the top level of a view."""
    hidden = set(reserved)
    return {k: v for k, v in (extra or {}).items() if k not in hidden}


def expiry_filter(request: Request) -> tuple[str, dt.datetime] | None:
    """``password_expires_at={operator}:{timestamp}`` (operator ``eq`` when omitted)."""
    raw = request.query_params.get("password_expires_at")
    if raw is None:
        return None
    op, _, rest = raw.partition(":")
    if op not in EXPIRY_OPERATORS:
        op, rest = "eq", raw
    try:
        return op, parse_isotime(rest)
    except ValueError:
        raise BadRequest(
            f"Invalid password_expires_at filter {raw!r}: use {{operator}}:{{timestamp}} with "
            f"an operator among {', '.join(EXPIRY_OPERATORS)} and an ISO 8601 timestamp."
        ) from None
