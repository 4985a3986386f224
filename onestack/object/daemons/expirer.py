"""The object expirer: objects whose X-Delete-At has come are deleted, from the queue the
proxy keeps in the hidden ``.expiring_objects`` account."""

from __future__ import annotations

import time
from typing import Any

from onestack.object import timestamps
from onestack.object.proxy.storage import Storage

ACCOUNT = ".expiring_objects"


def run_once(storage: Storage) -> dict[str, Any]:
    result = _run_delete_at(storage)
    result["lifecycle_expired"] = run_lifecycle(storage)
    return result


def run_lifecycle(storage: Storage) -> int:
    """Objects of S3 buckets whose lifecycle Expiration rules (Days) have come: deleted."""
    from onestack.object.middleware import s3features

    listed = storage.container_broker(s3features.LIFECYCLE_ACCOUNT, s3features.LIFECYCLE_CONTAINER)
    if listed is None:
        return 0
    expired = 0
    for entry in listed.list_objects(limit=10000):
        account, _, bucket = entry["name"].partition("/")
        info = storage.container_info(account, bucket)
        broker = storage.container_broker(account, bucket)
        if info is None or broker is None:
            continue
        for row in broker.list_objects(limit=10000):
            if s3features.expired_by_lifecycle(info.metadata, row["name"], row["created_at"]):
                ts = timestamps.now()
                storage.write_marker(account, bucket, row["name"], ts, ".ts", {"X-Timestamp": ts})
                storage.update_container_listing(
                    account, bucket, row["name"], ts, 0, "application/deleted", "noetag", True
                )
                expired += 1
    return expired


def _run_delete_at(storage: Storage) -> dict[str, Any]:
    expired = skipped = 0
    now = time.time()
    broker = storage.account_broker(ACCOUNT)
    if broker is None:
        return {"expired": 0, "skipped": 0}
    for bucket in broker.list_containers(limit=10000):
        if "name" not in bucket or int(bucket["name"]) > now:
            continue
        cbroker = storage.container_broker(ACCOUNT, bucket["name"])
        if cbroker is None:
            continue
        for row in cbroker.list_objects(limit=10000):
            when, _, path = row["name"].partition("-")
            if int(when) > now:
                break
            account, container, obj = path.split("/", 2)
            state, _node = storage.object_state(account, container, obj)
            ts = timestamps.now()
            if (
                state.exists
                and state.metadata is not None
                and state.metadata.get("X-Delete-At") == when
            ):
                storage.write_marker(account, container, obj, ts, ".ts", {"X-Timestamp": ts})
                storage.update_container_listing(
                    account, container, obj, ts, 0, "application/deleted", "noetag", True
                )
                expired += 1
            else:
                skipped += 1
            storage.update_container_listing(
                ACCOUNT, bucket["name"], row["name"], ts, 0, "text/plain", "noetag", True
            )
        if cbroker.object_count() == 0:
            storage.delete_container(ACCOUNT, bucket["name"], timestamps.now())
    return {"expired": expired, "skipped": skipped}
