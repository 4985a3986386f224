"""Container sync: a container with ``X-Container-Sync-To`` (a URL of another container, or
``//realm/cluster/account/container`` resolved through the ``container_sync_realms`` config)
and ``X-Container-Sync-Key`` sends every object change after its sync point to that container:
PUTs with the object's bytes, metadata and timestamp, DELETEs for tombstones. The receiving
container accepts them when its own X-Container-Sync-Key is the same (see
:func:`accepts_sync`)."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from onestack.object.proxy.storage import Storage
from onestack.object.servers.container import ContainerBroker

LOG = logging.getLogger(__name__)
SYNC_POINT = "x-container-sysmeta-sync-point"
#: (method, url, headers, body blocks) -> HTTP status
Send = Callable[[str, str, dict[str, str], Iterator[bytes]], int]


def resolve(target: str, realms: dict[str, dict[str, str]]) -> str | None:
    """The container URL ``X-Container-Sync-To`` names; None if it names no known place."""
    if target.startswith("//"):
        parts = target[2:].split("/", 3)
        if len(parts) != 4 or not all(parts):
            return None
        realm, cluster, account, container = parts
        base = realms.get(realm.lower(), {}).get(cluster.lower())
        if base is None:
            return None
        return f"{base.rstrip('/')}/{quote(account)}/{quote(container)}"
    if target.startswith(("http://", "https://")) and target.count("/") >= 5:
        return target.rstrip("/")
    return None


def accepts_sync(metadata: dict[str, str], given: str | None) -> bool:
    """A sync request may write here: the container's sync key matches the one sent."""
    key = metadata.get("x-container-sync-key") or ""
    return bool(key) and given is not None and hmac.compare_digest(key, given)


def _containers(storage: Storage) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for dev in storage.rings["container"].devs.values():
        root = storage.devices / dev["device"] / "containers"
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if name.endswith(".db"):
                    info = ContainerBroker(root / dirpath / name).info()
                    if info.metadata.get("x-container-sync-to") and not info.deleted:
                        found.add((info.account, info.container))
    return sorted(found)


def sync_container(
    storage: Storage, account: str, container: str, realms: dict[str, dict[str, str]], send: Send
) -> dict[str, int]:
    from onestack.object.servers import object as disk

    broker = storage.container_broker(account, container)
    if broker is None:
        return {"puts": 0, "deletes": 0, "failures": 0}
    info = broker.info()
    url = resolve(info.metadata.get("x-container-sync-to", ""), realms)
    key = info.metadata.get("x-container-sync-key", "")
    if url is None or not key:
        return {"puts": 0, "deletes": 0, "failures": 1}
    point = info.metadata.get(SYNC_POINT, "")
    rows = (
        broker._conn()
        .execute(
            "SELECT name, created_at, deleted FROM object WHERE created_at > ?"
            " ORDER BY created_at LIMIT 1000",
            (point,),
        )
        .fetchall()
    )
    puts = deletes = failures = 0
    for row in rows:
        name, ts = row["name"], row["created_at"]
        target = f"{url}/{quote(name)}"
        headers = {"X-Container-Sync-Key": key, "X-Timestamp": ts}
        if row["deleted"]:
            status = send("DELETE", target, headers, iter(()))
            ok = status < 300 or status == 404
            deletes += ok
        else:
            state, _ = storage.object_state(account, container, name)
            if not state.exists or state.metadata is None or state.data_file is None:
                continue  # replaced since: a newer row follows
            meta = state.metadata
            headers["Content-Type"] = str(meta.get("Content-Type", "application/octet-stream"))
            headers["ETag"] = str(meta.get("ETag", ""))
            for k, v in meta.items():
                if k.lower().startswith("x-object-meta-"):
                    headers[k] = str(v)
            size = int(meta.get("Content-Length", 0))
            headers["Content-Length"] = str(size)
            status = send(
                "PUT", target, headers, disk.read_range(state.data_file, 0, size, 1 << 20)
            )
            ok = status < 300
            puts += ok
        if not ok:
            failures += 1
            LOG.warning(
                "container sync of /%s/%s/%s to %s failed (%s)",
                account,
                container,
                name,
                url,
                status,
            )
            break  # keep the sync point here; the next pass retries
        point = ts
    if point != info.metadata.get(SYNC_POINT, ""):
        storage.post_container(account, container, {SYNC_POINT: [point, point]})
    return {"puts": puts, "deletes": deletes, "failures": failures}


def run_once(
    storage: Storage, realms: dict[str, dict[str, str]], send: Send | None = None
) -> dict[str, Any]:
    send = send or http_send
    totals = {"containers": 0, "puts": 0, "deletes": 0, "failures": 0}
    for account, container in _containers(storage):
        done = sync_container(storage, account, container, realms, send)
        totals["containers"] += 1
        for k, v in done.items():
            totals[k] += v
    return totals


def http_send(method: str, url: str, headers: dict[str, str], body: Iterator[bytes]) -> int:
    import httpx

    try:
        return httpx.request(method, url, headers=headers, content=body, timeout=60).status_code
    except httpx.HTTPError:
        return 599
