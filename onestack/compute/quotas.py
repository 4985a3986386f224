"""Per-project Compute quotas (Nova's ``os-quota-sets`` model): defaults from ``[compute]
default_quotas``, per-project values in this database, usage counted from its own rows under
the project's quota lock (so concurrent boots never pass a limit together)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.quota import ConfiguredLimits, QuotaEnforcer
from onestack.compute.models import QUOTA_TABLES, Instance, KeyPair, ServerGroup

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

#: Resources the quota-set API shows (2.57+ drops the injected_* and network ones).
RESOURCES = (
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
)


class ComputeQuotas:
    def __init__(self, core: ComputeCore):
        self.core = core
        self.limits = ConfiguredLimits(core.conf.default_quotas, QUOTA_TABLES, core.db)
        self.enforcer = QuotaEnforcer(self.limits, QUOTA_TABLES.locks, code=403)

    async def usage(
        self, session: AsyncSession, project_id: str, resources: Collection[str]
    ) -> Mapping[str, int]:
        used: dict[str, int] = {}
        if {"instances", "cores", "ram"} & set(resources):
            row = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(Instance.vcpus), 0),
                        func.coalesce(func.sum(Instance.memory_mb), 0),
                    ).where(Instance.project_id == project_id, Instance.deleted.is_(False))
                )
            ).one()
            used.update(instances=int(row[0]), cores=int(row[1]), ram=int(row[2]))
        if "server_groups" in resources:
            used["server_groups"] = int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(ServerGroup)
                        .where(ServerGroup.project_id == project_id)
                    )
                ).scalar()
                or 0
            )
        return used

    async def check_instances(
        self, session: AsyncSession, project_id: str, count: int, vcpus: int, ram: int
    ) -> None:
        await self.enforcer.enforce(
            session,
            project_id,
            {"instances": count, "cores": count * vcpus, "ram": count * ram},
            self.usage,
        )

    async def check_keypairs(self, session: AsyncSession, project_id: str, user_id: str) -> None:
        async def usage(s: AsyncSession, _p: str, _r: Collection[str]) -> Mapping[str, int]:
            n = (
                await s.execute(
                    select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
                )
            ).scalar()
            return {"key_pairs": int(n or 0)}

        await self.enforcer.enforce(session, project_id, {"key_pairs": 1}, usage)

    async def check_server_groups(self, session: AsyncSession, project_id: str) -> None:
        await self.enforcer.enforce(session, project_id, {"server_groups": 1}, self.usage)

    async def limit_of(self, session: AsyncSession, project_id: str, resource: str) -> int:
        return (await self.limits.limits(project_id, [resource], session=session))[resource]
