"""Per-project image quotas, as Glance enforces Keystone unified limits.

Resources (service type ``image``): ``image_count_total`` (images a project owns),
``image_count_uploading`` (its images being uploaded, staged or imported), ``image_size_total``
(MiB of image data in stores) and ``image_stage_total`` (MiB in the staging area). Limits come
from Keystone (a project's limit, else the registered default), else from ``[image]
default_limits``, else none (-1). Usage is counted in this service's database inside the
caller's write transaction, under the project's quota lock, so racing requests cannot both
pass. As in Glance, a size limit is checked before data arrives (usage must be under it) and
the upload is then capped at what is left.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.quota import (
    UNLIMITED,
    Overage,
    QuotaEnforcer,
    QuotaExceeded,
    UnifiedLimits,
)
from onestack.image.models import QUOTA_TABLES, Image, ImageLocation

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

MiB = 1024 * 1024
RESOURCES = ("image_count_total", "image_count_uploading", "image_size_total", "image_stage_total")
UPLOADING = ("saving", "uploading", "importing")
SIZE_RESOURCES = ("image_size_total", "image_stage_total")
_NOT_SET = -2


def over_quota(resource: str, limit: int, usage: int, requested: int) -> QuotaExceeded:
    return QuotaExceeded([Overage(resource, limit, usage, requested)], code=413)


class _KeystoneOrDefaults:
    """Keystone's unified limits, with ``[image] default_limits`` where Keystone has none."""

    def __init__(self, unified: UnifiedLimits, defaults: Mapping[str, int]):
        self.unified = unified
        self.defaults = dict(defaults)

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        found = await self.unified.limits(project_id, resources)
        return {
            r: self.defaults.get(r, UNLIMITED) if v == _NOT_SET else v for r, v in found.items()
        }


class ImageQuotas:
    def __init__(self, mgr: ImageManager):
        self.mgr = mgr
        settings = mgr.settings
        clients = mgr.platform.clients
        identity = clients.for_service("identity", user="glance")

        async def fetch(path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
            if path == "/v3/services":
                # The service token's catalog names the services (and their ids); listing
                # services needs more than a service user's project-scoped token may do.
                token = await clients.token("glance")
                wanted = params.get("type")
                found = [
                    {"id": entry["id"], "type": entry["type"]}
                    for entry in token.catalog
                    if "id" in entry and (wanted is None or entry.get("type") == wanted)
                ]
                return {"services": found}
            body: Mapping[str, Any] = await identity.get_json(path, params=dict(params))
            return body

        self.unified = UnifiedLimits(fetch, "image", region_id=settings.region, missing=_NOT_SET)
        self.source = _KeystoneOrDefaults(self.unified, mgr.conf.default_limits)
        self.enforcer = QuotaEnforcer(self.source, QUOTA_TABLES.locks, code=413)

    async def limits(self, project_id: str) -> dict[str, int]:
        """Each resource's limit for ``project_id`` (sizes in MiB), -1 when unlimited."""
        return await self.source.limits(project_id, RESOURCES)

    async def usage(self, session: AsyncSession, project_id: str, resource: str) -> int:
        """Current usage (bytes for the size resources)."""
        owned = Image.owner == project_id
        stmt: Any
        if resource == "image_count_total":
            stmt = select(func.count()).select_from(Image).where(owned)
        elif resource == "image_count_uploading":
            stmt = select(func.count()).select_from(Image).where(owned, Image.status.in_(UPLOADING))
        elif resource == "image_size_total":
            stmt = (
                select(func.coalesce(func.sum(Image.size), 0))
                .select_from(Image)
                .join(ImageLocation, ImageLocation.image_id == Image.id)
                .where(owned, ImageLocation.status == "active")
            )
        elif resource == "image_stage_total":
            stmt = select(func.coalesce(func.sum(Image.size), 0)).where(
                owned, Image.status.in_(("uploading", "importing"))
            )
        else:
            raise ValueError(resource)
        return int((await session.execute(stmt)).scalar() or 0)

    async def _usages(
        self, session: AsyncSession, project_id: str, resources: Collection[str]
    ) -> dict[str, int]:
        return {r: await self.usage(session, project_id, r) for r in resources}

    async def enforce(
        self, session: AsyncSession, project_id: str | None, deltas: dict[str, int]
    ) -> None:
        """413 when a count would exceed its limit, or a size is already at or over its own
        (size deltas are 0: the data has not arrived yet)."""
        if project_id is None:
            return
        counts = {r: d for r, d in deltas.items() if r not in SIZE_RESOURCES}
        await self.enforcer.enforce(session, project_id, counts, usage=self._usages)
        sizes = [r for r in deltas if r in SIZE_RESOURCES]
        if not sizes:
            return
        limits = await self.source.limits(project_id, sizes)
        for resource in sizes:
            limit = limits[resource]
            if limit <= UNLIMITED:
                continue
            used = await self.usage(session, project_id, resource)
            if used >= limit * MiB:
                raise over_quota(resource, limit, -(-used // MiB), 0)

    async def remaining_bytes(
        self, session: AsyncSession, project_id: str | None, resource: str
    ) -> int | None:
        """Bytes left under a size limit (None: unlimited)."""
        if project_id is None:
            return None
        limit = (await self.source.limits(project_id, [resource]))[resource]
        if limit <= UNLIMITED:
            return None
        return max(0, limit * MiB - await self.usage(session, project_id, resource))

    async def report(self, session: AsyncSession, project_id: str) -> dict[str, dict[str, int]]:
        """``/v2/info/usage``: each resource's limit and usage (sizes in MiB)."""
        limits = await self.limits(project_id)
        out: dict[str, dict[str, int]] = {}
        for resource in RESOURCES:
            used = await self.usage(session, project_id, resource)
            if resource in SIZE_RESOURCES:
                used = used // MiB
            out[resource] = {"limit": limits[resource], "usage": used}
        return out
