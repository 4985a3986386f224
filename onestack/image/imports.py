"""The interoperable image import: ``POST /v2/images/{id}/import`` and the work behind it.

Methods: ``glance-direct`` (data staged with ``PUT .../stage``), ``web-download`` (the cloud
fetches a URL; refused up front when the host cannot reach it), ``copy-image`` (an active
image's data copied into more stores; admin only by default). The API answers 202 and a
background task does the work, recorded as a task (``api_image_import``) and on the image in
Glance's ``os_glance_*`` properties: the import lock (``os_glance_import_task``), the stores
still to do (``os_glance_importing_to_stores``) and those that failed
(``os_glance_failed_import``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict
from onestack.image import glance_download
from onestack.image.data import add_location
from onestack.image.hashing import ImageDataPipeline
from onestack.image.models import Image, ImageLocation, ImageProperty, Task, table
from onestack.image.records import get_visible, target
from onestack.image.rpcapi import ImageWorkerAPI
from onestack.image.stores import Store, StoreError, discard_from
from onestack.image.views import notification_payload

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

LOG = logging.getLogger(__name__)
IMAGES = table(Image)
PROPS = table(ImageProperty)
TASKS = table(Task)
LOCK = "os_glance_import_task"
PENDING_STORES = "os_glance_importing_to_stores"
FAILED_STORES = "os_glance_failed_import"
TASK_TTL = dt.timedelta(hours=48)
CONNECT_TIMEOUT = 3.0


class ImportFailed(Exception):
    """The import could not finish; the message goes to the task."""


# -- request checks ------------------------------------------------------------------------


def parse_body(mgr: ImageManager, body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    if not isinstance(method, dict):
        raise BadRequest("Import request requires a 'method' field.")
    name = method.get("name")
    if name is None:
        raise BadRequest("Import request requires a 'name' field.")
    if name not in mgr.conf.enabled_import_methods:
        raise BadRequest(f"Unknown import method name '{name}'.")
    for flag in ("all_stores_must_succeed", "all_stores"):
        if flag in body and not isinstance(body[flag], bool):
            raise BadRequest(f"'{flag}' must be boolean value only")
    stores = body.get("stores")
    if stores is not None and (
        not isinstance(stores, list) or not all(isinstance(s, str) for s in stores)
    ):
        raise BadRequest("'stores' must be a list of store identifiers.")
    if stores and body.get("all_stores"):
        raise BadRequest(
            "All_stores parameter can't be used with x-image-meta-store header or stores parameter"
        )
    if name == "web-download":
        uri = method.get("uri")
        if not isinstance(uri, str) or not uri:
            raise BadRequest("The web-download method requires a 'uri'.")
    if name == "glance-download":
        glance_download.check_method(method)
    return body


def check_uri(mgr: ImageManager, uri: str) -> tuple[str, int]:
    """Glance's URI filtering for web-download (schemes, ports, hosts); returns host, port."""
    refused = BadRequest(f"URI for web-download does not pass filtering: {uri}")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise refused from None
    if parts.scheme not in mgr.conf.web_download_allowed_schemes or not parts.hostname:
        raise refused
    port = port or (443 if parts.scheme == "https" else 80)
    if port not in mgr.conf.web_download_allowed_ports:
        raise refused
    host = parts.hostname
    disallowed = mgr.conf.web_download_disallowed_hosts
    if host in disallowed:
        raise refused
    try:
        if str(ipaddress.ip_address(host)) in disallowed:
            raise refused
    except ValueError:
        pass
    return host, port


async def check_reachable(host: str, port: int) -> None:
    """web-download needs a network path to the URL; say so now rather than fail later."""
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        raise BadRequest(
            f"The web-download import method is unavailable: this cloud cannot reach "
            f"{host}:{port} ({exc.__class__.__name__}: {exc or 'timed out'}). The host may "
            "have no outside network."
        ) from None
    writer.close()


def _requested_stores(
    mgr: ImageManager, body: dict[str, Any], header_store: str | None
) -> list[str]:
    if body.get("all_stores"):
        return list(mgr.stores)
    wanted = body.get("stores") or ([header_store] if header_store else [mgr.default_store])
    for store_id in wanted:
        if store_id not in mgr.stores:
            raise Conflict(f"Store {store_id} is not available on this cloud.")
    return list(dict.fromkeys(wanted))


