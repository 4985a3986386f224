"""Versioned writes: ``X-Versions-Location`` (stack: an overwrite keeps the old version, a
DELETE brings the previous one back) and ``X-History-Location`` (history: an overwrite or a
DELETE keeps the old version in the history container)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.object import timestamps
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.objects import Found, ObjectController
    from onestack.object.servers.container import ContainerInfo


def version_prefix(obj: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/"


def _locations(info: ContainerInfo) -> tuple[str | None, str | None]:
    return (
        info.metadata.get("x-versions-location") or None,
        info.metadata.get("x-history-location") or None,
    )


async def _copy_version(
    ctrl: ObjectController,
    account: str,
    src: tuple[str, str],
    found: Found,
    dst_container: str,
    dst_obj: str,
    timestamp: str | None = None,
) -> None:
    from onestack.object.proxy.objects import Body

    if ctrl.storage.container_info(account, dst_container) is None:
        raise HTTPError(412, f"Versions container {dst_container} does not exist")
    metadata: dict[str, Any] = {
        k: v
        for k, v in found.metadata.items()
        if k.lower().startswith("x-object-meta-")
        or k
        in (
            "Content-Type",
            "Content-Disposition",
            "Content-Encoding",
            "X-Object-Manifest",
            "X-Static-Large-Object",
            "X-Object-Sysmeta-Slo-Etag",
            "X-Object-Sysmeta-Slo-Size",
        )
    }
    body = Body(found.size, found=found)
    await ctrl.write(
        account,
        dst_container,
        dst_obj,
        ctrl.stream(body, 0, body.size),
        metadata,
        length=body.size,
        timestamp=timestamp,
    )


async def on_write(
    ctrl: ObjectController,
    req: Request,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
) -> None:
    stack, history = _locations(info)
    location = stack or history
    if location is None:
        return
    found = ctrl.find(account, container, obj)
    if found is None:
        return
    name = version_prefix(obj) + found.timestamp
    await _copy_version(ctrl, account, (container, obj), found, location, name)


async def on_delete(
    ctrl: ObjectController,
    req: Request,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
) -> Response | None:
    stack, history = _locations(info)
    if history is not None:
        found = ctrl.find(account, container, obj)
        if found is not None:
            await _copy_version(
                ctrl,
                account,
                (container, obj),
                found,
                history,
                version_prefix(obj) + found.timestamp,
            )
        return None
    if stack is None:
        return None
    broker = ctrl.storage.container_broker(account, stack)
    if broker is None:
        return None
    prefix = version_prefix(obj)
    while True:
        rows = broker.list_objects(limit=1, prefix=prefix, reverse=True)
        if not rows:
            return None
        name = rows[0]["name"]
        previous = ctrl.find(account, stack, name)
        if previous is None:
            ctrl.remove(account, stack, name, timestamps.now())
            continue
        await _copy_version(ctrl, account, (stack, name), previous, container, obj)
        ctrl.remove(account, stack, name, timestamps.now())
        return Response(204, b"", content_type="text/html; charset=UTF-8")
