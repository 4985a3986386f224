"""Object versioning, Swift's newer API: ``X-Versions-Enabled: true`` on a container keeps every
version of its objects.

The container holds the latest version of each object as a plain object, with its version id
(the timestamp of the PUT that wrote it) in ``X-Object-Sysmeta-Version-Id``; older versions and
delete markers live in a hidden versions container (``\\x00versions\\x00<container>``: no client
can name it) as ``<object>\\x00<inverted timestamp>``, so a name's versions list newest first.
An object written while versioning was never on or is suspended has the version id ``null``.

Clients see ``X-Object-Version-Id`` on PUT, GET, HEAD and DELETE, ``?version-id=`` on GET, HEAD
and DELETE, and ``?versions`` on a container GET (every version with ``version_id`` and
``is_latest``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from onestack.object import timestamps
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.objects import Found, ObjectController
    from onestack.object.proxy.storage import Storage
    from onestack.object.servers.container import ContainerInfo

HIDDEN = "\x00versions\x00"
HIDDEN_END = "\x00\U0010ffff"  # every hidden name sorts below this
SYSMETA = "X-Object-Sysmeta-Version-Id"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
NULL = "null"
_LOCKS: dict[tuple[str, str, str], list[Any]] = {}  # key -> [lock, users]
TRUE = ("true", "1", "yes", "on", "t", "y")
FALSE = ("false", "0", "no", "off", "f", "n")
KEPT = (
    "Content-Type",
    "Content-Disposition",
    "Content-Encoding",
    "X-Object-Manifest",
    "X-Static-Large-Object",
    "X-Object-Sysmeta-Slo-Etag",
    "X-Object-Sysmeta-Slo-Size",
    "X-Symlink-Target",
    "X-Symlink-Target-Account",
)


def versions_container(container: str) -> str:
    return HIDDEN + container


def version_name(obj: str, version_id: str) -> str:
    inverted = timestamps.normalize(9999999999.99999 - float(version_id))
    return f"{obj}\x00{inverted}"


def state(info: ContainerInfo | None) -> bool | None:
    """True: versioning on; False: suspended; None: never enabled on this container."""
    if info is None:
        return None
    value = info.metadata.get("x-versions-enabled")
    if not value:
        return None
    return value == "True"


def parse_enabled(req: Request) -> str | None:
    """The stored value of an ``X-Versions-Enabled`` header ("True"/"False"), 400 if bad."""
    value = req.header("x-versions-enabled")
    if value is None:
        return None
    lower = value.strip().lower()
    if lower in TRUE:
        return "True"
    if lower in FALSE:
        return "False"
    raise HTTPError(400, "X-Versions-Enabled must be true or false")


def check_container_update(req: Request, info: ContainerInfo | None) -> None:
    """Object versioning and the legacy X-Versions-Location / X-History-Location exclude
    each other."""
    legacy = ("x-versions-location", "x-history-location")
    if parse_enabled(req) == "True":
        if any(req.header(h) for h in legacy) or (
            info is not None and any(info.metadata.get(h) for h in legacy)
        ):
            raise HTTPError(
                400,
                "Cannot enable object versioning on a container configured with "
                "X-Versions-Location or X-History-Location",
            )
    elif any(req.header(h) for h in legacy) and state(info):
        raise HTTPError(
            400,
            "Cannot set X-Versions-Location or X-History-Location while object "
            "versioning is enabled",
        )


def ensure_versions_container(
    storage: Storage, account: str, container: str, ts: str, policy_index: int
) -> None:
    hidden = versions_container(container)
    if storage.container_info(account, hidden) is None:
        storage.put_container(account, hidden, ts, {}, policy_index)


def version_id(found: Found) -> str:
    return str(found.metadata.get(SYSMETA) or NULL)


# -- writing ---------------------------------------------------------------------------------
async def _archive(
    ctrl: ObjectController, account: str, container: str, obj: str, found: Found
) -> None:
    """Copy the current version into the versions container (its version id kept)."""
    from onestack.object.proxy.objects import Body

    vid = version_id(found)
    metadata: dict[str, Any] = {
        k: v
        for k, v in found.metadata.items()
        if k.lower().startswith("x-object-meta-") or k in KEPT
    }
    metadata[SYSMETA] = vid
    name = version_name(obj, found.timestamp if vid == NULL else vid)
    body = Body(found.size, found=found)
    await ctrl.write(
        account,
        versions_container(container),
        name,
        ctrl.stream(body, 0, body.size),
        metadata,
        length=body.size,
        timestamp=timestamps.now(),
    )


async def before_put(
    ctrl: ObjectController,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
    metadata: dict[str, Any],
    ts: str,
) -> str | None:
    """Keep the version a PUT replaces; the new version's id (None: not versioned)."""
    enabled = state(info)
    if enabled is None:
        return None
    current = ctrl.find(account, container, obj)
    if current is not None and (enabled or version_id(current) != NULL):
        await _archive(ctrl, account, container, obj, current)
    if enabled:
        metadata[SYSMETA] = ts
        return ts
    return NULL


