"""Per-project Compute quotas (Nova's ``os-quota-sets`` model): defaults from ``[compute]
default_quotas``, per-project values in this database, usage counted from its own rows under
the project's quota lock (so concurrent boots never pass a limit together)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.quota import ConfiguredLimits, QuotaEnforcer, UnifiedLimits
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


#: Nova's unified-limit resource names (service type ``compute``).
UNIFIED = {
    "instances": "servers",
    "cores": "class:VCPU",
    "ram": "class:MEMORY_MB",
    "key_pairs": "server_key_pairs",
    "metadata_items": "server_metadata_items",
    "server_groups": "server_groups",
    "server_group_members": "server_group_members",
}
_NOT_SET = -2


class UnifiedOrConfigured:
    """Keystone's unified limits where the operator set them (``quota_driver = "unified"``),
    else the configured defaults and per-project values of ``os-quota-sets``."""

    def __init__(self, unified: UnifiedLimits, configured: ConfiguredLimits):
        self.unified = unified
        self.configured = configured
        self.defaults = configured.defaults
        self.tables = configured.tables

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        names = {r: UNIFIED[r] for r in resources if r in UNIFIED}
        found = await self.unified.limits(project_id, list(names.values()))
        own = await self.configured.limits(project_id, resources, session=session)
        return {
            r: found[names[r]] if r in names and found[names[r]] != _NOT_SET else own[r]
            for r in resources
        }

    def __getattr__(self, name: str) -> object:  # overrides, set_overrides, delete_overrides
        return getattr(self.configured, name)


#: The quota class whose values stand in for the configured defaults (Nova uses only it).
DEFAULT_CLASS = "class:default"


class ClassedLimits(ConfiguredLimits):
    """A project's own values, else the ``default`` quota class's, else the configuration."""

    async def limits(
        self, project_id: str, resources: Collection[str], *, session: AsyncSession | None = None
    ) -> dict[str, int]:
        if session is None:
            assert self.db is not None
            async with self.db.session() as own:
                return await self.limits(project_id, resources, session=own)
        own_values = await self.overrides(session, project_id, resources)
        classed = await self.overrides(session, DEFAULT_CLASS, resources)
        return {r: own_values.get(r, classed.get(r, self.defaults.get(r, -1))) for r in resources}


class ComputeQuotas:
    def __init__(self, core: ComputeCore):
        self.core = core
        configured = ClassedLimits(core.conf.default_quotas, QUOTA_TABLES, core.db)
        self.limits: ConfiguredLimits | UnifiedOrConfigured = configured
        if core.conf.quota_driver == "unified":
            self.limits = UnifiedOrConfigured(_unified(core), configured)
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


def _unified(core: ComputeCore) -> UnifiedLimits:
    clients = core.platform.clients
    identity = clients.for_service("identity", user="nova")

    async def fetch(path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        if path == "/v3/services":  # the service token's catalog names the services
            token = await clients.token("nova")
            wanted = params.get("type")
            return {
                "services": [
                    {"id": e["id"], "type": e["type"]}
                    for e in token.catalog
                    if "id" in e and (wanted is None or e.get("type") == wanted)
                ]
            }
        body: Mapping[str, Any] = await identity.get_json(path, params=dict(params))
        return body

    return UnifiedLimits(fetch, "compute", region_id=core.settings.region, missing=_NOT_SET)
