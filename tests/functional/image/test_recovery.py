"""Work of a process that is gone (its lease lapsed) is reconciled by any image process: uploads
killed, stages and memory-bus imports undone, broker imports left to the broker's redelivery;
a redelivered import starts over cleanly and a finished one is not run twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, insert, select, update

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.image import recovery
from onestack.image.imports import LOCK, ImportJob
from onestack.image.models import LEASES, Image, ImageLocation, ImageProperty, Task, table
from tests.functional.image.conftest import IMG, create_image

DEAD = "gone-host:4242:deadbeef"
IMAGES, TASKS, PROPS = table(Image), table(Task), table(ImageProperty)


async def lease(mgr: Any, image_id: str, kind: str, *, seconds: float = -5,
                holder: str = DEAD) -> None:
    """A lease as another process left it (lapsed ``seconds`` ago when negative)."""
    async with mgr.write() as s:
        await s.execute(delete(LEASES).where(LEASES.c.resource_id == image_id))
        await s.execute(insert(LEASES).values(
            resource_id=image_id, kind=kind, holder=holder,
            expires_at=utcnow() + dt.timedelta(seconds=seconds)))


async def set_image(mgr: Any, image_id: str, **values: Any) -> None:
    async with mgr.write() as s:
        await s.execute(update(IMAGES).where(IMAGES.c.id == image_id).values(**values))


async def status(api: httpx.AsyncClient, h: dict[str, str], image_id: str) -> dict[str, Any]:
    r = await api.get(f"{IMG}/images/{image_id}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def leases_of(mgr: Any, image_id: str) -> list[Any]:
    async with mgr.read() as s:
        return list(await s.execute(select(LEASES).where(LEASES.c.resource_id == image_id)))


async def stage(api: httpx.AsyncClient, h: dict[str, str], image_id: str, data: bytes) -> None:
    r = await api.put(f"{IMG}/images/{image_id}/stage", content=data,
                      headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text


async def importing(mgr: Any, api: httpx.AsyncClient, h: dict[str, str], data: bytes,
                    task_status: str) -> tuple[str, str]:
    """A staged image in ``importing`` with its task, as a worker would find it: (image, task)."""
    image = await create_image(api, h, disk_format="raw", container_format="bare")
    await stage(api, h, image["id"], data)
    task_id = str(uuid.uuid4())
    now = utcnow()
    async with mgr.write() as s:
        await s.execute(insert(TASKS).values(
            id=task_id, type="api_image_import", status=task_status, owner=image["owner"],
            image_id=image["id"], user_id=None, request_id="req-test", message="", result=None,
            input={"image_id": image["id"], "backend": ["file"],
                   "import_req": {"method": {"name": "glance-direct"}}},
            expires_at=None, created_at=now, updated_at=now))
        await s.execute(insert(PROPS).values(image_id=image["id"], name=LOCK, value=task_id))
        await s.execute(update(IMAGES).where(IMAGES.c.id == image["id"]).values(
            status="importing"))
    return image["id"], task_id


async def task_row(mgr: Any, task_id: str) -> Any:
    async with mgr.read() as s:
        return (await s.execute(select(TASKS).where(TASKS.c.id == task_id))).one()


async def test_an_upload_whose_process_died_is_killed_and_its_data_removed(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image = await create_image(api, demo, disk_format="raw", container_format="bare")
    image_id = image["id"]
    await set_image(mgr, image_id, status="saving")
    folder = mgr.stores["file"].path
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{image_id}.0123456789ab.part"
    part.write_bytes(b"half an image")
    whole = folder / image_id  # stored, but the process died before recording it
    whole.write_bytes(b"a whole image")
    await lease(mgr, image_id, "upload")

    assert await recovery.reconcile(mgr) >= 1
    assert (await status(api, demo, image_id))["status"] == "killed"
    assert not part.exists() and not whole.exists()
    assert await leases_of(mgr, image_id) == []
    await recovery.reconcile(mgr)  # idempotent
    assert (await status(api, demo, image_id))["status"] == "killed"


async def test_live_leases_and_recorded_data_are_left_alone(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image = await create_image(api, demo, disk_format="raw", container_format="bare")
    await set_image(mgr, image["id"], status="saving")
    await lease(mgr, image["id"], "upload", seconds=60, holder="alive:1:cafe")
    await recovery.reconcile(mgr)
    assert (await status(api, demo, image["id"]))["status"] == "saving"
    assert len(await leases_of(mgr, image["id"])) == 1

    # an active image's own file is never taken for a leftover
    done = await create_image(api, demo, disk_format="raw", container_format="bare")
    r = await api.put(f"{IMG}/images/{done['id']}/file", content=b"kept data",
                      headers={**demo, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    await lease(mgr, done["id"], "upload")
    await recovery.reconcile(mgr)
    assert (await status(api, demo, done["id"]))["status"] == "active"
    r = await api.get(f"{IMG}/images/{done['id']}/file", headers=demo)
    assert r.content == b"kept data"


async def test_an_upload_takes_and_releases_its_lease(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image = await create_image(api, demo, disk_format="raw", container_format="bare")
    seen: list[Any] = []

    async def body() -> Any:
        yield b"x" * 1000
        seen.extend(await leases_of(mgr, image["id"]))
        yield b"y" * 1000

    r = await api.put(f"{IMG}/images/{image['id']}/file", content=body(),
                      headers={**demo, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    assert [(row.kind, row.holder) for row in seen] == [("upload", mgr.leases.holder)]
    assert await leases_of(mgr, image["id"]) == []


async def test_a_stage_whose_process_died_is_undone(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image = await create_image(api, demo, disk_format="raw", container_format="bare")
    await stage(api, demo, image["id"], b"staged bytes")
    staged = mgr.staging.path / image["id"]
    assert staged.exists()
    await lease(mgr, image["id"], "stage")
    await recovery.reconcile(mgr)
    shown = await status(api, demo, image["id"])
    assert (shown["status"], shown["size"]) == ("queued", None)
    assert not staged.exists()


async def test_an_import_lost_with_its_process_fails_its_task(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image_id, task_id = await importing(mgr, api, demo, b"to import", "processing")
    await lease(mgr, image_id, "import")
    await recovery.reconcile(mgr)
    shown = await status(api, demo, image_id)
    assert shown["status"] == "queued"
    assert LOCK not in shown and shown["os_glance_failed_import"] == "file"
    task = await task_row(mgr, task_id)
    assert task.status == "failure" and DEAD in task.message
    assert not (mgr.staging.path / image_id).exists()
    # and the image can be staged and imported again
    await stage(api, demo, image_id, b"second try")


async def test_a_broker_import_is_left_for_redelivery_and_starts_over(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    data = b"imported on the second delivery"
    image_id, task_id = await importing(mgr, api, demo, data, "processing")
    # the dead worker had stored (and recorded) data in one store and half in another
    async with mgr.write() as s:
        await s.execute(insert(table(ImageLocation)).values(
            image_id=image_id, store="backup", url=f"file://{mgr.stores['backup'].path}/x",
            status="active", meta={}, created_at=utcnow()))
    mgr.stores["file"].path.mkdir(parents=True, exist_ok=True)
    stray = mgr.stores["file"].path / f".{image_id}.aaaaaaaaaaaa.part"
    stray.write_bytes(b"partial")
    await lease(mgr, image_id, "import-on-broker")
    await recovery.reconcile(mgr)
    assert (await status(api, demo, image_id))["status"] == "importing"
    assert (await task_row(mgr, task_id)).status == "processing"
    assert await leases_of(mgr, image_id) == []

    # the broker delivers the cast again: the next worker starts over
    ctx = RequestContext("req-test", project_id=(await status(api, demo, image_id))["owner"])
    job = ImportJob(mgr, ctx, image_id, task_id, "glance-direct", ["file"], None, True)
    await job.run()
    shown = await status(api, demo, image_id)
    assert shown["status"] == "active", (await task_row(mgr, task_id)).message
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["stores"] == "file"
    assert not stray.exists()
    assert (await task_row(mgr, task_id)).status == "success"
    assert await leases_of(mgr, image_id) == []

    # a third delivery of the finished import does nothing
    before = await status(api, demo, image_id)
    await ImportJob(mgr, ctx, image_id, task_id, "glance-direct", ["file"], None, True).run()
    assert await status(api, demo, image_id) == before


async def test_a_worker_that_lost_its_import_does_not_activate_it(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    """A slow worker whose import was failed by a reconcile meanwhile must not finish it."""
    image_id, task_id = await importing(mgr, api, demo, b"slow worker", "pending")
    ctx = RequestContext("req-test", project_id=(await status(api, demo, image_id))["owner"])
    job = ImportJob(mgr, ctx, image_id, task_id, "glance-direct", ["file"], None, True)
    original = job._work

    async def work_then_lose() -> None:
        async with mgr.write() as s:  # another process's reconcile fails the task meanwhile
            await s.execute(update(TASKS).where(TASKS.c.id == task_id).values(
                status="failure", message="reconciled"))
        await original()

    job._work = work_then_lose  # type: ignore[method-assign]
    await job.run()
    shown = await status(api, demo, image_id)
    assert shown["status"] == "queued"
    assert shown["checksum"] is None
    assert not list(mgr.stores["file"].path.glob(f"*{image_id}*"))


async def test_two_processes_never_reconcile_one_lease_twice(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    image = await create_image(api, demo, disk_format="raw", container_format="bare")
    await set_image(mgr, image["id"], status="saving")
    await lease(mgr, image["id"], "upload")
    async with mgr.read() as s:
        lapsed = [x for x in await mgr.leases.lapsed(s) if x.resource_id == image["id"]]
    async with mgr.write() as s:
        assert await mgr.leases.reclaim(s, lapsed[0]) is True
    async with mgr.write() as s:
        assert await mgr.leases.reclaim(s, lapsed[0]) is False


def aged(path: Path, data: bytes = b"left behind") -> Path:
    """A file written long ago (older than any lease)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - 3600
    os.utime(path, (old, old))
    return path