async def delete(
    ctrl: ObjectController,
    req: Request,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
) -> Response | None:
    """A DELETE on a container that is or was versioned; None: the plain DELETE applies.
    Deletes of one object's versions run one at a time (clients such as ``swift delete
    --versions`` send them in parallel; a deleted current version promotes the next one)."""
    if state(info) is None:
        if req.param("version-id") is not None:
            raise HTTPError(400, "version-id is only allowed on versioned containers")
        return None
    key = (account, container, obj)
    entry = _LOCKS.setdefault(key, [asyncio.Lock(), 0])
    entry[1] += 1  # requests holding or waiting for this object's lock
    try:
        async with entry[0]:
            return await _delete_locked(ctrl, req, account, container, obj, info)
    finally:
        entry[1] -= 1
        if not entry[1]:
            del _LOCKS[key]


async def _delete_locked(
    ctrl: ObjectController,
    req: Request,
    account: str,
    container: str,
    obj: str,
    info: ContainerInfo,
) -> Response | None:
    enabled = state(info)
    wanted = req.param("version-id")
    if enabled is None:
        if wanted is not None:
            raise HTTPError(400, "version-id is only allowed on versioned containers")
        return None
    if wanted is not None:
        return await _delete_version(ctrl, account, container, obj, check_version_id(wanted))
    current = ctrl.find(account, container, obj)
    if current is not None and (enabled or version_id(current) != NULL):
        await _archive(ctrl, account, container, obj, current)
    ts = timestamps.now()
    headers: dict[str, str] = {}
    if enabled:
        marker_meta = {"Content-Type": DELETE_MARKER, SYSMETA: ts}
        await ctrl.write(
            account,
            versions_container(container),
            version_name(obj, ts),
            _empty(),
            marker_meta,
            length=0,
            timestamp=ts,
        )
        headers["X-Object-Version-Id"] = ts
    else:
        headers["X-Object-Version-Id"] = NULL
    if current is not None:
        ctrl.remove(account, container, obj, timestamps.now())
    return Response(204, b"", headers, content_type="text/html; charset=UTF-8")


async def _empty() -> Any:
    if False:  # pragma: no cover - an async generator that yields nothing
        yield b""


async def _delete_version(
    ctrl: ObjectController, account: str, container: str, obj: str, wanted: str
) -> Response:
    headers = {"X-Object-Version-Id": wanted}
    current = ctrl.find(account, container, obj)
    if current is not None and version_id(current) == wanted:
        ctrl.remove(account, container, obj, timestamps.now())
        await _promote(ctrl, account, container, obj)
        return Response(204, b"", headers, content_type="text/html; charset=UTF-8")
    name = _archived_name(ctrl, account, container, obj, wanted)
    if name is None:
        raise HTTPError(404)
    ctrl.remove(account, versions_container(container), name, timestamps.now())
    if current is None:
        await _promote(ctrl, account, container, obj)
    return Response(204, b"", headers, content_type="text/html; charset=UTF-8")


async def _promote(ctrl: ObjectController, account: str, container: str, obj: str) -> None:
    """With no current version, the newest archived one becomes current (unless it is a
    delete marker: then the object stays deleted)."""
    hidden = versions_container(container)
    broker = ctrl.storage.container_broker(account, hidden)
    if broker is None:
        return
    rows = broker.list_objects(limit=1, prefix=obj + "\x00")
    if not rows or rows[0]["content_type"] == DELETE_MARKER:
        return
    found = ctrl.find(account, hidden, rows[0]["name"])
    if found is None:
        return
    from onestack.object.proxy.objects import Body

    metadata = {
        k: v
        for k, v in found.metadata.items()
        if k.lower().startswith("x-object-meta-") or k in KEPT or k == SYSMETA
    }
    body = Body(found.size, found=found)
    await ctrl.write(
        account,
        container,
        obj,
        ctrl.stream(body, 0, body.size),
        metadata,
        length=body.size,
        timestamp=timestamps.now(),
    )
    ctrl.remove(account, hidden, rows[0]["name"], timestamps.now())


# -- reading ---------------------------------------------------------------------------------
def check_version_id(value: str) -> str:
    if value == NULL:
        return NULL
    ts = timestamps.valid(value)
    if ts is None or "_" in value:
        raise HTTPError(400, "Invalid version-id")
    return ts


