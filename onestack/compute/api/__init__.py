"""The Compute v2.1 HTTP API: one router per resource area."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from onestack.common.auth import authenticated


def public_router() -> APIRouter:
    return APIRouter()


def protected_router() -> APIRouter:
    """Routes under /v2.1 that require a valid X-Auth-Token (each adds its policy check)."""
    return APIRouter(prefix="/v2.1", dependencies=[Depends(authenticated)])
