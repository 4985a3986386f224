"""Flavors: DevStack's set on first start, admin management, extra specs, private access."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.compute.models import Flavor, FlavorAccess

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

#: DevStack's flavors with DevStack's ids: (flavorid, name, ram MiB, disk GiB, vcpus).
DEVSTACK_FLAVORS = (
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
    ("42", "m1.nano", 128, 1, 1),
    ("84", "m1.micro", 192, 1, 1),
    ("c1", "cirros256", 256, 1, 1),
    ("d1", "ds512M", 512, 5, 1),
    ("d2", "ds1G", 1024, 10, 1),
    ("d3", "ds2G", 2048, 10, 2),
    ("d4", "ds4G", 4096, 20, 4),
)
_NAME = re.compile(r"^[\w\.\- ]+$", re.UNICODE)
_ID = re.compile(r"^[\w\.\- ]+$")


async def bootstrap(session: AsyncSession) -> None:
    """Create DevStack's flavors once: only in a database that never had any."""
    if (await session.execute(select(func.count()).select_from(Flavor))).scalar():
        return
    for flavorid, name, ram, disk, vcpus in DEVSTACK_FLAVORS:
        specs = {"hw_rng:allowed": "True"} if name in ("m1.tiny", "cirros256", "ds512M") else {}
        session.add(
            Flavor(
                flavorid=flavorid,
                name=name,
                memory_mb=ram,
                root_gb=disk,
                vcpus=vcpus,
                ephemeral_gb=0,
                swap=0,
                rxtx_factor=1.0,
                is_public=True,
                extra_specs=specs,
            )
        )


def visible(ctx: RequestContext, is_admin: bool) -> Any:
    """The flavors a caller sees: public ones, and private ones its project has access to."""
    if is_admin:
        return None
    access = select(FlavorAccess.flavor_id).where(FlavorAccess.project_id == ctx.project_id)
    return or_(Flavor.is_public.is_(True), Flavor.id.in_(access))


async def get(
    session: AsyncSession,
    core: ComputeCore,
    ctx: RequestContext,
    flavorid: str,
    *,
    for_boot: bool = False,
) -> Flavor:
    stmt = select(Flavor).where(Flavor.flavorid == flavorid)
    where = visible(ctx, core.is_admin(ctx))
    if where is not None:
        stmt = stmt.where(where)
    flavor = (await session.execute(stmt)).scalar()
    if flavor is None:
        if for_boot:
            raise BadRequest(f"Flavor {flavorid} could not be found.")
        raise NotFound(f"Flavor {flavorid} could not be found.")
    return flavor


async def list_flavors(
    session: AsyncSession, core: ComputeCore, ctx: RequestContext, params: Any
) -> list[Flavor]:
    stmt = select(Flavor)
    is_admin = core.is_admin(ctx)
    public = params.get("is_public")
    if is_admin and public is not None:
        if public.lower() in ("none", "all"):
            pass
        else:
            stmt = stmt.where(Flavor.is_public.is_(_bool(public, "is_public")))
    else:
        where = visible(ctx, is_admin)
        if where is not None:
            stmt = stmt.where(where)
        elif public is None:
            stmt = stmt.where(Flavor.is_public.is_(True))
    for key, column in (("minRam", Flavor.memory_mb), ("minDisk", Flavor.root_gb)):
        if key in params:
            stmt = stmt.where(column >= _int(params[key], key))
    sort_key = params.get("sort_key", "flavorid")
    columns = {
        "flavorid": Flavor.flavorid,
        "name": Flavor.name,
        "memory_mb": Flavor.memory_mb,
        "vcpus": Flavor.vcpus,
        "root_gb": Flavor.root_gb,
        "id": Flavor.id,
        "ephemeral_gb": Flavor.ephemeral_gb,
        "swap": Flavor.swap,
        "rxtx_factor": Flavor.rxtx_factor,
        "created_at": Flavor.created_at,
    }
    if sort_key not in columns:
        raise BadRequest(f"Invalid sort_key {sort_key}.")
    direction = params.get("sort_dir", "asc")
    if direction not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort_dir {direction}.")
    column = columns[sort_key]
    stmt = stmt.order_by(column.desc() if direction == "desc" else column.asc(), Flavor.id)
    rows = list((await session.execute(stmt)).scalars())
    marker = params.get("marker")
    if marker:
        ids = [f.flavorid for f in rows]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    limit = (
        min(_int(params["limit"], "limit"), core.conf.max_limit)
        if "limit" in params
        else core.conf.max_limit
    )
    return rows[:limit]


