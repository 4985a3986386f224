"""Per-project Block Storage quotas (Cinder's ``os-quota-sets``): defaults from ``[volume]
quotas``, per-project values in this database, per-type resources (``volumes_TYPE``,
``gigabytes_TYPE``, ``snapshots_TYPE``) and usage counted from this service's own rows under the
project's quota lock, so two concurrent creates never pass a limit together."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.quota import (
    UNLIMITED,
    ConfiguredLimits,
    Overage,
    QuotaEnforcer,
    QuotaExceeded,
)
from onestack.volume.models import QUOTA_TABLES, Backup, Snapshot, Volume, VolumeType

if TYPE_CHECKING:
    from onestack.volume.core import VolumeCore

#: The resources every quota set shows (per-type ones are added for each type).
RESOURCES = (
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "groups",
    "per_volume_gigabytes",
)
PER_TYPE = ("volumes", "gigabytes", "snapshots")


class TypedLimits(ConfiguredLimits):
    """Configured defaults; a per-type resource defaults to unlimited as in Cinder."""

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        found = await super().limits(project_id, resources, session=session)
        return {r: found.get(r, UNLIMITED) for r in resources}

    async def set_overrides(
        self, session: AsyncSession, project_id: str, values: Mapping[str, int]
    ) -> None:
        self.defaults.update({r: UNLIMITED for r in values if r not in self.defaults})
        await super().set_overrides(session, project_id, values)


class VolumeQuotas:
    def __init__(self, core: VolumeCore):
        self.core = core
        self.limits = TypedLimits(core.conf.quotas, QUOTA_TABLES, core.db)
        self.enforcer = QuotaEnforcer(self.limits, QUOTA_TABLES.locks, code=413)

    async def check(
        self, session: AsyncSession, project_id: str, deltas: Mapping[str, int]
    ) -> None:
        """413 (``overLimit``) unless the project can take ``deltas``; per-volume size too."""
        size = deltas.get("gigabytes", 0)
        if size:
            per_volume = (
                await self.limits.limits(project_id, ["per_volume_gigabytes"], session=session)
            )["per_volume_gigabytes"]
            if per_volume != UNLIMITED and size > per_volume:
                raise QuotaExceeded(
                    [Overage("per_volume_gigabytes", per_volume, 0, size)], code=413
                )
        await self.enforcer.enforce(session, project_id, deltas, usage)

    async def usage_of(self, session: AsyncSession, project_id: str) -> dict[str, int]:
        names = [*RESOURCES, *[f"{r}_{t}" for t in await type_names(session) for r in PER_TYPE]]
        return dict(await usage(session, project_id, names))


async def type_names(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(VolumeType.name))).scalars())


async def usage(
    session: AsyncSession, project_id: str, resources: Collection[str]
) -> dict[str, int]:
    """What the project holds of each resource, counted from the rows that exist."""
    used: dict[str, int] = {}
    vols = (
        await session.execute(
            select(VolumeType.name, func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0))
            .join(VolumeType, VolumeType.id == Volume.volume_type_id)
            .where(Volume.project_id == project_id)
            .group_by(VolumeType.name)
        )
    ).all()
    snaps = (
        await session.execute(
            select(
                VolumeType.name, func.count(Snapshot.id), func.coalesce(func.sum(Snapshot.size), 0)
            )
            .join(Volume, Volume.id == Snapshot.volume_id)
            .join(VolumeType, VolumeType.id == Volume.volume_type_id)
            .where(Snapshot.project_id == project_id)
            .group_by(VolumeType.name)
        )
    ).all()
    used["volumes"] = sum(n for _, n, _ in vols)
    used["snapshots"] = sum(n for _, n, _ in snaps)
    used["gigabytes"] = sum(int(g) for _, _, g in vols) + sum(int(g) for _, _, g in snaps)
    for name, count, gb in vols:
        used[f"volumes_{name}"] = count
        used[f"gigabytes_{name}"] = used.get(f"gigabytes_{name}", 0) + int(gb)
    for name, count, gb in snaps:
        used[f"snapshots_{name}"] = count
        used[f"gigabytes_{name}"] = used.get(f"gigabytes_{name}", 0) + int(gb)
    if {"backups", "backup_gigabytes"} & set(resources):
        count, gb = (
            await session.execute(
                select(func.count(Backup.id), func.coalesce(func.sum(Backup.size), 0)).where(
                    Backup.project_id == project_id
                )
            )
        ).one()
        used["backups"], used["backup_gigabytes"] = int(count), int(gb)
    return {r: used.get(r, 0) for r in resources}