async def test_the_sweep_removes_only_data_nothing_records(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any
) -> None:
    files, staging = mgr.stores["file"].path, mgr.staging.path
    active = await create_image(api, demo, disk_format="raw", container_format="bare")
    r = await api.put(f"{IMG}/images/{active['id']}/file", content=b"recorded",
                      headers={**demo, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    recorded = aged(files / active["id"], b"recorded")
    waiting = await create_image(api, demo, disk_format="raw", container_format="bare")
    await stage(api, demo, waiting["id"], b"staged, import to come")
    staged = aged(staging / waiting["id"])
    busy = await create_image(api, demo, disk_format="raw", container_format="bare")
    await set_image(mgr, busy["id"], status="saving")
    await lease(mgr, busy["id"], "upload", seconds=60, holder="alive:2:beef")
    in_flight = aged(files / f".{busy['id']}.0123456789ab.part")

    gone = str(uuid.uuid4())  # deleted while its files were being removed
    orphans = [aged(files / gone), aged(files / f".{gone}.feedfacecafe.part"),
               aged(staging / str(uuid.uuid4()))]
    queued = await create_image(api, demo, disk_format="raw", container_format="bare")
    orphans.append(aged(staging / queued["id"]))  # staged data of a queued image
    fresh = files / str(uuid.uuid4())
    fresh.write_bytes(b"being written right now")

    assert await recovery.sweep(mgr) >= 3  # three images' worth (other tests may leave more)
    assert [p for p in orphans if p.exists()] == []
    assert recorded.exists() and staged.exists() and in_flight.exists() and fresh.exists()
    r = await api.get(f"{IMG}/images/{active['id']}/file", headers=demo)
    assert r.content == b"recorded"
    fresh.unlink()
    await set_image(mgr, busy["id"], status="killed")
    async with mgr.write() as s:
        await s.execute(delete(LEASES).where(LEASES.c.resource_id == busy["id"]))
    in_flight.unlink()


async def test_a_redelivered_copy_keeps_the_copies_already_made(
    api: httpx.AsyncClient, admin: dict[str, str], mgr: Any
) -> None:
    """copy-image into two stores; the worker died after the first copy: the next delivery
    copies only the second, and one that finds every copy made just finishes."""
    image = await create_image(api, admin, disk_format="raw", container_format="bare")
    image_id = image["id"]
    r = await api.put(f"{IMG}/images/{image_id}/file", content=b"to copy",
                      headers={**admin, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    ctx = RequestContext("req-test", project_id=image["owner"])

    async def dead_attempt(stores: list[str]) -> str:
        """A copy-image task a worker began (and copied into the stores present) before dying."""
        task_id = str(uuid.uuid4())
        now = utcnow()
        async with mgr.write() as s:
            await s.execute(insert(TASKS).values(
                id=task_id, type="api_image_import", status="processing", owner=image["owner"],
                image_id=image_id, user_id=None, request_id="req-test", message="",
                result=None, expires_at=None, created_at=now, updated_at=now,
                input={"image_id": image_id, "backend": stores,
                       "import_req": {"method": {"name": "copy-image"}}}))
            await s.execute(delete(PROPS).where(PROPS.c.image_id == image_id,
                                                PROPS.c.name == LOCK))
            await s.execute(insert(PROPS).values(image_id=image_id, name=LOCK, value=task_id))
        return task_id

    task_id = await dead_attempt(["backup"])
    await ImportJob(mgr, ctx, image_id, task_id, "copy-image", ["backup"], None, True).run()
    assert (await task_row(mgr, task_id)).status == "success"
    shown = await status(api, admin, image_id)
    assert (shown["status"], sorted(shown["stores"].split(","))) == ("active", ["backup", "file"])

    # every copy was made before the worker died: the next delivery only finishes the task
    task_id = await dead_attempt(["backup"])
    await ImportJob(mgr, ctx, image_id, task_id, "copy-image", ["backup"], None, True).run()
    assert (await task_row(mgr, task_id)).status == "success", (
        await task_row(mgr, task_id)).message
    shown = await status(api, admin, image_id)
    assert (shown["status"], sorted(shown["stores"].split(","))) == ("active", ["backup", "file"])
    r = await api.get(f"{IMG}/images/{image_id}/file", headers=admin)
    assert r.content == b"to copy"
