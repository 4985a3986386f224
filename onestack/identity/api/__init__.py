"""The Identity v3 HTTP API: one router per resource area."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from onestack.common.auth import authenticated


def public_router() -> APIRouter:
    """Routes that answer without a token (version discovery, issuing tokens)."""
    return APIRouter()


def protected_router(prefix: str = "/v3") -> APIRouter:
    """Routes that require a valid X-Auth-Token; each handler adds its policy check."""
    return APIRouter(prefix=prefix, dependencies=[Depends(authenticated)])
