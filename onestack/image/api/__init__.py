"""The Image v2 HTTP API: one router per resource area."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from onestack.common.auth import authenticated


def public_router() -> APIRouter:
    """Routes that answer without a token (version discovery)."""
    return APIRouter()


def protected_router() -> APIRouter:
    """Routes under /v2 that require a valid X-Auth-Token; each handler adds its policy check."""
    return APIRouter(prefix="/v2", dependencies=[Depends(authenticated)])
