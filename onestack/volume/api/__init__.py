"""The Block Storage v3 HTTP API: one router per resource area, served under
``/v3/{project_id}`` and (3.67+) ``/v3``."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from onestack.volume.api.common import checked_project


def protected_router() -> APIRouter:
    """Routes that need a valid X-Auth-Token whose project the URL names (each handler adds
    its policy check)."""
    return APIRouter(dependencies=[Depends(checked_project)])
