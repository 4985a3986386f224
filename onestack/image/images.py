"""Images: create, update by JSON patch, delete, deactivate/reactivate and tags."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.image import records, validation
from onestack.image.models import Image, ImageLocation, ImageProperty, ImageTag, table
from onestack.image.records import Record, get_visible, target
from onestack.image.stores import StoreError
from onestack.image.views import CORE_COLUMNS, notification_payload

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
PROPS = table(ImageProperty)
TAGS = table(ImageTag)


def _protected_property(name: str, op: str) -> Forbidden:
    return Forbidden(f"Property '{name}' is protected: you may not {op} it.")


def _check_protection(mgr: ImageManager, ctx: RequestContext, name: str, op: str) -> None:
    if mgr.protections is not None and not mgr.protections.allowed(ctx, name, op):
        raise _protected_property(name, op)


def _visibility_policy(mgr: ImageManager, ctx: RequestContext, visibility: str, tgt: Any) -> None:
    if visibility == "public":
        mgr.enforce(ctx, "publicize_image", tgt)
    elif visibility == "community":
        mgr.enforce(ctx, "communitize_image", tgt)


def parse_create(mgr: ImageManager, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split and validate a create body into core values and free properties."""
    for name in validation.DISALLOWED:
        if name in body:
            raise validation.read_only(name)
    core: dict[str, Any] = {}
    props: dict[str, str] = {}
    for name, value in body.items():
        if name == "id":
            core["id"] = validation.check_image_id(value)
        elif name in validation.WRITABLE_CORE:
            core[name] = validation.check_core(mgr.conf, name, value)
        elif name in validation.READONLY or name == "locations":
            raise validation.read_only(name)
        else:
            validation.check_property(name, value)
            props[name] = value
    for name in props:
        if validation.is_reserved(name):
            raise validation.reserved(name)
    validation.check_count("properties", len(props), mgr.conf.image_property_quota)
    validation.check_count("tags", len(core.get("tags", ())), mgr.conf.image_tag_quota)
    return core, props


async def create(mgr: ImageManager, ctx: RequestContext, body: dict[str, Any]) -> Record:
    core, props = parse_create(mgr, body)
    owner = core.get("owner", ctx.project_id)
    visibility = core.get("visibility", "shared")
    tgt = {"project_id": owner, "owner": owner, "visibility": visibility}
    mgr.enforce(ctx, "add_image", tgt)
    _visibility_policy(mgr, ctx, visibility, tgt)
    for name in props:
        _check_protection(mgr, ctx, name, "create")
    now = utcnow()
    values = {
        "id": core.get("id") or str(uuid.uuid4()),
        "name": core.get("name"),
        "status": "queued",
        "visibility": visibility,
        "owner": owner,
        "disk_format": core.get("disk_format"),
        "container_format": core.get("container_format"),
        "size": None,
        "virtual_size": None,
        "checksum": None,
        "os_hash_algo": None,
        "os_hash_value": None,
        "min_disk": core.get("min_disk", 0),
        "min_ram": core.get("min_ram", 0),
        "protected": core.get("protected", False),
        "os_hidden": core.get("os_hidden", False),
        "created_at": now,
        "updated_at": now,
    }
    tags = core.get("tags", [])
    if owner is not None:
        await mgr.quotas.limits(owner)  # Keystone's answer cached before the write lock
    try:
        async with mgr.write() as session:
            await mgr.quotas.enforce(session, owner, {"image_count_total": 1})
            await session.execute(insert(IMAGES), [values])
            if props:
                rows = [{"image_id": values["id"], "name": k, "value": v} for k, v in props.items()]
                await session.execute(insert(PROPS), rows)
            if tags:
                await session.execute(
                    insert(TAGS), [{"image_id": values["id"], "value": t} for t in tags]
                )
    except Conflict:
        raise Conflict(f"Image with identifier {values['id']} already exists!") from None
    record = Record(SimpleNamespace(**values), props, tags)
    await mgr.notify(ctx, "image.create", notification_payload(record.row, props, tags))
    return record


# -- update --------------------------------------------------------------------------------

PATCH_TYPES = {
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}
OPERATIONS = ("add", "remove", "replace")