async def _active_locations(session: AsyncSession, image_id: str) -> list[tuple[str, str]]:
    stmt = (
        select(ImageLocation.store, ImageLocation.url)
        .where(ImageLocation.image_id == image_id, ImageLocation.status == "active")
        .order_by(ImageLocation.id)
    )
    return [(s, u) for s, u in await session.execute(stmt)]


async def start_import(
    mgr: ImageManager,
    ctx: RequestContext,
    image_id: str,
    body: dict[str, Any],
    header_store: str | None = None,
) -> str | None:
    """Validate and launch an import; returns the task id (None when there is nothing to do)."""
    body = parse_body(mgr, body)
    method = body["method"]["name"]
    uri = body["method"].get("uri")
    if method == "web-download":
        host, port = check_uri(mgr, uri)
        async with mgr.read() as session:
            record = await get_visible(mgr, session, ctx, image_id)
        _check_state(record.row, method)
        # Only a caller who may import gets the cloud to open a connection for it (and learns
        # from the answer whether a host:port is reachable from inside).
        mgr.enforce(ctx, "modify_image", target(ctx, record.row, record.is_member))
        await check_reachable(host, port)  # before any lock: it may take seconds
    remote = None
    if method == "glance-download":
        async with mgr.read() as session:
            record = await get_visible(mgr, session, ctx, image_id)
        if record.row.status != "queued":
            raise Conflict(f"Image needs to be in 'queued' state to use '{method}' method")
        mgr.enforce(ctx, "modify_image", target(ctx, record.row, record.is_member))
        remote = await glance_download.remote_image(mgr, ctx, body["method"])  # no lock held
        uri = remote.file_url
    all_must = body.get("all_stores_must_succeed", True)
    if ctx.project_id is not None:
        await mgr.quotas.limits(ctx.project_id)  # cached before the write lock
    async with mgr.write() as session:
        record = await get_visible(mgr, session, ctx, image_id, for_update=True)
        row = record.row
        await mgr.quotas.enforce(session, row.owner, {"image_size_total": 0})
        if remote is not None and row.status == "queued":
            # the remote image's formats and properties, as Glance copies them
            await session.execute(
                update(IMAGES).where(IMAGES.c.id == image_id).values(**remote.formats)
            )
            await _set_props(session, image_id, dict(remote.properties))
            record = await get_visible(mgr, session, ctx, image_id, for_update=True)
            row = record.row
        _check_state(row, method)
        tgt = target(ctx, row, record.is_member)
        mgr.enforce(ctx, "copy_image" if method == "copy-image" else "modify_image", tgt)
        if LOCK in record.properties:
            await _check_lock(session, record.properties[LOCK])
        stores = _requested_stores(mgr, body, header_store)
        if method == "copy-image":
            present = {s for s, _ in await _active_locations(session, image_id)}
            if body.get("all_stores"):
                stores = [s for s in stores if s not in present]
                if not stores:
                    return None
            else:
                for store_id in stores:
                    if store_id in present:
                        raise BadRequest(f"Image is already present at store '{store_id}'")
        task_id = str(uuid.uuid4())
        now = utcnow()
        await session.execute(
            insert(TASKS),
            [
                {
                    "id": task_id,
                    "type": "api_image_import",
                    "status": "pending",
                    "owner": ctx.project_id,
                    "image_id": image_id,
                    "user_id": ctx.user_id,
                    "request_id": ctx.request_id,
                    "message": "",
                    "result": None,
                    "input": {"image_id": image_id, "import_req": body, "backend": stores},
                    "expires_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        await _set_props(
            session, image_id, {LOCK: task_id, PENDING_STORES: ",".join(stores), FAILED_STORES: ""}
        )
        if not mgr.platform.transport.durable:
            # the cast dies with this process until a worker takes it: this process owns it
            await mgr.leases.take(session, image_id, "import")
        values: dict[str, Any] = {"updated_at": now}
        if method != "copy-image":
            values["status"] = "importing"
        await session.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(**values))
        await _purge_expired_tasks(session)
    await ImageWorkerAPI(mgr.platform.transport).run_import(
        ctx,
        image_id=image_id,
        task_id=task_id,
        method=method,
        stores=stores,
        uri=uri,
        all_must=all_must,
    )
    return task_id


def _check_state(row: Any, method: str) -> None:
    """409 unless the image is in the state (and has the formats) ``method`` needs."""
    status = row.status
    if status == "active" and method != "copy-image":
        raise Conflict("Image with status active cannot be target for import")
    if status != "active" and method == "copy-image":
        raise Conflict("Only images with status active can be targeted for copying")
    if status != "queued" and method in ("web-download", "glance-download"):
        raise Conflict(f"Image needs to be in 'queued' state to use '{method}' method")
    if status != "uploading" and method == "glance-direct":
        raise Conflict("Image needs to be staged before 'glance-direct' method can be used")
    if not row.container_format:
        raise Conflict("'container_format' needs to be set before import")
    if not row.disk_format:
        raise Conflict("'disk_format' needs to be set before import")


async def _check_lock(session: AsyncSession, task_id: str) -> None:
    """409 while another import task holds the image (a finished or vanished one does not)."""
    task = (await session.execute(select(TASKS.c.status).where(TASKS.c.id == task_id))).first()
    if task is not None and task.status in ("pending", "processing"):
        raise Conflict(
            "New operation on image is not permitted as prior operation is still in progress"
        )


async def _set_props(session: AsyncSession, image_id: str, props: dict[str, str | None]) -> None:
    """Set (or, with None, remove) free properties directly; the stores lists stay as empty
    strings once nothing is left in them (as Glance leaves them: clients wait on them)."""
    names = list(props)
    await session.execute(
        delete(PROPS).where(PROPS.c.image_id == image_id, PROPS.c.name.in_(names))
    )
    rows = [
        {"image_id": image_id, "name": k, "value": v} for k, v in props.items() if v is not None
    ]
    if rows:
        await session.execute(insert(PROPS), rows)


async def _purge_expired_tasks(session: AsyncSession) -> None:
    await session.execute(
        delete(TASKS).where(TASKS.c.expires_at.is_not(None), TASKS.c.expires_at < utcnow())
    )


# -- the work ------------------------------------------------------------------------------


class ImportJob:
    def __init__(
        self,
        mgr: ImageManager,
        ctx: RequestContext,
        image_id: str,
        task_id: str,
        method: str,
        stores: list[str],
        uri: str | None,
        all_must: bool,
    ):
        self.mgr = mgr
        self.ctx = ctx
        self.image_id = image_id
        self.task_id = task_id
        self.method = method
        self.stores = stores
        self.uri = uri
        self.all_must = all_must
        self.done: list[tuple[str, str]] = []
        self.failed: list[str] = []

    @classmethod
    async def for_image(
        cls, mgr: ImageManager, session: AsyncSession, image_id: str
    ) -> ImportJob | None:
        """The unfinished import of ``image_id`` as its task row describes it, if any."""
        lock = (
            await session.execute(
                select(PROPS.c.value).where(PROPS.c.image_id == image_id, PROPS.c.name == LOCK)
            )
        ).scalar()
        task = None
        if lock is not None:
            task = (await session.execute(select(TASKS).where(TASKS.c.id == lock))).first()
        if task is None or task.status not in ("pending", "processing"):
            return None
        request = task.input.get("import_req") or {}
        method = request.get("method") or {}
        ctx = RequestContext(
            user_id=task.user_id, project_id=task.owner, request_id=task.request_id or ""
        )
        return cls(
            mgr,
            ctx,
            image_id,
            task.id,
            method.get("name", "glance-direct"),
            list(task.input.get("backend") or []),
            method.get("uri"),
            request.get("all_stores_must_succeed", True),
        )

    @property
    def lease_kind(self) -> str:
        """``import``: the import is this process's alone; ``import-on-broker``: the broker
        gives the cast to another worker if this one dies (which then starts over)."""
        return "import-on-broker" if self.mgr.platform.transport.durable else "import"

    async def run(self) -> None:
        try:
            retry = await self._begin()
        except Exception:
            LOG.exception("image %s: import task %s could not start", self.image_id, self.task_id)
            return
        if retry is None:
            LOG.info("image %s: import task %s is finished already", self.image_id, self.task_id)
            return
        try:
            if retry:
                await self._clear_attempt()
            await self._work()
        except asyncio.CancelledError:
            if self.mgr.platform.transport.durable:  # delivered again to another worker
                await asyncio.shield(self._let_go())
            else:
                await asyncio.shield(self._fail("The import was interrupted (service stopping)."))
            raise
        except (
            ImportFailed,
            glance_download.DownloadFailed,
            StoreError,
            ValueError,
            OSError,
            httpx.HTTPError,
        ) as exc:
            await self._fail(str(exc) or exc.__class__.__name__)
        except Exception as exc:
            LOG.exception("image %s: import task %s failed", self.image_id, self.task_id)
            await self._fail(f"Unexpected error: {exc.__class__.__name__}")

    async def _begin(self) -> bool | None:
        """Take the import: its lease and the task ``processing``. True when an earlier
        attempt (by a worker that died) had begun it, None when the task is finished."""
        async with self.mgr.write() as session:
            task = (
                await session.execute(
                    select(TASKS.c.status).where(TASKS.c.id == self.task_id).with_for_update()
                )
            ).first()
            if task is None or task.status not in ("pending", "processing"):
                return None
            await self.mgr.leases.take(session, self.image_id, self.lease_kind)
            await session.execute(
                update(TASKS)
                .where(TASKS.c.id == self.task_id)
                .values(status="processing", updated_at=utcnow())
            )
        return bool(task.status == "processing")

    async def _clear_attempt(self) -> None:
        """Undo what a dead worker's attempt left: the data it stored but did not record,
        and, for new data, the locations it recorded (a copy keeps the copies it finished)."""
        async with self.mgr.write() as session:
            present = await _active_locations(session, self.image_id)
            if self.method != "copy-image":
                await session.execute(
                    delete(table(ImageLocation)).where(ImageLocation.image_id == self.image_id)
                )
            else:
                copied = {store for store, _ in present}
                self.stores = [s for s in self.stores if s not in copied]
        if self.method != "copy-image":
            await _delete_data(self.mgr, present)
        await discard_from(self._stores(self.stores), self.image_id)

    def _stores(self, store_ids: list[str]) -> list[Store]:
        """The configured stores among ``store_ids``."""
        return [self.mgr.stores[s] for s in store_ids if s in self.mgr.stores]

    async def _let_go(self) -> None:
        async with self.mgr.write() as session:
            await self.mgr.leases.release(session, self.image_id)

    async def _image(self) -> Any:
        async with self.mgr.read() as session:
            row = (
                await session.execute(select(IMAGES).where(IMAGES.c.id == self.image_id))
            ).first()
        if row is None:
            raise ImportFailed(f"Image {self.image_id} was deleted during the import.")
        return row

    async def _work(self) -> None:
        row = await self._image()
        if self.method == "copy-image" and not self.stores:
            await self._finish()  # an earlier attempt copied everything before it died
            return
        if self.method == "copy-image":
            async with self.mgr.read() as session:
                locations = await _active_locations(session, self.image_id)
            if not locations:
                raise ImportFailed("The image has no data to copy.")
            src_id, src_url = locations[0]
            source = self.mgr.stores[src_id]
            first = await self._copy_first(row, lambda: source.get(src_url), verify=True)
        else:
            first = await self._copy_first(row, self._source())
        if first is None:
            raise ImportFailed(f"Import to store(s) {', '.join(self.failed)} failed.")
        first_store, first_url = first
        finished = {first_store, *self.failed}
        for store_id in [s for s in self.stores if s not in finished]:
            store = self.mgr.stores[store_id]
            await self._to_store(store, lambda: self.mgr.stores[first_store].get(first_url))
        if not self.done:
            raise ImportFailed(f"Import to store(s) {', '.join(self.failed)} failed.")
        if self.failed and self.all_must:
            raise ImportFailed(f"Import to store(s) {', '.join(self.failed)} failed.")
        await self._finish()

    def _source(self) -> Callable[[], AsyncIterator[bytes]]:
        if self.method == "glance-direct":
            staging = self.mgr.staging
            url = staging.url_for(self.image_id)
            return lambda: staging.get(url)
        if self.method == "glance-download":
            token = self.ctx.auth_token
            return lambda: glance_download.download(self.mgr, self.uri or "", token)
        assert self.uri is not None
        return lambda: _web_download(self.uri or "")

    async def _copy_first(
        self, row: Any, open_source: Callable[[], AsyncIterator[bytes]], *, verify: bool = False
    ) -> tuple[str, str] | None:
        """Into the first store that takes it, through inspection and hashing."""
        for store_id in self.stores:
            store = self.mgr.stores[store_id]
            cap = self.mgr.conf.image_size_cap
            async with self.mgr.read() as session:
                left = await self.mgr.quotas.remaining_bytes(session, row.owner, "image_size_total")
            if left is not None:
                cap = min(cap, left)
            pipeline = ImageDataPipeline(
                open_source(),
                disk_format=row.disk_format,
                container_format=row.container_format,
                max_size=cap,
                hash_algo=self.mgr.conf.hashing_algorithm,
            )
            try:
                url, _ = await store.add(self.image_id, aiter(pipeline))
                await pipeline.finish()
            except ValueError:
                raise  # the data itself is refused (format, size): no other store helps
            except StoreError as exc:
                await self._store_failed(store_id, exc)
                if self.all_must:
                    return None
                continue
            if verify and pipeline.os_hash_value != row.os_hash_value:
                await store.delete(url)
                raise ImportFailed("The copied data does not match the image's hash.")
            await self._record(store_id, url, pipeline if not verify else None)
            self.stores = [store_id] + [s for s in self.stores if s != store_id]
            return store_id, url
        return None

    async def _to_store(
        self, store: Store, open_source: Callable[[], AsyncIterator[bytes]]
    ) -> None:
        try:
            url, _ = await store.add(self.image_id, open_source())
        except StoreError as exc:
            await self._store_failed(store.name, exc)
            return
        await self._record(store.name, url, None)

    async def _store_failed(self, store_id: str, exc: Exception) -> None:
        LOG.warning("image %s: import into store %s failed: %s", self.image_id, store_id, exc)
        self.failed.append(store_id)
        async with self.mgr.write() as session:
            await self._progress(session)

    async def _progress(self, session: AsyncSession) -> None:
        finished = {s for s, _ in self.done} | set(self.failed)
        pending = [s for s in self.stores if s not in finished]
        await _set_props(
            session,
            self.image_id,
            {
                PENDING_STORES: ",".join(pending),
                FAILED_STORES: ",".join(self.failed),
            },
        )

    async def _record(self, store_id: str, url: str, pipeline: ImageDataPipeline | None) -> None:
        """Add the location (and, for the first copy of new data, the checksums)."""
        self.done.append((store_id, url))
        async with self.mgr.write() as session:
            exists = (
                await session.execute(
                    select(IMAGES.c.id).where(IMAGES.c.id == self.image_id).with_for_update()
                )
            ).first()
            if exists is None:
                await self.mgr.stores[store_id].delete(url)
                raise ImportFailed(f"Image {self.image_id} was deleted during the import.")
            await add_location(session, self.image_id, store_id, url)
            if pipeline is not None:
                await session.execute(
                    update(IMAGES)
                    .where(IMAGES.c.id == self.image_id)
                    .values(
                        size=pipeline.size,
                        virtual_size=pipeline.virtual_size,
                        checksum=pipeline.checksum,
                        os_hash_algo=pipeline.os_hash_algo,
                        os_hash_value=pipeline.os_hash_value,
                        updated_at=utcnow(),
                    )
                )
            await self._progress(session)

    async def _finish(self) -> None:
        """The image active, the task succeeded and the lease released, in one transaction
        (unless the import was taken from this worker meanwhile)."""
        async with self.mgr.write() as session:
            await self._still_mine(session)
            await session.execute(
                update(IMAGES)
                .where(IMAGES.c.id == self.image_id)
                .values(status="active", updated_at=utcnow())
            )
            await _set_props(session, self.image_id, {LOCK: None, PENDING_STORES: ""})
            await self._task_in(session, "success", "", {"image_id": self.image_id})
            await self.mgr.leases.release(session, self.image_id)
        if self.method == "glance-direct":
            await _delete_staged(self.mgr, self.image_id)
        row = await self._image()
        event = "image.upload" if self.method != "copy-image" else "image.update"
        await self.mgr.notify(self.ctx, event, notification_payload(row, {}, []))

    async def _still_mine(self, session: AsyncSession) -> None:
        """ImportFailed unless the task is still running (a reconcile may have failed it)."""
        status = (
            await session.execute(
                select(TASKS.c.status).where(TASKS.c.id == self.task_id).with_for_update()
            )
        ).scalar()
        if status != "processing":
            raise ImportFailed("The import was ended while it ran (its worker was presumed gone).")

    async def _fail(self, message: str) -> None:
        LOG.info("image %s: import task %s failed: %s", self.image_id, self.task_id, message)
        async with self.mgr.write() as session:
            cleanup = await self.fail_in(session, message)
        await cleanup()

    async def fail_in(self, session: AsyncSession, message: str) -> Callable[[], Awaitable[None]]:
        """End the import as failed in ``session``'s transaction: new data is dropped and the
        image is back to ``queued`` (a copy keeps the copies it finished unless all had to
        succeed), the task failed, the lease released. Returns what removes the dropped data,
        to run after the commit."""
        recorded = await _active_locations(session, self.image_id)
        if self.method != "copy-image":
            dropped = recorded
            await session.execute(
                delete(table(ImageLocation)).where(ImageLocation.image_id == self.image_id)
            )
            await session.execute(
                update(IMAGES)
                .where(IMAGES.c.id == self.image_id)
                .values(
                    status="queued",
                    size=None,
                    virtual_size=None,
                    checksum=None,
                    os_hash_algo=None,
                    os_hash_value=None,
                    updated_at=utcnow(),
                )
            )
        elif self.all_must:
            dropped = list(self.done)
            for store_id, url in dropped:
                await session.execute(
                    delete(table(ImageLocation)).where(
                        ImageLocation.image_id == self.image_id,
                        ImageLocation.store == store_id,
                        ImageLocation.url == url,
                    )
                )
        else:
            dropped = []
        # the stores that keep a copy (a worker that died may have finished some)
        done = {store for store, _ in recorded} - {store for store, _ in dropped}
        failed = list(dict.fromkeys([*self.failed, *(s for s in self.stores if s not in done)]))
        await _set_props(
            session,
            self.image_id,
            {LOCK: None, PENDING_STORES: "", FAILED_STORES: ",".join(failed)},
        )
        await self._task_in(session, "failure", message, None)
        await self.mgr.leases.release(session, self.image_id)

        async def cleanup() -> None:
            await _delete_data(self.mgr, dropped)
            unfinished = [s for s in self.stores if s not in done]
            await discard_from(self._stores(unfinished), self.image_id)  # what they kept
            if self.method == "glance-direct":
                await _delete_staged(self.mgr, self.image_id)

        return cleanup

    async def _task_in(
        self, session: AsyncSession, status: str, message: str, result: dict[str, Any] | None
    ) -> None:
        now = utcnow()
        await session.execute(
            update(TASKS)
            .where(TASKS.c.id == self.task_id)
            .values(
                status=status,
                message=message,
                result=result,
                updated_at=now,
                expires_at=now + TASK_TTL,
            )
        )


async def _delete_data(mgr: ImageManager, locations: list[tuple[str, str]]) -> None:
    for store_id, url in locations:
        store = mgr.stores.get(store_id)
        try:
            if store is not None:
                await store.delete(url)
        except StoreError:
            LOG.warning("could not delete %s after a failed import", url)


async def _delete_staged(mgr: ImageManager, image_id: str) -> None:
    try:
        await mgr.staging.delete(mgr.staging.url_for(image_id))
    except StoreError:
        LOG.warning("could not delete the staged data of image %s", image_id)


async def _web_download(uri: str) -> AsyncIterator[bytes]:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT)) as client,
        client.stream("GET", uri, follow_redirects=False) as response,
    ):
        if response.status_code != 200:
            raise ImportFailed(f"web-download of {uri} answered {response.status_code}")
        async for chunk in response.aiter_bytes(1024 * 1024):
            yield chunk


async def image_tasks(mgr: ImageManager, ctx: RequestContext, image_id: str) -> list[Task]:
    async with mgr.read() as session:
        await get_visible(mgr, session, ctx, image_id)
        stmt = select(Task).where(Task.image_id == image_id).order_by(Task.created_at.desc())
        return list((await session.execute(stmt)).scalars())
