"""Loading images with their properties, tags and stores, and who may see them.

Images are read with SQLAlchemy Core (rows, not ORM objects): a page of images costs one query
for the images and one for the properties, tags and stores of the whole page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.errors import NotFound
from onestack.image.models import Image, ImageLocation, ImageMember, ImageProperty, ImageTag, table
from onestack.image.views import image_view

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

IMAGES = table(Image)
COLUMNS = tuple(IMAGES.c)
#: Ids per extras query (keeps every backend well under its bound-parameter limit).
BATCH = 2000


@dataclass
class Record:
    """An image row with its free properties, tags and the stores holding its data."""

    row: Any
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    #: Whether the caller's project is a member of the image (any member status).
    is_member: bool = False

    @property
    def id(self) -> str:
        return str(self.row.id)


def not_found(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}")


async def attach_extras(session: AsyncSession, records: Sequence[Record]) -> None:
    """Fill properties, tags and stores of ``records`` in one query per batch."""
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        stmt = union_all(
            select(
                ImageProperty.image_id,
                literal("p").label("kind"),
                ImageProperty.name,
                ImageProperty.value,
            ).where(ImageProperty.image_id.in_(batch)),
            select(ImageTag.image_id, literal("t"), ImageTag.value, ImageTag.value).where(
                ImageTag.image_id.in_(batch)
            ),
            select(
                ImageLocation.image_id, literal("s"), ImageLocation.store, ImageLocation.store
            ).where(ImageLocation.image_id.in_(batch), ImageLocation.status == "active"),
        )
        for image_id, kind, name, value in await session.execute(stmt):
            record = by_id[image_id]
            if kind == "p":
                record.properties[name] = value
            elif kind == "t":
                record.tags.append(value)
            elif name not in record.stores:
                record.stores.append(name)


async def load(session: AsyncSession, image_id: str, *, for_update: bool = False) -> Record | None:
    """The image (any visibility) with its extras, or None."""
    stmt = select(*COLUMNS).where(IMAGES.c.id == image_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    record = Record(row)
    await attach_extras(session, [record])
    return record


async def is_member(session: AsyncSession, image_id: str, project_id: str | None) -> bool:
    if project_id is None:
        return False
    stmt = select(ImageMember.status).where(
        ImageMember.image_id == image_id, ImageMember.member == project_id
    )
    return (await session.execute(stmt)).first() is not None


def visible(mgr: ImageManager, ctx: RequestContext, row: Any, member: bool) -> bool:
    """Glance's rule: admins, ownerless, public and community images, the owner, and members
    of a shared image see it."""
    if mgr.is_admin(ctx) or row.owner is None or row.visibility in ("public", "community"):
        return True
    if ctx.project_id is not None and ctx.project_id == row.owner:
        return True
    return row.visibility == "shared" and member


def target(ctx: RequestContext, row: Any, member: bool) -> dict[str, Any]:
    """The policy target of an image (``member_id`` only when the caller is a member)."""
    return {
        "id": row.id,
        "project_id": row.owner,
        "owner": row.owner,
        "visibility": row.visibility,
        "member_id": ctx.project_id if member else None,
    }


async def get_visible(
    mgr: ImageManager,
    session: AsyncSession,
    ctx: RequestContext,
    image_id: str,
    *,
    for_update: bool = False,
) -> Record:
    """The image if the caller may see it (policy ``get_image`` included), else 404."""
    record = await load(session, image_id, for_update=for_update)
    if record is None:
        raise not_found(image_id)
    row = record.row
    if row.visibility == "shared" and row.owner != ctx.project_id:
        record.is_member = await is_member(session, image_id, ctx.project_id)
    if not visible(mgr, ctx, row, record.is_member):
        raise not_found(image_id)
    if not mgr.policy.check(ctx, "get_image", target(ctx, row, record.is_member)):
        raise not_found(image_id)
    return record


def readable_properties(
    mgr: ImageManager, ctx: RequestContext, properties: Mapping[str, str]
) -> Mapping[str, str]:
    """The properties the caller may read (all of them without property protections)."""
    protections = mgr.protections
    if protections is None or not properties:
        return properties
    return {k: v for k, v in properties.items() if protections.allowed(ctx, k, "read")}


def render(mgr: ImageManager, ctx: RequestContext, record: Record) -> dict[str, Any]:
    return image_view(
        record.row,
        readable_properties(mgr, ctx, record.properties),
        record.tags,
        _ordered_stores(mgr, record.stores),
    )


def _ordered_stores(mgr: ImageManager, stores: Iterable[str]) -> list[str]:
    order = {name: i for i, name in enumerate(mgr.stores)}
    return sorted(stores, key=lambda s: (order.get(s, len(order)), s))


def rows_to_records(rows: Iterable[Row[Any]]) -> list[Record]:
    return [Record(row) for row in rows]