def _decode_pointer(pointer: Any) -> str:
    """A one-level JSON pointer (``/name``) -> ``name``; anything deeper is refused."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise BadRequest(f'Pointer `{pointer}` does not start with "/".')
    body = pointer[1:]
    if not body.strip():
        raise BadRequest(f"Pointer `{pointer}` does not contain a valid token.")
    if "~" in body.replace("~0", "").replace("~1", ""):
        raise BadRequest(
            f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.'
        )
    if "/" in body:
        raise BadRequest(f"Invalid JSON pointer for this resource: '{pointer}'")
    return body.replace("~1", "/").replace("~0", "~").strip()


def parse_patch(body: Any, draft: int) -> list[dict[str, Any]]:
    """The operations of a PATCH body (draft 10: ``{"op", "path", "value"}``, draft 4:
    ``{"replace": "/path", "value"}``)."""
    if not isinstance(body, list):
        raise BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise BadRequest("Operations must be JSON objects.")
        if draft == 10:
            op = raw.get("op")
            if op not in OPERATIONS:
                raise BadRequest(
                    f"Invalid operation: `{op}`. It must be one of the following: "
                    "add, remove, replace."
                )
            if "path" not in raw:
                raise BadRequest("Unable to find 'path' in JSON Schema change")
            pointer = raw["path"]
        else:
            present = [k for k in OPERATIONS if k in raw]
            if len(present) != 1:
                raise BadRequest(
                    'Operation objects must contain exactly one member named "add", '
                    '"remove", or "replace".'
                )
            op = present[0]
            pointer = raw[op]
        path = _decode_pointer(pointer)
        change: dict[str, Any] = {"op": op, "path": path}
        if op != "remove":
            if "value" not in raw:
                raise BadRequest(f'Operation "{op}" requires a member named "value".')
            change["value"] = raw["value"]
        if path in validation.READONLY:
            raise validation.read_only(path)
        if validation.is_reserved(path):
            raise validation.reserved(path)
        changes.append(change)
    return changes


async def patch(
    mgr: ImageManager,
    ctx: RequestContext,
    image_id: str,
    changes: list[dict[str, Any]],
    draft: int,
) -> Record:
    admin = mgr.is_admin(ctx)
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        tgt = target(ctx, row, record.is_member)
        mgr.enforce(ctx, "modify_image", tgt)
        core = {name: getattr(row, name) for name in CORE_COLUMNS}
        props = dict(record.properties)
        tags = list(record.tags)
        for change in changes:
            op, path = change["op"], change["path"]
            value = change.get("value")
            if path == "locations":
                raise Forbidden("It's not allowed to update locations if locations are invisible.")
            is_core = path in validation.WRITABLE_CORE
            if op == "remove":
                if is_core:
                    raise Forbidden(f"Property {path} may not be removed.")
                if path not in props:
                    raise Conflict(f"Property {path} does not exist.")
                _check_protection(mgr, ctx, path, "delete")
                del props[path]
                continue
            exists = is_core or path in props
            if op == "replace" and not exists:
                raise Conflict(f"Property {path} does not exist.")
            if op == "add" and draft == 4 and exists:
                raise Conflict(f"Property {path} already present.")
            if is_core:
                value = validation.check_core(mgr.conf, path, value)
                if path == "tags":
                    tags = value
                    continue
                if path == "owner" and value != core["owner"] and not admin:
                    raise Forbidden("Owner can't be updated by non admin.")
                if (
                    path in ("disk_format", "container_format")
                    and value != core[path]
                    and core["status"] != "queued"
                ):
                    raise Forbidden(f"Attribute {path} can be only replaced for a queued image.")
                if path == "visibility" and value != core["visibility"]:
                    _visibility_policy(mgr, ctx, value, tgt)
                core[path] = value
            else:
                validation.check_property(path, value)
                _check_protection(mgr, ctx, path, "update" if path in props else "create")
                props[path] = str(value)
        validation.check_count("properties", len(props), mgr.conf.image_property_quota)
        validation.check_count("tags", len(tags), mgr.conf.image_tag_quota)
        await _save(session, record, core, props, tags)
        record = await records.load(session, image_id) or record
    await mgr.notify(
        ctx, "image.update", notification_payload(record.row, record.properties, record.tags)
    )
    return record


async def _save(
    session: AsyncSession,
    record: Record,
    core: dict[str, Any],
    props: dict[str, str],
    tags: list[str],
) -> None:
    image_id = record.id
    changed = {k: v for k, v in core.items() if getattr(record.row, k) != v}
    changed["updated_at"] = utcnow()
    await session.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(**changed))
    old = record.properties
    gone = [k for k in old if k not in props or old[k] != props[k]]
    if gone:
        await session.execute(
            delete(PROPS).where(PROPS.c.image_id == image_id, PROPS.c.name.in_(gone))
        )
    new = [
        {"image_id": image_id, "name": k, "value": v} for k, v in props.items() if old.get(k) != v
    ]
    if new:
        await session.execute(insert(PROPS), new)
    if set(tags) != set(record.tags):
        await session.execute(delete(TAGS).where(TAGS.c.image_id == image_id))
        if tags:
            await session.execute(insert(TAGS), [{"image_id": image_id, "value": t} for t in tags])


# -- tags ----------------------------------------------------------------------------------


async def add_tag(mgr: ImageManager, ctx: RequestContext, image_id: str, tag: str) -> None:
    validation.check_tag(tag)
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        mgr.enforce(ctx, "modify_image", target(ctx, record.row, record.is_member))
        if tag in record.tags:
            return
        validation.check_count("tags", len(record.tags) + 1, mgr.conf.image_tag_quota)
        try:
            async with session.begin_nested():
                await session.execute(insert(TAGS), [{"image_id": image_id, "value": tag}])
        except IntegrityError:
            return  # added concurrently
        await _touch(session, image_id)


async def delete_tag(mgr: ImageManager, ctx: RequestContext, image_id: str, tag: str) -> None:
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        mgr.enforce(ctx, "modify_image", target(ctx, record.row, record.is_member))
        if tag not in record.tags:
            raise NotFound(f"Tag {tag} not found")
        await session.execute(delete(TAGS).where(TAGS.c.image_id == image_id, TAGS.c.value == tag))
        await _touch(session, image_id)


async def _touch(session: AsyncSession, image_id: str) -> None:
    await session.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(updated_at=utcnow()))


# -- actions -------------------------------------------------------------------------------


async def set_active(mgr: ImageManager, ctx: RequestContext, image_id: str, active: bool) -> None:
    """Deactivate (``active=False``) or reactivate an image."""
    rule, wanted = ("reactivate", "active") if active else ("deactivate", "deactivated")
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        mgr.enforce(ctx, rule, target(ctx, row, record.is_member))
        if row.status == wanted:
            return
        if row.status not in ("active", "deactivated"):
            raise Forbidden(f"Not allowed to {rule} image in status '{row.status}'")
        await session.execute(
            update(IMAGES).where(IMAGES.c.id == image_id).values(status=wanted, updated_at=utcnow())
        )
    await mgr.notify(
        ctx,
        f"image.{rule}",
        notification_payload(
            SimpleNamespace(**{**row._asdict(), "status": wanted}), record.properties, record.tags
        ),
    )


# -- delete --------------------------------------------------------------------------------


async def delete_image(mgr: ImageManager, ctx: RequestContext, image_id: str) -> None:
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        mgr.enforce(ctx, "delete_image", target(ctx, row, record.is_member))
        if row.protected:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        locations = (
            await session.execute(
                table(ImageLocation).select().where(ImageLocation.image_id == image_id)
            )
        ).all()
        await session.execute(delete(IMAGES).where(IMAGES.c.id == image_id))
    await remove_data(mgr, image_id, [(loc.store, loc.url) for loc in locations])
    await mgr.notify(
        ctx,
        "image.delete",
        notification_payload(row, record.properties, record.tags, deleted=True),
    )


async def remove_data(mgr: ImageManager, image_id: str, locations: list[tuple[str, str]]) -> None:
    """Delete an image's data from its stores and the staging area (best effort, logged)."""
    if mgr.cache is not None:
        mgr.cache.evict(image_id)
    for store_id, url in locations:
        store = mgr.stores.get(store_id)
        if store is None:
            LOG.warning(
                "image %s: store %s is no longer configured; %s left", image_id, store_id, url
            )
            continue
        try:
            await store.delete(url)
        except (StoreError, OSError):
            LOG.warning("image %s: could not delete %s", image_id, url, exc_info=True)
    try:
        await mgr.staging.delete(mgr.staging.url_for(image_id))
    except (StoreError, OSError):
        LOG.warning("image %s: could not delete staged data", image_id, exc_info=True)


