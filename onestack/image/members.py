"""Image members: the projects a ``shared`` image is offered to, and their answer.

The owner adds and removes members; a member accepts, rejects or leaves pending its own
membership (which decides whether the image shows in its default list). The owner sees every
member, a member only itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.image import validation
from onestack.image.models import ImageMember, table
from onestack.image.records import Record, get_visible, target
from onestack.image.schemas import MEMBER_STATUSES

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

MEMBERS = table(ImageMember)


def _only_shared(record: Record) -> None:
    if record.row.visibility != "shared":
        raise Forbidden("Only shared images have members.")


def _is_owner_side(mgr: ImageManager, ctx: RequestContext, record: Record) -> bool:
    return mgr.is_admin(ctx) or (ctx.project_id is not None and ctx.project_id == record.row.owner)


def _member_target(ctx: RequestContext, record: Record, member_id: str) -> dict[str, object]:
    return {**target(ctx, record.row, record.is_member), "member_id": member_id}


async def _get(session: AsyncSession, image_id: str, member_id: str) -> ImageMember | None:
    stmt = select(ImageMember).where(
        ImageMember.image_id == image_id, ImageMember.member == member_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _not_member(image_id: str, member_id: str) -> NotFound:
    return NotFound(f"{member_id} not found in the member list of the image {image_id}.")


async def add(mgr: ImageManager, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        mgr.enforce(ctx, "add_member", _member_target(ctx, record, member_id))
        _only_shared(record)
        if not _is_owner_side(mgr, ctx, record):
            raise Forbidden(f"Not allowed to create members for image {image_id}.")
        if await _get(session, image_id, member_id) is not None:
            raise Conflict(f"Member {member_id} is duplicated for image {image_id}")
        count = (
            await session.execute(
                select(func.count()).select_from(MEMBERS).where(MEMBERS.c.image_id == image_id)
            )
        ).scalar_one()
        validation.check_count("image members", count + 1, mgr.conf.image_member_quota)
        now = utcnow()
        await session.execute(
            insert(MEMBERS),
            [
                {
                    "image_id": image_id,
                    "member": member_id,
                    "status": "pending",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        member = await _get(session, image_id, member_id)
    assert member is not None
    await mgr.notify(ctx, "image.member.create", _payload(member))
    return member


async def list_members(mgr: ImageManager, ctx: RequestContext, image_id: str) -> list[ImageMember]:
    async with mgr.read() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        mgr.enforce(ctx, "get_members", target(ctx, record.row, record.is_member))
        _only_shared(record)
        stmt = select(ImageMember).where(ImageMember.image_id == image_id)
        if not _is_owner_side(mgr, ctx, record):
            stmt = stmt.where(ImageMember.member == ctx.project_id)
        return list((await session.execute(stmt.order_by(ImageMember.created_at))).scalars())


async def show(
    mgr: ImageManager, ctx: RequestContext, image_id: str, member_id: str
) -> ImageMember:
    async with mgr.read() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        if not mgr.policy.check(ctx, "get_member", _member_target(ctx, record, member_id)):
            raise _not_member(image_id, member_id)
        if record.row.visibility != "shared":
            raise _not_member(image_id, member_id)
        if not _is_owner_side(mgr, ctx, record) and member_id != ctx.project_id:
            raise _not_member(image_id, member_id)
        member = await _get(session, image_id, member_id)
        if member is None:
            raise _not_member(image_id, member_id)
        return member


async def set_status(
    mgr: ImageManager, ctx: RequestContext, image_id: str, member_id: str, status: object
) -> ImageMember:
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        mgr.enforce(ctx, "modify_member", _member_target(ctx, record, member_id))
        _only_shared(record)
        member = await _get(session, image_id, member_id)
        if member is None:
            raise _not_member(image_id, member_id)
        if member_id != ctx.project_id and not mgr.is_admin(ctx):
            raise Forbidden(f"Not allowed to update members for image {image_id}.")
        if status not in MEMBER_STATUSES:
            raise BadRequest(
                f"Incorrect request: Status must be one of {', '.join(MEMBER_STATUSES)}"
            )
        await session.execute(
            update(MEMBERS)
            .where(MEMBERS.c.image_id == image_id, MEMBERS.c.member == member_id)
            .values(status=status, updated_at=utcnow())
        )
        await session.refresh(member)
    await mgr.notify(ctx, "image.member.update", _payload(member))
    return member


async def remove(mgr: ImageManager, ctx: RequestContext, image_id: str, member_id: str) -> None:
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id)
        mgr.enforce(ctx, "delete_member", _member_target(ctx, record, member_id))
        _only_shared(record)
        member = await _get(session, image_id, member_id)
        if member is None:
            raise _not_member(image_id, member_id)
        if not _is_owner_side(mgr, ctx, record):
            raise Forbidden(f"Not allowed to delete members for image {image_id}.")
        await session.execute(
            delete(MEMBERS).where(MEMBERS.c.image_id == image_id, MEMBERS.c.member == member_id)
        )
    await mgr.notify(ctx, "image.member.delete", _payload(member))


def _payload(member: ImageMember) -> dict[str, object]:
    from onestack.image.views import member_view

    view = member_view(member)
    view.pop("schema")
    return view
