"""Migrations: ``os-migrations`` (every move, filters and paging by microversion) and a
server's in-progress live migrations (list, show, force complete 2.22, abort 2.24/2.65)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import select
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import instances, live_migration, servers, states, views
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, base, body_of
from onestack.compute.core import ComputeCore, core_of
from onestack.compute.models import Instance, Migration
from onestack.compute.servers import _time

router = protected_router()
IN_PROGRESS = ("queued", "preparing", "running")
_FILTERS = ("instance_uuid", "status", "migration_type", "source_compute")


def migration_view(m: Migration, version: Version, root: str) -> dict[str, Any]:
    """An ``os-migrations`` entry."""
    body: dict[str, Any] = {
        "id": m.id,
        "instance_uuid": m.instance_uuid,
        "status": m.status,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": "127.0.0.1" if m.dest_compute else None,
        "old_instance_type_id": m.old_flavor_id,
        "new_instance_type_id": m.new_flavor_id,
        "created_at": views.iso_usec(m.created_at),
        "updated_at": views.iso_usec(m.updated_at),
    }
    if version >= (2, 23):
        body["migration_type"] = m.migration_type
        if m.migration_type == "live-migration" and m.status in IN_PROGRESS:
            body["links"] = views.links(root, f"servers/{m.instance_uuid}/migrations", str(m.id))
    return _later_fields(body, m, version)


def _later_fields(body: dict[str, Any], m: Migration, version: Version) -> dict[str, Any]:
    """``uuid`` from 2.59, ``user_id`` and ``project_id`` from 2.80 (both views)."""
    if version >= (2, 59):
        body["uuid"] = m.uuid
    if version >= (2, 80):
        body["user_id"] = m.user_id
        body["project_id"] = m.project_id
    return body


def server_migration_view(m: Migration, version: Version) -> dict[str, Any]:
    """A ``/servers/{id}/migrations`` entry (the fake driver reports no byte counts)."""
    body: dict[str, Any] = {
        "id": m.id,
        "server_uuid": m.instance_uuid,
        "status": m.status,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": "127.0.0.1" if m.dest_compute else None,
        "created_at": views.iso_usec(m.created_at),
        "updated_at": views.iso_usec(m.updated_at),
        "memory_total_bytes": None,
        "memory_processed_bytes": None,
        "memory_remaining_bytes": None,
        "disk_total_bytes": None,
        "disk_processed_bytes": None,
        "disk_remaining_bytes": None,
    }
    return _later_fields(body, m, version)


@router.get("/os-migrations")
async def list_migrations(
    request: Request, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    core.enforce(ctx, "os-migrations:index")
    params = request.query_params
    stmt = select(Migration).order_by(Migration.created_at.desc(), Migration.id.desc())
    for key in _FILTERS:
        if params.get(key):
            stmt = stmt.where(getattr(Migration, key) == params[key])
    if params.get("host"):
        stmt = stmt.where(
            (Migration.source_compute == params["host"])
            | (Migration.dest_compute == params["host"])
        )
    if version >= (2, 59) and params.get("changes-since"):
        stmt = stmt.where(Migration.updated_at >= _time(params["changes-since"], "changes-since"))
    if version >= (2, 66) and params.get("changes-before"):
        before = _time(params["changes-before"], "changes-before")
        if params.get("changes-since") and _time(params["changes-since"], "s") > before:
            raise BadRequest(
                "The value of changes-since must be less than or equal to changes-before."
            )
        stmt = stmt.where(Migration.updated_at <= before)
    if version >= (2, 80):
        for key in ("user_id", "project_id"):
            if params.get(key):
                stmt = stmt.where(getattr(Migration, key) == params[key])
    async with core.read() as session:
        rows = list((await session.execute(stmt)).scalars())
    body: dict[str, Any] = {}
    if version >= (2, 59):
        rows, more = _page(rows, params, core.conf.max_limit)
        if more:
            query = {**dict(params), "marker": rows[-1].uuid}
            url = f"{base(request)}/v2.1/os-migrations?{urlencode(query)}"
            body["migrations_links"] = [{"href": url, "rel": "next"}]
    root = base(request)
    return json({"migrations": [migration_view(m, version, root) for m in rows], **body})


def _page(rows: list[Migration], params: Any, max_limit: int) -> tuple[list[Migration], bool]:
    """Rows after ``marker`` (a migration uuid) up to ``limit``; whether more follow."""
    marker = params.get("marker")
    if marker:
        ids = [m.uuid for m in rows]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        rows = rows[ids.index(marker) + 1 :]
    limit = max_limit
    if params.get("limit") is not None:
        raw = params["limit"]
        if not raw.isdigit():
            raise BadRequest(f"Invalid input for query parameters limit. Value: {raw}.")
        limit = min(int(raw), max_limit)
    return rows[:limit], len(rows) > limit


async def _live(
    core: ComputeCore, ctx: RequestContext, server_id: str, rule: str
) -> tuple[Instance, list[Migration]]:
    core.enforce(ctx, rule)
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, server_id, rule)
        rows = list(
            (
                await session.execute(
                    select(Migration)
                    .where(
                        Migration.instance_uuid == server_id,
                        Migration.migration_type == "live-migration",
                        Migration.status.in_(IN_PROGRESS),
                    )
                    .order_by(Migration.id)
                )
            ).scalars()
        )
    return instance, rows


def _one(rows: list[Migration], server_id: str, migration_id: str) -> Migration:
    for m in rows:
        if str(m.id) == migration_id:
            return m
    raise NotFound(
        f"In-progress live migration {migration_id} is not found for server {server_id}."
    )


async def _any(core: ComputeCore, server_id: str, migration_id: str) -> Migration | None:
    if not migration_id.isdigit():
        return None
    async with core.read() as session:
        stmt = select(Migration).where(
            Migration.id == int(migration_id), Migration.instance_uuid == server_id
        )
        return (await session.execute(stmt)).scalar()


@router.get("/servers/{server_id}/migrations")
async def server_migrations(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    if version < (2, 23):
        raise NotFound("The resource could not be found.")
    _, rows = await _live(core_of(request), ctx, server_id, "servers:migrations:index")
    return json({"migrations": [server_migration_view(m, version) for m in rows]})


@router.get("/servers/{server_id}/migrations/{migration_id}")
async def show_server_migration(
    request: Request,
    server_id: str,
    migration_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    if version < (2, 23):
        raise NotFound("The resource could not be found.")
    _, rows = await _live(core_of(request), ctx, server_id, "servers:migrations:show")
    return json({"migration": server_migration_view(_one(rows, server_id, migration_id), version)})


@router.post("/servers/{server_id}/migrations/{migration_id}/action")
async def migration_action(
    request: Request,
    server_id: str,
    migration_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    if version < (2, 22):
        raise NotFound("The resource could not be found.")
    body = await body_of(request)
    if list(body) != ["force_complete"] or body["force_complete"] is not None:
        raise BadRequest(
            "Invalid input for field/attribute force_complete: the body must be "
            '{"force_complete": null}.'
        )
    core = core_of(request)
    instance, rows = await _live(core, ctx, server_id, "servers:migrations:force_complete")
    migration = await _movable(core, instance, rows, server_id, migration_id, "force_complete")
    if migration.status != "running":
        raise BadRequest(
            f"Migration {migration_id} state of instance {server_id} is {migration.status}. "
            "Cannot force_complete while the migration is in this state."
        )
    async with core.write() as session:
        await instances.start_action(session, server_id, "live_migration_force_complete", ctx)
    await core.agents.live_migration_force_complete(ctx, migration.dest_compute, server_id)
    return Response(status_code=202)


@router.delete("/servers/{server_id}/migrations/{migration_id}")
async def abort_migration(
    request: Request,
    server_id: str,
    migration_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    if version < (2, 24):
        raise NotFound("The resource could not be found.")
    core = core_of(request)
    instance, rows = await _live(core, ctx, server_id, "servers:migrations:delete")
    migration = await _movable(core, instance, rows, server_id, migration_id, "abort")
    allowed = live_migration.ABORTABLE_2_65 if version >= (2, 65) else live_migration.ABORTABLE
    if migration.status not in allowed or not migration.dest_compute:
        raise BadRequest(
            f"Migration {migration_id} state of instance {server_id} is {migration.status}. "
            "Cannot abort live migration while the migration is in this state."
        )
    async with core.write() as session:
        await instances.start_action(session, server_id, "live_migration_cancel", ctx)
    await core.agents.live_migration_abort(ctx, migration.dest_compute, server_id)
    return Response(status_code=202)


async def _movable(
    core: ComputeCore,
    instance: Instance,
    rows: list[Migration],
    server_id: str,
    migration_id: str,
    what: str,
) -> Migration:
    """The server's in-progress live migration ``migration_id``: 409 when the server is not
    migrating, 400 when the migration is another kind or over, 404 when there is none."""
    if instance.task_state != states.MIGRATING:
        raise Conflict(
            f"Cannot '{what}' instance {server_id} while it is in task_state {instance.task_state}"
        )
    for m in rows:
        if str(m.id) == migration_id:
            return m
    other = await _any(core, server_id, migration_id)
    if other is None:
        raise NotFound(f"Migration {migration_id} could not be found for server {server_id}.")
    raise BadRequest(
        f"Migration {migration_id} of instance {server_id} is a {other.migration_type} in "
        f"state {other.status}: only a live migration in progress can be changed."
    )
