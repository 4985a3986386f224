"""The container updater: container listing updates that failed (a container device was
down) wait as async pendings on an object device and are retried until they land."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import orjson

from onestack.object.proxy.storage import Storage
from onestack.object.servers.container import ContainerBroker


def run_once(storage: Storage) -> dict[str, Any]:
    successes = failures = 0
    ring = storage.rings["container"]
    for dev in storage.rings["object"].devs.values():
        folder = storage.devices / dev["device"] / "async_pending"
        if not folder.is_dir():
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            path = folder / name
            try:
                record = orjson.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            account, container = record["account"], record["container"]
            part, nodes = ring.nodes(account, container)
            node = next((n for n in nodes if n["device"] == record["device"]), None)
            if node is None:  # the ring changed: any primary will do
                node = nodes[0]
            if not storage.available(node):
                failures += 1
                continue
            h = storage.hash(account, container)
            broker = ContainerBroker(storage._db_path("container", node, part, h))
            try:
                if not broker.exists:
                    failures += 1
                    continue
                broker.merge_rows([tuple(record["row"])])
                storage.report_container(account, broker.info())
            except OSError:
                failures += 1
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            successes += 1
    return {"successes": successes, "failures": failures}
