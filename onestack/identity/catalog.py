"""The service catalog: regions, services and endpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.identity.models import Endpoint, Service


async def build_catalog(session: AsyncSession) -> list[dict[str, Any]]:
    """The catalog a token carries: enabled services with their enabled endpoints."""
    services = (await session.execute(select(Service).where(Service.enabled.is_(True)))).scalars()
    endpoints = (
        await session.execute(select(Endpoint).where(Endpoint.enabled.is_(True)))
    ).scalars()
    by_service: dict[str, list[dict[str, Any]]] = {}
    for ep in endpoints:
        by_service.setdefault(ep.service_id, []).append(
            {
                "id": ep.id,
                "interface": ep.interface,
                "region": ep.region_id,
                "region_id": ep.region_id,
                "url": ep.url,
            }
        )
    return [
        {"endpoints": by_service.get(s.id, []), "id": s.id, "type": s.type, "name": s.name or ""}
        for s in services
    ]
