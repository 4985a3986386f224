"""The first start's topology, as DevStack makes it: an external flat network ``public`` on
physical network ``public`` (172.24.4.0/24 and 2001:db8::/64), the default subnet pool
``shared-default-subnetpool-v4``, and for the demo project a network ``private`` with a subnet
from that pool and a router ``router1`` gatewayed to ``public``.

Made once: a ``network_meta`` row claims the work (one process does it) and records it done;
a start whose Identity service cannot be asked skips it and tries again next start."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.network import networks, routers, subnetpools, subnets
from onestack.network.attributes import parse_create
from onestack.network.models import Meta

LOG = logging.getLogger(__name__)
KEY = "bootstrapped"


async def _projects(mgr: Any) -> dict[str, str]:
    """The ids of projects ``admin`` and ``demo``, asked as the cloud admin (the service users
    may not list projects): with the admin password the Identity bootstrap keeps."""
    settings = mgr.settings
    clients = mgr.platform.clients
    password = settings.admin_password or (settings.data_dir / "admin-password").read_text().strip()
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
            },
        },
        "scope": scope,
    }
    resp = await clients.http.post(f"{clients.auth_url}/v3/auth/tokens", json={"auth": auth})
    resp.raise_for_status()
    headers = {"X-Auth-Token": resp.headers["x-subject-token"]}
    out = {"admin": resp.json()["token"]["project"]["id"]}
    found = await clients.http.get(
        f"{clients.auth_url}/v3/projects",
        params={"name": "demo", "domain_id": "default"},
        headers=headers,
    )
    found.raise_for_status()
    for project in found.json().get("projects", []):
        out["demo"] = project["id"]
    return out


async def first_start(mgr: Any) -> None:
    async with mgr.read() as session:
        done = (await session.execute(select(Meta).where(Meta.key == KEY))).scalar()
    if done is not None:
        return
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


async def _claim(mgr: Any) -> bool:
    async def work(session: AsyncSession) -> bool:
        try:
            async with session.begin_nested():
                session.add(Meta(key=KEY, value="in-progress"))
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


async def _make(mgr: Any, projects: dict[str, str]) -> None:
    conf = mgr.conf
    admin = projects["admin"]
    ctx = RequestContext(
        request_id="req-network-bootstrap",
        user_id="network-bootstrap",
        project_id=admin,
        roles=("admin", "member", "reader"),
    )
    public = await networks.create(
        mgr,
        ctx,
        parse_create(
            networks.RES,
            {
                "name": "public",
                "router:external": True,
                "is_default": True,
                "provider:network_type": "flat",
                "provider:physical_network": "public",
                "project_id": admin,
            },
        ),
    )
    for name, cidr in (
        ("public-subnet", conf.public_cidr),
        ("ipv6-public-subnet", conf.public_cidr_v6),
    ):
        version = ipaddress.ip_network(cidr).version
        await subnets.create(
            mgr,
            ctx,
            parse_create(
                subnets.RES,
                {
                    "name": name,
                    "network_id": public["id"],
                    "cidr": cidr,
                    "ip_version": version,
                    "enable_dhcp": False,
                    "project_id": admin,
                },
            ),
        )
    pool = await subnetpools.create_pool(
        mgr,
        ctx,
        parse_create(
            subnetpools.POOLS,
            {
                "name": "shared-default-subnetpool-v4",
                "prefixes": [conf.subnetpool_prefix_v4],
                "default_prefixlen": conf.subnetpool_size_v4,
                "shared": True,
                "is_default": True,
                "project_id": admin,
            },
        ),
    )
    demo = projects.get("demo")
    if demo is None:
        return
    private = await networks.create(
        mgr, ctx, parse_create(networks.RES, {"name": "private", "project_id": demo})
    )
    subnet = await subnets.create(
        mgr,
        ctx,
        parse_create(
            subnets.RES,
            {
                "name": "private-subnet",
                "network_id": private["id"],
                "subnetpool_id": pool["id"],
                "ip_version": 4,
                "project_id": demo,
            },
        ),
    )
    router = await routers.create(
        mgr,
        ctx,
        parse_create(
            routers.RES,
            {
                "name": "router1",
                "project_id": demo,
                "external_gateway_info": {"network_id": public["id"]},
            },
        ),
    )
    await routers.add_interface(mgr, ctx, router["id"], {"subnet_id": subnet["id"]})
    LOG.info("made the default network topology: public, %s, private, router1", pool["name"])
