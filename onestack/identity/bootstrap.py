"""First start (and every start): the cloud's initial identity data, idempotently.

Domain Default; roles admin > member > reader (each implies the next) and service; projects
admin, demo, service; users admin (admin on project admin and on the system) and demo (member
of demo); region RegionOne; a catalog entry with public/internal/admin endpoints for every
enabled service, whose URLs follow the configured base URL.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.files import write_private
from onestack.common.service import ServiceSpec
from onestack.identity import revoke
from onestack.identity.manager import IdentityManager
from onestack.identity.models import (
    GLOBAL_ROLE_DOMAIN,
    SYSTEM_TARGET,
    Assignment,
    Domain,
    Endpoint,
    ImpliedRole,
    Project,
    Region,
    Role,
    Service,
    User,
)
from onestack.identity.passwords import check_password, hash_password
from onestack.identity.resource import DEFAULT_DOMAIN_ID

INTERFACES = ("public", "internal", "admin")


def secret_file(data_dir: Path, name: str, given: str | None) -> tuple[str, bool]:
    """The password kept in ``data_dir/name`` (mode 0600): ``given`` if set, else the kept one,
    else a new one; and whether the database must be told (given, or newly made)."""
    path = data_dir / name
    kept = path.read_text().strip() if path.is_file() else ""
    if given or not kept:
        value = given or secrets.token_urlsafe(18)
        write_private(path, value + "\n")
        return value, True
    return kept, False


async def bootstrap(
    mgr: IdentityManager,
    services: Iterable[ServiceSpec],
    base_urls: dict[str, str] | None = None,
) -> dict[str, str]:
    """Create or reconcile the initial data; return ids of the admin project and users.
    ``base_urls`` names services served by another process (name -> its base URL)."""
    services = list(services)
    base_urls = base_urls or {}
    settings = mgr.settings
    admin_password, admin_changed = secret_file(
        settings.data_dir, "admin-password", settings.admin_password
    )
    demo_password, demo_changed = secret_file(settings.data_dir, "demo-password", None)
    rounds = mgr.conf.password_hash_rounds
    async with mgr.write() as s:
        if await s.get(Domain, DEFAULT_DOMAIN_ID) is None:
            s.add(
                Domain(
                    id=DEFAULT_DOMAIN_ID,
                    name="Default",
                    description="The default domain",
                    enabled=True,
                    options={},
                    extra={},
                )
            )
        roles = {name: await _role(s, name) for name in ("admin", "member", "reader", "service")}
        for prior, implied in (("admin", "member"), ("member", "reader")):
            if await s.get(ImpliedRole, (roles[prior], roles[implied])) is None:
                s.add(ImpliedRole(prior_role_id=roles[prior], implied_role_id=roles[implied]))
        projects = {name: await _project(s, name) for name in ("admin", "demo", "service")}
        admin = await _user(
            s,
            "admin",
            admin_password,
            rounds,
            projects["admin"],
            reset=admin_changed,
        )
        demo = await _user(s, "demo", demo_password, rounds, projects["demo"], reset=demo_changed)
        await _grant(s, "UserProject", admin, projects["admin"], roles["admin"])
        await _grant(s, "UserSystem", admin, SYSTEM_TARGET, roles["admin"])
        await _grant(s, "UserProject", demo, projects["demo"], roles["member"])
        service_password, service_changed = secret_file(
            settings.data_dir, "service-password", settings.service_password
        )
        for spec in services:
            if spec.name == "identity" or not spec.catalog_type:
                continue
            user = await _user(
                s,
                spec.catalog_name,
                service_password,
                rounds,
                projects["service"],
                reset=service_changed,
            )
            for role in ("service", "admin"):
                await _grant(s, "UserProject", user, projects["service"], roles[role])
            await _grant(s, "UserSystem", user, SYSTEM_TARGET, roles["reader"])
        if await s.get(Region, settings.region) is None:
            s.add(Region(id=settings.region, description="", extra={}))
        await s.flush()
        for spec in services:
            if not spec.catalog_type:
                continue  # not in the catalog (the metadata API)
            base = base_urls.get(spec.name, settings.base_url).rstrip("/")
            await _catalog_entry(s, spec, base, settings.region)
            for alias in spec.catalog_aliases:
                await _catalog_entry(s, replace(spec, catalog_type=alias), base, settings.region)
    return {
        "admin_project_id": projects["admin"],
        "admin_user_id": admin,
        "demo_user_id": demo,
        "demo_project_id": projects["demo"],
    }


async def _role(s: AsyncSession, name: str) -> str:
    role = (
        await s.execute(select(Role).where(Role.name == name, Role.domain_id == GLOBAL_ROLE_DOMAIN))
    ).scalar()
    if role is None:
        role = Role(id=new_id(), name=name, domain_id=GLOBAL_ROLE_DOMAIN, options={}, extra={})
        s.add(role)
        await s.flush()
    return role.id


async def _project(s: AsyncSession, name: str) -> str:
    project = (
        await s.execute(
            select(Project).where(Project.name == name, Project.domain_id == DEFAULT_DOMAIN_ID)
        )
    ).scalar()
    if project is None:
        project = Project(
            id=new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            description=f"Bootstrap project {name}",
            enabled=True,
            options={},
            extra={},
        )
        s.add(project)
        await s.flush()
    return project.id


async def _user(
    s: AsyncSession, name: str, password: str, rounds: int, project_id: str, reset: bool
) -> str:
    user = (
        await s.execute(select(User).where(User.name == name, User.domain_id == DEFAULT_DOMAIN_ID))
    ).scalar()
    if user is None:
        user = User(
            id=new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            enabled=True,
            default_project_id=project_id,
            options={},
            extra={},
            password_hash=await hash_password(password, rounds),
        )
        s.add(user)
        await s.flush()
    elif reset and not await check_password(password, user.password_hash, rounds):
        user.password_hash = await hash_password(password, rounds)
        user.enabled = True
        await revoke.revoke(s, user_id=user.id)
    return user.id


async def _grant(s: AsyncSession, kind: str, actor: str, target: str, role: str) -> None:
    key = (kind, actor, target, role, False)
    if await s.get(Assignment, key) is None:
        s.add(
            Assignment(type=kind, actor_id=actor, target_id=target, role_id=role, inherited=False)
        )


async def _catalog_entry(s: AsyncSession, spec: ServiceSpec, base_url: str, region: str) -> None:
    service = (
        await s.execute(
            select(Service).where(
                Service.type == spec.catalog_type, Service.name == spec.catalog_name
            )
        )
    ).scalar()
    if service is None:
        service = Service(
            id=new_id(),
            type=spec.catalog_type,
            name=spec.catalog_name,
            description=f"onestack {spec.name}",
            enabled=True,
            extra={},
        )
        s.add(service)
        await s.flush()
    url = f"{base_url}{spec.prefix}{spec.endpoint_suffix}"
    existing = {
        e.interface: e
        for e in (
            await s.execute(select(Endpoint).where(Endpoint.service_id == service.id))
        ).scalars()
    }
    for interface in INTERFACES:
        ep = existing.get(interface)
        if ep is None:
            s.add(
                Endpoint(
                    id=new_id(),
                    service_id=service.id,
                    interface=interface,
                    region_id=region,
                    url=url,
                    enabled=True,
                    extra={},
                )
            )
        elif ep.url != url:
            ep.url = url
