"""Volume types with extra specs and private access, the default type, and QoS specs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.volume.models import (
    QosSpecs,
    Volume,
    VolumeType,
    VolumeTypeAccess,
    VolumeTypeExtraSpec,
)

DEFAULT_TYPE = "__DEFAULT__"


async def bootstrap(session: AsyncSession) -> None:
    """The default type Cinder ships (``__DEFAULT__``), made on the first start."""
    found = (
        await session.execute(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE))
    ).scalar()
    if found is None:
        session.add(
            VolumeType(
                id=str(uuid.uuid4()),
                name=DEFAULT_TYPE,
                description="Default Volume Type",
                is_public=True,
            )
        )


def _visible(ctx: RequestContext, admin: bool) -> Any:
    if admin:
        return True
    granted = select(VolumeTypeAccess.type_id).where(VolumeTypeAccess.project_id == ctx.project_id)
    return or_(VolumeType.is_public.is_(True), VolumeType.id.in_(granted))


async def find(
    session: AsyncSession, ctx: RequestContext, admin: bool, ref: str, *, status: int = 404
) -> VolumeType:
    """The type named or identified by ``ref`` that the caller may see (404, or 400 when it is
    a create's reference)."""
    stmt = select(VolumeType).where(or_(VolumeType.id == ref, VolumeType.name == ref))
    stmt = stmt.where(_visible(ctx, admin))
    found = (await session.execute(stmt)).scalars().first()
    if found is None:
        message = f"Volume type {ref} could not be found."
        raise (BadRequest if status == 400 else NotFound)(message)
    return found


async def default(session: AsyncSession, ctx: RequestContext, admin: bool, name: str) -> VolumeType:
    try:
        return await find(session, ctx, admin, name)
    except NotFound:
        return await find(session, ctx, True, DEFAULT_TYPE)


async def listing(
    session: AsyncSession, ctx: RequestContext, admin: bool, is_public: str | None
) -> list[VolumeType]:
    stmt = select(VolumeType).where(_visible(ctx, admin)).order_by(VolumeType.created_at)
    if admin and is_public is not None and is_public.lower() != "none":
        stmt = stmt.where(VolumeType.is_public.is_(_bool(is_public, "is_public")))
    elif not admin:
        pass
    return list((await session.execute(stmt)).scalars())


async def extra_specs(session: AsyncSession, type_ids: list[str]) -> dict[str, dict[str, str]]:
    rows = await session.execute(
        select(VolumeTypeExtraSpec).where(VolumeTypeExtraSpec.type_id.in_(type_ids))
    )
    specs: dict[str, dict[str, str]] = {t: {} for t in type_ids}
    for row in rows.scalars():
        specs[row.type_id][row.key] = row.value
    return specs


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise BadRequest(f"Invalid value '{value}' for {field}: a boolean is required.")


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest("extra_specs must be an object of strings.")
    out = {}
    for key, val in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise BadRequest(f"Invalid extra spec key {key!r}: 1 to 255 characters.")
        if isinstance(val, bool):
            val = str(val)
        if not isinstance(val, str | int | float) or len(str(val)) > 255:
            raise BadRequest(f"Invalid extra spec value for {key}: a string of 255 at most.")
        out[key] = str(val)
    return out


async def create(session: AsyncSession, body: dict[str, Any]) -> VolumeType:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("Volume type name must be a string of 1 to 255 characters.")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise BadRequest("Volume type description must be a string of 255 characters at most.")
    is_public = _bool(
        body.get("os-volume-type-access:is_public", body.get("is_public", True)), "is_public"
    )
    specs = _specs(body.get("extra_specs") or {})
    if (await session.execute(select(VolumeType.id).where(VolumeType.name == name))).first():
        raise Conflict(f"Volume Type {name} already exists.")
    vtype = VolumeType(
        id=str(uuid.uuid4()), name=name, description=description, is_public=is_public
    )
    session.add(vtype)
    await session.flush()
    for key, value in specs.items():
        session.add(VolumeTypeExtraSpec(type_id=vtype.id, key=key, value=value))
    return vtype


async def update(session: AsyncSession, vtype: VolumeType, body: dict[str, Any]) -> VolumeType:
    if not any(k in body for k in ("name", "description", "is_public")):
        raise BadRequest("Specify volume type name, description, is_public or a combination.")
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise BadRequest("Volume type name must be a string of 1 to 255 characters.")
        if vtype.name == DEFAULT_TYPE and name != DEFAULT_TYPE:
            raise BadRequest("The default volume type cannot be renamed.")
        clash = await session.execute(
            select(VolumeType.id).where(VolumeType.name == name, VolumeType.id != vtype.id)
        )
        if clash.first():
            raise Conflict(f"Volume Type {name} already exists.")
        vtype.name = name
    if "description" in body:
        vtype.description = body["description"]
    if "is_public" in body:
        vtype.is_public = _bool(body["is_public"], "is_public")
    vtype.updated_at = utcnow()
    return vtype


async def delete_type(session: AsyncSession, vtype: VolumeType) -> None:
    if vtype.name == DEFAULT_TYPE:
        raise BadRequest("The default volume type __DEFAULT__ cannot be deleted.")
    used = await session.execute(
        select(Volume.id).where(Volume.volume_type_id == vtype.id).limit(1)
    )
    if used.first():
        raise BadRequest(f"Target volume type {vtype.id} is still in use.")
    await session.delete(vtype)


async def set_specs(session: AsyncSession, type_id: str, body: Any) -> dict[str, str]:
    specs = _specs(body)
    if not specs:
        raise BadRequest("extra_specs must not be empty.")
    used = await session.execute(select(Volume.id).where(Volume.volume_type_id == type_id).limit(1))
    if used.first() and any(k == "volume_backend_name" for k in specs):
        raise BadRequest("Cannot change volume_backend_name of a type that is in use.")
    for key, value in specs.items():
        row = await session.get(VolumeTypeExtraSpec, (type_id, key))
        if row is None:
            session.add(VolumeTypeExtraSpec(type_id=type_id, key=key, value=value))
        else:
            row.value = value
    return specs


async def delete_spec(session: AsyncSession, type_id: str, key: str) -> None:
    row = await session.get(VolumeTypeExtraSpec, (type_id, key))
    if row is None:
        raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    await session.delete(row)


async def access(session: AsyncSession, vtype: VolumeType) -> list[str]:
    if vtype.is_public:
        raise NotFound("Access list not available for public volume types.")
    rows = await session.execute(
        select(VolumeTypeAccess.project_id).where(VolumeTypeAccess.type_id == vtype.id)
    )
    return list(rows.scalars())


async def add_access(session: AsyncSession, vtype: VolumeType, project_id: Any) -> None:
    if not isinstance(project_id, str) or not project_id:
        raise BadRequest("addProjectAccess needs a project.")
    if vtype.is_public:
        raise BadRequest("Invalid volume type: access cannot be added to a public type.")
    if await session.get(VolumeTypeAccess, (vtype.id, project_id)) is not None:
        raise Conflict(f"Volume type access for {vtype.id} / {project_id} already exists.")
    session.add(VolumeTypeAccess(type_id=vtype.id, project_id=project_id))


async def remove_access(session: AsyncSession, vtype: VolumeType, project_id: Any) -> None:
    row = await session.get(VolumeTypeAccess, (vtype.id, project_id))
    if row is None:
        raise NotFound(f"Volume type access not found for {vtype.id} / {project_id}.")
    await session.delete(row)


# -- QoS specs ------------------------------------------------------------------------------
CONSUMERS = ("front-end", "back-end", "both")


async def create_qos(session: AsyncSession, body: dict[str, Any]) -> QosSpecs:
    body = dict(body)
    name = body.pop("name", None)
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("QoS specs name must be a string of 1 to 255 characters.")
    consumer = body.pop("consumer", "back-end")
    if consumer not in CONSUMERS:
        raise BadRequest(f"Invalid consumer {consumer!r}: one of {', '.join(CONSUMERS)}.")
    specs = _specs(body.pop("specs", body))
    if (await session.execute(select(QosSpecs.id).where(QosSpecs.name == name))).first():
        raise Conflict(f"QoS Specs {name} already exists.")
    qos = QosSpecs(id=str(uuid.uuid4()), name=name, consumer=consumer, specs=specs)
    session.add(qos)
    return qos


async def get_qos(session: AsyncSession, qos_id: str) -> QosSpecs:
    qos = await session.get(QosSpecs, qos_id)
    if qos is None:
        raise NotFound(f"QoS Specs {qos_id} could not be found.")
    return qos


async def update_qos(qos: QosSpecs, body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise BadRequest("qos_specs must be an object.")
    body = dict(body)
    if "consumer" in body:
        consumer = body.pop("consumer")
        if consumer not in CONSUMERS:
            raise BadRequest(f"Invalid consumer {consumer!r}: one of {', '.join(CONSUMERS)}.")
        qos.consumer = consumer
    specs = _specs(body)
    qos.specs = {**qos.specs, **specs}
    return specs


async def delete_qos(session: AsyncSession, qos: QosSpecs, force: bool) -> None:
    used = (
        (await session.execute(select(VolumeType).where(VolumeType.qos_specs_id == qos.id)))
        .scalars()
        .all()
    )
    if used and not force:
        raise BadRequest(f"QoS Specs {qos.id} is still associated with entities.")
    for vtype in used:
        vtype.qos_specs_id = None
    await session.delete(qos)


async def associations(session: AsyncSession, qos_id: str) -> list[VolumeType]:
    rows = await session.execute(select(VolumeType).where(VolumeType.qos_specs_id == qos_id))
    return list(rows.scalars())


async def associate(session: AsyncSession, qos: QosSpecs, type_id: str | None) -> None:
    if not type_id:
        raise BadRequest("A vol_type_id is required.")
    vtype = await session.get(VolumeType, type_id)
    if vtype is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if vtype.qos_specs_id not in (None, qos.id):
        raise BadRequest(f"Volume type {type_id} is already associated with other QoS specs.")
    vtype.qos_specs_id = qos.id


async def disassociate(session: AsyncSession, qos: QosSpecs, type_id: str | None) -> None:
    stmt = select(VolumeType).where(VolumeType.qos_specs_id == qos.id)
    if type_id is not None:
        stmt = stmt.where(VolumeType.id == type_id)
    for vtype in (await session.execute(stmt)).scalars():
        vtype.qos_specs_id = None


async def delete_qos_keys(qos: QosSpecs, keys: Any) -> None:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BadRequest("keys must be a list of strings.")
    missing = [k for k in keys if k not in qos.specs]
    if missing:
        raise NotFound(f"QoS spec {qos.id} has no key {missing[0]}.")
    qos.specs = {k: v for k, v in qos.specs.items() if k not in keys}


async def forget_access(session: AsyncSession, type_id: str) -> None:
    await session.execute(delete(VolumeTypeAccess).where(VolumeTypeAccess.type_id == type_id))
