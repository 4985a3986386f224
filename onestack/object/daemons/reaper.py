"""The account reaper: an account deleted by a reseller admin (its status DELETED) loses its
contents: every object of every container (the hidden versions containers too) gets a
tombstone, then each container is deleted, as Swift's swift-account-reaper does."""

from __future__ import annotations

import os
from typing import Any

from onestack.object import timestamps
from onestack.object.proxy.storage import Storage
from onestack.object.servers.account import AccountBroker


def deleted_accounts(storage: Storage) -> list[str]:
    """The names of the accounts some replica marks deleted."""
    names: set[str] = set()
    for dev in storage.rings["account"].devs.values():
        root = storage.devices / dev["device"] / "accounts"
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if not name.endswith(".db"):
                    continue
                broker = AccountBroker(root / dirpath / name)
                info = broker.info()
                if info.deleted:
                    names.add(info.account)
    return sorted(names)


def reap_account(storage: Storage, account: str) -> dict[str, int]:
    objects = containers = 0
    broker = storage.account_broker(account)
    if broker is None:
        return {"objects": 0, "containers": 0}
    done: set[str] = set()
    while rows := [
        r for r in broker.list_containers(limit=1000) if "name" in r and r["name"] not in done
    ]:
        for row in rows:
            done.add(row["name"])
            container = row["name"]
            cbroker = storage.container_broker(account, container)
            while cbroker is not None and (listed := cbroker.list_objects(limit=1000)):
                for obj in listed:
                    ts = timestamps.now()
                    storage.write_marker(
                        account, container, obj["name"], ts, ".ts", {"X-Timestamp": ts}
                    )
                    storage.update_container_listing(
                        account,
                        container,
                        obj["name"],
                        ts,
                        0,
                        "application/deleted",
                        "noetag",
                        True,
                    )
                    objects += 1
            storage.delete_container(account, container, timestamps.now())
            containers += 1
        broker = storage.account_broker(account)
        if broker is None:
            break
    return {"objects": objects, "containers": containers}


def run_once(storage: Storage) -> dict[str, Any]:
    reaped = objects = containers = 0
    for account in deleted_accounts(storage):
        info = storage.account_info(account)
        if info is None or not info.deleted:
            continue  # re-created since (a newer PUT wins)
        done = reap_account(storage, account)
        objects += done["objects"]
        containers += done["containers"]
        reaped += 1
    return {"accounts": reaped, "containers_deleted": containers, "objects_deleted": objects}