def _int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid {name} filter [{value}]") from None
    if number < 0:
        raise BadRequest(f"Invalid {name} filter [{value}]")
    return number


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    raise BadRequest(f"Invalid value '{value}' for {name}: it must be a boolean.")


async def create(session: AsyncSession, body: dict[str, Any]) -> Flavor:
    name = str(body["name"]).strip()
    if not name or not _NAME.match(name):
        raise BadRequest(
            "Invalid input for field 'name': flavor names may hold letters, "
            "digits, '.', '-', '_' and spaces."
        )
    flavorid = body.get("id")
    if isinstance(flavorid, bool) or not isinstance(flavorid, str | int | float | None):
        raise BadRequest("Invalid input for field/attribute id: a string or a number.")
    if flavorid is None or (isinstance(flavorid, str) and flavorid.lower() == "auto"):
        flavorid = str(uuid.uuid4())
    flavorid = str(flavorid).strip()
    if not flavorid or len(flavorid) > 255 or not _ID.match(flavorid):
        raise BadRequest("Invalid input for field 'id'.")
    taken = await session.execute(
        select(Flavor.flavorid, Flavor.name).where(
            or_(Flavor.flavorid == flavorid, Flavor.name == name)
        )
    )
    for found_id, found_name in taken:
        if found_id == flavorid:
            raise Conflict(f"Flavor with ID {flavorid} already exists.")
        raise Conflict(f"Flavor with name {found_name} already exists.")
    flavor = Flavor(
        flavorid=flavorid,
        name=name,
        vcpus=body["vcpus"],
        memory_mb=body["ram"],
        root_gb=body["disk"],
        ephemeral_gb=body.get("OS-FLV-EXT-DATA:ephemeral", 0),
        swap=body.get("swap", 0) or 0,
        rxtx_factor=body.get("rxtx_factor", 1.0),
        is_public=body.get("os-flavor-access:is_public", True),
        description=body.get("description"),
        extra_specs={},
    )
    session.add(flavor)
    await session.flush()
    return flavor


async def destroy(session: AsyncSession, flavor: Flavor) -> None:
    await session.execute(delete(FlavorAccess).where(FlavorAccess.flavor_id == flavor.id))
    await session.delete(flavor)


async def access_list(session: AsyncSession, flavor: Flavor) -> list[str]:
    stmt = select(FlavorAccess.project_id).where(FlavorAccess.flavor_id == flavor.id)
    return sorted((await session.execute(stmt)).scalars())


async def add_access(session: AsyncSession, flavor: Flavor, project_id: str) -> None:
    if flavor.is_public:
        raise Conflict(f"Can not add access to a public flavor {flavor.flavorid}.")
    if project_id in await access_list(session, flavor):
        raise Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and "
            f"project {project_id} combination."
        )
    session.add(FlavorAccess(flavor_id=flavor.id, project_id=project_id))


async def remove_access(session: AsyncSession, flavor: Flavor, project_id: str) -> None:
    done = await session.execute(
        delete(FlavorAccess).where(
            FlavorAccess.flavor_id == flavor.id, FlavorAccess.project_id == project_id
        )
    )
    if not getattr(done, "rowcount", 0):
        raise NotFound(f"Flavor access not found for {flavor.flavorid} / {project_id} combination.")


def check_extra_specs(specs: Any) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise BadRequest("Invalid input for field 'extra_specs': it must be an object.")
    out: dict[str, str] = {}
    for key, value in specs.items():
        if not key or len(key) > 255 or not re.match(r"^[\w\.\-:]+$", key):
            raise BadRequest(f"Invalid extra spec key {key!r}.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadRequest(f"Invalid extra spec value for {key}: a string is required.")
        text = str(value)
        if len(text) > 255:
            raise BadRequest(f"Extra spec value for {key} is longer than 255 characters.")
        out[key] = text
    return out


def snapshot(flavor: Flavor) -> dict[str, Any]:
    """The copy an instance keeps of its flavor (Nova embeds it in the instance)."""
    return {
        "flavorid": flavor.flavorid,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb,
        "root_gb": flavor.root_gb,
        "ephemeral_gb": flavor.ephemeral_gb,
        "swap": flavor.swap,
        "extra_specs": dict(flavor.extra_specs or {}),
        "description": flavor.description,
    }
