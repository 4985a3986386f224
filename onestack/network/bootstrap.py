"""The first start's topology, as DevStack makes it: an external flat network ``public`` on
physical network ``public`` (172.24.4.0/24 and 2001:db8::/64), the default subnet pool
``shared-default-subnetpool-v4``, and for the demo project a network ``private`` with a subnet
from that pool and a router ``router1`` gatewayed to ``public``.

Made once: a ``network_meta`` row claims the work (one process does it) and records it done;
a start whose Identity service cannot be asked skips it and tries again next start. Each step
finds what an interrupted earlier start made before making it, so a start after a crash
(a claim older than ``STALE`` seconds) finishes the job instead of duplicating it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.network import networks, routers, subnetpools, subnets
from onestack.network.attributes import parse_create
from onestack.network.models import Meta, Network, Port, Router, Subnet, SubnetPool

LOG = logging.getLogger(__name__)
KEY = "bootstrapped"
STALE = 120.0
POOL = "shared-default-subnetpool-v4"
SERVICE_USER = "neutron"


async def _projects(mgr: Any) -> dict[str, str]:
    """The ids of projects ``admin`` and ``demo``, asked of the Identity API with the
    service user's system-scoped token (system reader: it may list projects), so this works
    the same when ``onestack serve network`` runs alone against a remote Identity."""
    clients = mgr.platform.clients
    token = await clients.token(SERVICE_USER, system=True)
    headers = {"X-Auth-Token": token.value}
    out: dict[str, str] = {}
    for name in ("admin", "demo"):
        found = await clients.http.get(
            f"{clients.auth_url}/v3/projects",
            params={"name": name, "domain_id": "default"},
            headers=headers,
        )
        found.raise_for_status()
        for project in found.json().get("projects", []):
            out[name] = project["id"]
    return out


async def first_start(mgr: Any) -> None:
    async with mgr.read() as session:
        done = (await session.execute(select(Meta).where(Meta.key == KEY))).scalar()
    if done is not None and not _stale(done.value):
        return
    if done is not None:
        await _unclaim(mgr)
    if not mgr.conf.create_default_topology:
        await _mark(mgr, "skipped")
        return
    try:
        projects = await _projects(mgr)
    except Exception:
        LOG.warning(
            "the Identity service could not be asked for the projects; the default "
            "network topology is made on a later start",
            exc_info=True,
        )
        return
    if "admin" not in projects or not await _claim(mgr):
        return
    try:
        await _make(mgr, projects)
    except Exception:
        LOG.warning("could not make the default network topology", exc_info=True)
        await _unclaim(mgr)
        return
    await _mark(mgr, "done")


def _stale(value: str) -> bool:
    """A claim of a start that died before finishing."""
    if not value.startswith("in-progress:"):
        return False
    claimed = dt.datetime.fromisoformat(value.split(":", 1)[1])
    return (utcnow() - claimed).total_seconds() > STALE


async def _claim(mgr: Any) -> bool:
    async def work(session: AsyncSession) -> bool:
        try:
            async with session.begin_nested():
                session.add(Meta(key=KEY, value=f"in-progress:{utcnow().isoformat()}"))
                await session.flush()
        except IntegrityError:
            return False
        return True

    return await mgr.transaction(work)


async def _unclaim(mgr: Any) -> None:
    async def work(session: AsyncSession) -> None:
        await session.execute(delete(Meta).where(Meta.key == KEY))

    await mgr.transaction(work)


async def _mark(mgr: Any, value: str) -> None:
    async def work(session: AsyncSession) -> None:
        row = (await session.execute(select(Meta).where(Meta.key == KEY))).scalar()
        if row is None:
            session.add(Meta(key=KEY, value=value))
        else:
            row.value = value

    await mgr.transaction(work)


async def _ensure(mgr: Any, model: Any, name: str, project: str, make: Any) -> str:
    """The id of what an earlier, interrupted start made (by name and project), else of what
    ``make()`` makes now."""
    async with mgr.read() as session:
        found = (
            (
                await session.execute(
                    select(model.id).where(model.name == name, model.project_id == project)
                )
            )
            .scalars()
            .first()
        )
    if found is not None:
        return str(found)
    return str((await make())["id"])


async def _make(mgr: Any, projects: dict[str, str]) -> None:
    conf = mgr.conf
    admin = projects["admin"]
    ctx = RequestContext(
        request_id="req-network-bootstrap",
        user_id="network-bootstrap",
        project_id=admin,
        roles=("admin", "member", "reader"),
    )

    def network(attrs: dict[str, Any]) -> Any:
        return lambda: networks.create(mgr, ctx, parse_create(networks.RES, attrs))

    def subnet(attrs: dict[str, Any]) -> Any:
        return lambda: subnets.create(mgr, ctx, parse_create(subnets.RES, attrs))

    public = await _ensure(
        mgr,
        Network,
        "public",
        admin,
        network(
            {
                "name": "public",
                "router:external": True,
                "is_default": True,
                "provider:network_type": "flat",
                "provider:physical_network": "public",
                "project_id": admin,
            }
        ),
    )
    for name, cidr in (
        ("public-subnet", conf.public_cidr),
        ("ipv6-public-subnet", conf.public_cidr_v6),
    ):
        await _ensure(
            mgr,
            Subnet,
            name,
            admin,
            subnet(
                {
                    "name": name,
                    "network_id": public,
                    "cidr": cidr,
                    "ip_version": ipaddress.ip_network(cidr).version,
                    "enable_dhcp": False,
                    "project_id": admin,
                }
            ),
        )
    pool = await _ensure(
        mgr,
        SubnetPool,
        POOL,
        admin,
        lambda: subnetpools.create_pool(
            mgr,
            ctx,
            parse_create(
                subnetpools.POOLS,
                {
                    "name": POOL,
                    "prefixes": [conf.subnetpool_prefix_v4],
                    "default_prefixlen": conf.subnetpool_size_v4,
                    "shared": True,
                    "is_default": True,
                    "project_id": admin,
                },
            ),
        ),
    )
    demo = projects.get("demo")
    if demo is None:
        return
    private = await _ensure(
        mgr, Network, "private", demo, network({"name": "private", "project_id": demo})
    )
    private_subnet = await _ensure(
        mgr,
        Subnet,
        "private-subnet",
        demo,
        subnet(
            {
                "name": "private-subnet",
                "network_id": private,
                "subnetpool_id": pool,
                "ip_version": 4,
                "project_id": demo,
            }
        ),
    )
    router = await _ensure(
        mgr,
        Router,
        "router1",
        demo,
        lambda: routers.create(
            mgr,
            ctx,
            parse_create(
                routers.RES,
                {
                    "name": "router1",
                    "project_id": demo,
                    "external_gateway_info": {"network_id": public},
                },
            ),
        ),
    )
    async with mgr.read() as session:
        attached = (
            await session.execute(
                select(Port.id).where(
                    Port.device_id == router, Port.device_owner == routers.INTERFACE
                )
            )
        ).first()
    if attached is None:
        await routers.add_interface(mgr, ctx, router, {"subnet_id": private_subnet})
    LOG.info("made the default network topology: public, %s, private, router1", POOL)