def _archived_name(
    ctrl: ObjectController, account: str, container: str, obj: str, wanted: str
) -> str | None:
    hidden = versions_container(container)
    if wanted != NULL:
        name = version_name(obj, wanted)
        broker = ctrl.storage.container_broker(account, hidden)
        if broker is None or not broker.list_objects(limit=1, prefix=name):
            return None
        return name
    broker = ctrl.storage.container_broker(account, hidden)
    if broker is None:
        return None
    for row in broker.list_objects(limit=10000, prefix=obj + "\x00"):
        found = ctrl.find(account, hidden, row["name"])
        if found is not None and version_id(found) == NULL:
            return str(row["name"])
    return None


def find_version(
    ctrl: ObjectController, req: Request, account: str, container: str, obj: str
) -> tuple[Found | None, str | None]:
    """The version a GET / HEAD asks for, and its id for ``X-Object-Version-Id`` (None when
    the container was never versioned)."""
    wanted = req.param("version-id")
    info = ctrl.storage.cached_info(account, container)
    if state(info) is None:
        if wanted is not None:
            raise HTTPError(400, "version-id is only allowed on versioned containers")
        return ctrl.find(account, container, obj), None
    if wanted is None:
        found = ctrl.find(account, container, obj)
        return found, version_id(found) if found is not None else None
    wanted = check_version_id(wanted)
    current = ctrl.find(account, container, obj)
    if current is not None and version_id(current) == wanted:
        return current, wanted
    name = _archived_name(ctrl, account, container, obj, wanted)
    if name is None:
        return None, None
    found = ctrl.find(account, versions_container(container), name)
    if found is None or found.metadata.get("Content-Type") == DELETE_MARKER:
        return None, wanted
    return found, wanted


# -- listing ---------------------------------------------------------------------------------
def list_versions(
    storage: Storage,
    account: str,
    container: str,
    query: dict[str, Any],
    version_marker: str | None,
) -> list[dict[str, Any]]:
    """Every version in name order, newest first within a name (``?versions``); a page
    starts after ``marker`` or, with ``version_marker``, after that version of ``marker``."""
    from onestack.object.proxy.listings import object_entry

    limit, prefix, marker, end = (
        query["limit"],
        query["prefix"],
        query["marker"],
        query["end_marker"],
    )
    if version_marker is not None and not marker:
        raise HTTPError(400, "version_marker param requires marker")
    hidden = versions_container(container)
    primary = storage.container_broker(account, container)
    archive = storage.container_broker(account, hidden)
    rows: list[tuple[tuple[str, int, str], dict[str, Any], str]] = []
    if primary is not None:
        for row in primary.list_objects(limit=limit, marker=marker, prefix=prefix, end_marker=end):
            rows.append(((row["name"], 0, ""), row, container))
    if archive is not None:
        found_rows = []
        if version_marker is not None:  # the rest of the marker's own versions first
            vid = check_version_id(version_marker)
            after = version_name(marker, vid) if vid != NULL else marker + "\x00"
            found_rows += archive.list_objects(limit=limit, marker=after, prefix=marker + "\x00")
        found_rows += archive.list_objects(
            limit=limit, marker=marker + "\x01" if marker else "", prefix=prefix, end_marker=end
        )
        for row in found_rows:
            name, _, inverted = row["name"].rpartition("\x00")
            rows.append(((name, 1, inverted), row, hidden))
    rows.sort(key=lambda r: r[0])
    entries = []
    newest_archived: dict[str, bool] = {}
    for (name, archived, _), row, where in rows[:limit]:
        found = storage_find(storage, account, where, row["name"])
        entry = object_entry({**row, "name": name})
        entry["version_id"] = version_id(found) if found is not None else NULL
        if not archived:
            entry["is_latest"] = True
        else:
            if name not in newest_archived:
                newest = archive.list_objects(limit=1, prefix=name + "\x00") if archive else []
                newest_archived[name] = not _has_current(primary, name) and (
                    bool(newest) and newest[0]["name"] == row["name"]
                )
                entry["is_latest"] = newest_archived[name]
            else:
                entry["is_latest"] = False
        entries.append(entry)
    return entries


def _has_current(primary: Any, name: str) -> bool:
    if primary is None:
        return False
    rows = primary.list_objects(limit=1, prefix=name)
    return bool(rows) and rows[0]["name"] == name


def storage_find(storage: Storage, account: str, container: str, name: str) -> Found | None:
    from onestack.object.proxy.objects import Found

    current, _ = storage.object_state(account, container, name)
    if not current.exists or current.metadata is None:
        return None
    return Found(current.metadata, current.data_file, current.timestamp or "0")