async def delete_from_store(
    mgr: ImageManager, ctx: RequestContext, store_id: str, image_id: str
) -> None:
    """DELETE /v2/stores/{store_id}/{image_id}: drop one store's copy of the data."""
    if store_id not in mgr.stores:
        raise Conflict(f"The selected store {store_id} is not available on this node.")
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        tgt = target(ctx, record.row, record.is_member)
        mgr.enforce(ctx, "get_image_location", tgt)
        mgr.enforce(ctx, "delete_image_location", tgt)
        if record.row.status != "active":
            raise Conflict(
                "It's not allowed to remove image data from store if image status is not 'active'"
            )
        locations = (
            await session.execute(
                table(ImageLocation)
                .select()
                .where(ImageLocation.image_id == image_id, ImageLocation.status == "active")
            )
        ).all()
        mine = [loc for loc in locations if loc.store == store_id]
        if not mine:
            raise NotFound(f"Image {image_id} is not stored in store {store_id}.")
        if len(locations) == 1:
            raise Forbidden(
                "Cannot delete image data from the only store containing it. Consider "
                "deleting the image instead."
            )
        await session.execute(
            delete(table(ImageLocation)).where(ImageLocation.id.in_([m.id for m in mine]))
        )
        await _touch(session, image_id)
    for loc in mine:
        try:
            await mgr.stores[store_id].delete(loc.url)
        except (StoreError, OSError):
            LOG.warning("image %s: could not delete %s", image_id, loc.url, exc_info=True)
