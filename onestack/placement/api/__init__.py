"""The Placement HTTP API: one handler module per resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends

from onestack.common.auth import authenticated


def protected_router(dependencies: Sequence[Any] = ()) -> APIRouter:
    """Routes that require a valid X-Auth-Token; each handler adds its policy check."""
    return APIRouter(dependencies=[Depends(authenticated), *dependencies])
