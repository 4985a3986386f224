"""/v3/OS-REVOKE/events: the revocation events a service needs to check tokens itself."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import ValidationError
from onestack.identity import revoke
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, enforce, self_link
from onestack.identity.manager import manager_of
from onestack.identity.models import RevocationEvent
from onestack.identity.views import isotime, parse_isotime

router = protected_router()

#: Event columns rendered under their own name; the others carry their extension's prefix.
PLAIN = ("user_id", "role_id", "domain_id", "project_id", "audit_id", "audit_chain_id")
PREFIXED = (
    ("trust_id", "OS-TRUST:trust_id"),
    ("consumer_id", "OS-OAUTH1:consumer_id"),
    ("access_token_id", "OS-OAUTH1:access_token_id"),
)


def view(event: RevocationEvent) -> dict[str, Any]:
    body: dict[str, Any] = {k: getattr(event, k) for k in PLAIN if getattr(event, k) is not None}
    for column, key in PREFIXED:
        if getattr(event, column) is not None:
            body[key] = getattr(event, column)
    body["issued_before"] = isotime(event.issued_before)
    body["revoked_at"] = isotime(event.revoked_at)
    return body


@router.get("/OS-REVOKE/events")
async def list_events(request: Request, ctx: RequestContext = Caller) -> Response:
    enforce(request, ctx, "identity:list_revoke_events")
    since = None
    raw = request.query_params.get("since")
    if raw:
        try:
            # a '+' of an offset arrives as a space when the client did not encode it
            since = parse_isotime(raw.replace(" ", "+"))
        except ValueError:
            raise ValidationError(
                f"Invalid since {raw!r}: give an ISO 8601 time, e.g. 2026-12-01T10:00:00Z."
            ) from None
    async with manager_of(request).read() as session:
        events = await revoke.list_events(session, since)
    return json(
        {
            "events": [view(e) for e in events],
            "links": {**self_link(request, "OS-REVOKE/events"), "next": None, "previous": None},
        }
    )
