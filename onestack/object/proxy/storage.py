"""The cluster as the proxy sees it: the rings and the account, container and object servers
of every device, with quorum writes, newest-timestamp reads and handoffs.

In one process every device's server is a local call; a device that is not there (its
directory gone: unmounted, wiped, failed) is skipped for a handoff, as a node that does not
answer is in Swift.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from onestack.object import timestamps
from onestack.object.ring import Ring, hash_path
from onestack.object.servers import object as disk
from onestack.object.servers.account import AccountBroker, AccountInfo
from onestack.object.servers.container import ContainerBroker, ContainerInfo
from onestack.object.servers.disk import DeviceUnavailable, device_root, hash_dir

LOG = logging.getLogger(__name__)
Node = dict[str, Any]
INFO_TTL = 10.0


class Unreachable(OSError):
    """No replica of an object could be read (every node down): Swift answers 503."""


def quorum(n: int) -> int:
    return n // 2 + 1


class Storage:
    def __init__(self, devices: Path, rings: dict[str, Ring], prefix: bytes, suffix: bytes):
        self.devices = devices
        self.rings = rings
        self.prefix = prefix
        self.suffix = suffix
        #: what the daemons did, for /metrics and recon
        self.stats: dict[str, float] = {}
        #: container and account info the proxy recently read (as Swift keeps it in
        #: memcache): object requests do not ask the container servers every time
        self._infos: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._remote: Any = None

    def cached_info(self, account: str, container: str | None = None) -> Any:
        """Recent account / container info (None: it does not exist); at most
        ``INFO_TTL`` seconds old, or older while the servers that hold it are down."""
        key = (account, container) if container is not None else (account,)
        now = time.monotonic()
        hit = self._infos.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            if container is None:
                info: Any = self.account_info(account)
            else:
                info = self.container_info(account, container)
        except OSError:
            if hit is not None:
                return hit[1]
            raise
        # every replica unreachable looks like "missing": keep the last answer a while
        if (
            info is None
            and hit is not None
            and hit[1] is not None
            and not (self._any_available(key))
        ):
            return hit[1]
        if len(self._infos) > 100_000:
            self._infos.clear()
        self._infos[key] = (now + INFO_TTL, info)
        return info

    def _any_available(self, key: tuple[str, ...]) -> bool:
        kind = "container" if len(key) == 2 else "account"
        brokers = (
            self.container_brokers(*key) if kind == "container" else self.account_brokers(key[0])
        )
        return any(b.exists for b in brokers)

    def forget_info(self, account: str, container: str | None = None) -> None:
        self._infos.pop((account, container) if container is not None else (account,), None)

    def hash(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        return hash_path(account, container, obj, self.prefix, self.suffix)

    # -- nodes -----------------------------------------------------------------------------
    @staticmethod
    def is_remote(node: Node) -> bool:
        """A device with a port lives on an object node in another process."""
        return bool(node.get("port"))

    @property
    def remote(self) -> Any:
        """The clients of the object nodes (``proxy.remote.Nodes``), made on first use."""
        if self._remote is None:
            from onestack.object.proxy import remote
            from onestack.object.servers.node import backend_key

            self._remote = remote.Nodes(backend_key(self.prefix, self.suffix))
        return self._remote

    def available(self, node: Node) -> bool:
        if self.is_remote(node):
            return bool(self.remote.up(node))
        return (self.devices / node["device"]).is_dir()

    def local_available(self, node: Node) -> bool:
        """A device of this process that is there (what the daemons work on)."""
        return not self.is_remote(node) and (self.devices / node["device"]).is_dir()

    def write_nodes(self, kind: str, *path: str | None) -> tuple[int, list[Node], int]:
        """(part, one node per replica: the primary, or a handoff for a primary that is down,
        the number of primaries)."""
        ring = self.rings[kind]
        part, primaries = ring.nodes(*path)
        handoffs = ring.handoffs(part)
        chosen = []
        for node in primaries:
            if self.available(node):
                chosen.append(node)
                continue
            for spare in handoffs:
                if self.available(spare):
                    chosen.append(spare)
                    break
        return part, chosen, len(primaries)

    def read_nodes(self, kind: str, *path: str | None) -> tuple[int, Iterator[Node]]:
        ring = self.rings[kind]
        part, primaries = ring.nodes(*path)

        def nodes() -> Iterator[Node]:
            for node in primaries:
                if self.available(node):
                    yield node
            for node in ring.handoffs(part):
                if self.available(node):
                    yield node

        return part, nodes()

    def _db_path(self, kind: str, node: Node, part: int, name_hash: str) -> Path:
        folder = "accounts" if kind == "account" else "containers"
        return hash_dir(self.devices, node, folder, part, name_hash) / f"{name_hash}.db"

    # -- accounts --------------------------------------------------------------------------
    def account_brokers(self, account: str, write: bool = False) -> list[AccountBroker]:
        h = self.hash(account)
        if write:
            part, nodes, _ = self.write_nodes("account", account)
        else:
            part, it = self.read_nodes("account", account)
            nodes = list(it)
        return [AccountBroker(self._db_path("account", n, part, h)) for n in nodes]

    def account_info(self, account: str) -> AccountInfo | None:
        """The newest replica's view; None if no replica has the account."""
        best: AccountInfo | None = None
        for broker in self.account_brokers(account):
            if broker.exists:
                info = broker.info()
                if best is None or info.put_timestamp > best.put_timestamp:
                    best = info
                if self.rings["account"].replica_count == 1:
                    break
        return best

    def account_broker(self, account: str) -> AccountBroker | None:
        for broker in self.account_brokers(account):
            if broker.exists:
                return broker
        return None

    def put_account(
        self, account: str, timestamp: str, metadata: dict[str, list[Any]] | None = None
    ) -> int:
        self.forget_info(account)
        done = 0
        for broker in self.account_brokers(account, write=True):
            try:
                broker.initialize(account, timestamp)
                broker.put(timestamp, metadata or {})
                done += 1
            except OSError:
                LOG.warning("account PUT failed on %s", broker.path, exc_info=True)
        return done

    def post_account(self, account: str, metadata: dict[str, list[Any]]) -> int:
        self.forget_info(account)
        done = 0
        for broker in self.account_brokers(account, write=True):
            if broker.exists:
                broker.update_metadata(metadata)
                done += 1
        return done

    def delete_account(self, account: str, timestamp: str) -> int:
        self.forget_info(account)
        done = 0
        for broker in self.account_brokers(account, write=True):
            if broker.exists:
                broker.delete(timestamp)
                done += 1
        return done

    def report_container(self, account: str, info: ContainerInfo) -> None:
        """Tell the account replicas a container's stats (what the container updater does)."""
        for broker in self.account_brokers(account, write=True):
            try:
                if not broker.exists:
                    broker.initialize(account, info.created_at)
                broker.put_container(
                    info.container,
                    info.put_timestamp,
                    info.delete_timestamp,
                    info.object_count,
                    info.bytes_used,
                    info.storage_policy_index,
                )
            except OSError:
                LOG.warning("account update failed on %s", broker.path, exc_info=True)

    # -- containers ------------------------------------------------------------------------
    def container_brokers(
        self, account: str, container: str, write: bool = False
    ) -> list[ContainerBroker]:
        h = self.hash(account, container)
        if write:
            part, nodes, _ = self.write_nodes("container", account, container)
        else:
            part, it = self.read_nodes("container", account, container)
            nodes = list(it)
        return [ContainerBroker(self._db_path("container", n, part, h)) for n in nodes]

    def container_broker(self, account: str, container: str) -> ContainerBroker | None:
        """The replica to read a listing from (the newest put timestamp)."""
        best: tuple[str, ContainerBroker] | None = None
        for broker in self.container_brokers(account, container):
            if broker.exists:
                info = broker.info()
                if best is None or info.put_timestamp > best[0]:
                    best = (info.put_timestamp, broker)
                if self.rings["container"].replica_count == 1:
                    break
        return best[1] if best else None

    def container_info(self, account: str, container: str) -> ContainerInfo | None:
        broker = self.container_broker(account, container)
        if broker is None:
            return None
        info = broker.info()
        return None if info.deleted else info

    def put_container(
        self,
        account: str,
        container: str,
        timestamp: str,
        metadata: dict[str, list[Any]],
        policy_index: int = 0,
    ) -> tuple[int, bool]:
        """(replicas written, created): created is False when it existed already."""
        self.forget_info(account, container)
        done = 0
        created = False
        last: ContainerInfo | None = None
        for broker in self.container_brokers(account, container, write=True):
            try:
                if not broker.exists:
                    broker.initialize(account, container, timestamp, policy_index)
                    created = True
                    broker.update_metadata(metadata)
                elif broker.put(timestamp, metadata):
                    created = True
                last = broker.info()
                done += 1
            except OSError:
                LOG.warning("container PUT failed on %s", broker.path, exc_info=True)
        if last is not None:
            self.report_container(account, last)
        return done, created

    def post_container(self, account: str, container: str, metadata: dict[str, list[Any]]) -> int:
        self.forget_info(account, container)
        done = 0
        for broker in self.container_brokers(account, container, write=True):
            if broker.exists:
                broker.update_metadata(metadata)
                done += 1
        return done

    def delete_container(self, account: str, container: str, timestamp: str) -> int:
        self.forget_info(account, container)
        done = 0
        last: ContainerInfo | None = None
        for broker in self.container_brokers(account, container, write=True):
            if broker.exists:
                broker.delete(timestamp)
                last = broker.info()
                done += 1
        if last is not None:
            self.report_container(account, last)
        return done

    def update_container_listing(
        self,
        account: str,
        container: str,
        name: str,
        timestamp: str,
        size: int,
        content_type: str,
        etag: str,
        deleted: bool,
        object_node: Node | None = None,
    ) -> None:
        """Record an object version in the container replicas; a replica that cannot take it
        now gets it later from the updater (an async pending on the object's device)."""
        row = (name, timestamp, size, content_type, etag, int(deleted), "{}")
        h = self.hash(account, container)
        ring = self.rings["container"]
        part, primaries = ring.nodes(account, container)
        last: ContainerInfo | None = None
        for node in primaries:
            try:
                if not self.available(node):
                    raise DeviceUnavailable(node["device"])
                broker = ContainerBroker(self._db_path("container", node, part, h))
                if not broker.exists:
                    raise FileNotFoundError(str(broker.path))
                broker.merge_rows([row])
                last = broker.info()
            except (OSError, DeviceUnavailable):
                self.save_async_pending(account, container, row, node, object_node)
        if last is not None:
            self.report_container(account, last)

    def save_async_pending(
        self,
        account: str,
        container: str,
        row: tuple[Any, ...],
        container_node: Node,
        object_node: Node | None,
    ) -> None:
        holder = object_node
        if holder is None or not self.local_available(holder):
            holder = next(
                (n for n in self.rings["object"].devs.values() if self.local_available(n)),
                None,
            )
        if holder is None:  # no object device here: any local device keeps it
            holder = next(
                (
                    n
                    for kind in ("container", "account")
                    for n in self.rings[kind].devs.values()
                    if self.local_available(n)
                ),
                None,
            )
        if holder is None:
            LOG.error("no device to keep a pending container update on")
            return
        folder = device_root(self.devices, holder) / "async_pending"
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "account": account,
            "container": container,
            "row": list(row),
            "device": container_node["device"],
        }
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(orjson.dumps(record))
        os.replace(tmp, folder / f"{row[1]}-{uuid.uuid4().hex}.json")

    # -- objects ---------------------------------------------------------------------------
    def object_rings(self) -> list[tuple[str, str]]:
        """(ring name, data folder) of every storage policy: object/objects, object-1/..."""
        return [(k, "objects" + k[len("object") :]) for k in self.rings if k.startswith("object")]

    def policy_of(self, account: str, container: str) -> tuple[str, str]:
        """The ring and data folder of the container's storage policy."""
        info = self.cached_info(account, container)
        index = info.storage_policy_index if info is not None else 0
        kind = "object" if not index else f"object-{index}"
        if kind not in self.rings:
            kind, index = "object", 0
        return kind, "objects" if not index else f"objects-{index}"

    def object_writers(self, account: str, container: str, obj: str) -> tuple[list[Any], int]:
        """One temporary file per replica; the quorum needed to commit."""
        h = self.hash(account, container, obj)
        kind, folder = self.policy_of(account, container)
        part, nodes, primaries = self.write_nodes(kind, account, container, obj)
        writers: list[Any] = []
        used = {n["id"] for n in nodes}

        def spare() -> Any:
            """The writer of the next handoff that is there (for a node that failed)."""
            for node in self.rings[kind].handoffs(part):
                if node["id"] not in used and self.available(node):
                    used.add(node["id"])
                    return writer(node)
            return None

        def writer(node: Node) -> Any:
            if self.is_remote(node):
                from onestack.object.proxy.remote import RemoteWriter

                return RemoteWriter(self.remote, node, part, h, folder, spare)
            return disk.DiskWriter(self.devices, node, part, h, folder)

        for node in nodes:
            try:
                writers.append(writer(node))
            except OSError:
                LOG.warning("cannot write on %s", node["device"], exc_info=True)
        return writers, quorum(primaries) if primaries > 1 else 1

    def object_state(
        self, account: str, container: str, obj: str, strict: bool = False
    ) -> tuple[disk.ObjectState, Node | None]:
        """The newest version among the replicas (a tombstone counts as a version); with
        ``strict``, ``Unreachable`` when no replica could be asked (not "it does not exist")."""
        best = disk.ObjectState()
        best_node: Node | None = None
        h = self.hash(account, container, obj)
        kind, folder = self.policy_of(account, container)
        replicas = self.rings[kind].replica_count
        part, nodes = self.read_nodes(kind, account, container, obj)
        seen = 0
        for node in nodes:
            state = self._node_state(node, part, h, folder)
            if state is None:
                continue
            seen += 1
            if state.timestamp is not None and (
                best.timestamp is None or state.timestamp > best.timestamp
            ):
                best, best_node = state, node
            if seen >= replicas and best.timestamp is not None:
                break
        if strict and not seen:
            raise Unreachable(f"no replica of /{account}/{container}/{obj} answered")
        return best, best_node

    def _node_state(self, node: Node, part: int, h: str, folder: str) -> disk.ObjectState | None:
        """One replica's state (a corrupt one is quarantined: not found); None when the
        replica cannot be asked."""
        if self.is_remote(node):
            from onestack.object.proxy import remote

            try:
                return remote.read_state(self.remote, node, folder, part, h)
            except OSError:
                LOG.warning("object node of %s did not answer", node["device"], exc_info=True)
                return None
        try:
            directory = disk.object_dir(self.devices, node, part, h, folder)
        except DeviceUnavailable:
            return None
        try:
            return self._read_state(directory)
        except (OSError, ValueError):
            LOG.warning("unreadable object in %s: quarantined", directory)
            with contextlib.suppress(OSError):
                disk.quarantine(self.devices, node, directory)
            return disk.ObjectState()

    @staticmethod
    def _read_state(directory: Path) -> disk.ObjectState:
        """The directory's state; a file a concurrent write replaced is read again, never
        taken for corruption."""
        for _ in range(3):
            try:
                return disk.read_state(directory)
            except FileNotFoundError:
                continue
        return disk.read_state(directory)

    def write_marker(
        self,
        account: str,
        container: str,
        obj: str,
        timestamp: str,
        ext: str,
        metadata: dict[str, Any],
    ) -> int:
        h = self.hash(account, container, obj)
        kind, folder = self.policy_of(account, container)
        part, nodes, _ = self.write_nodes(kind, account, container, obj)
        done = 0
        for node in nodes:
            try:
                if self.is_remote(node):
                    from onestack.object.proxy import remote

                    remote.write_marker(
                        self.remote, node, part, h, timestamp, ext, metadata, folder
                    )
                else:
                    disk.write_marker(self.devices, node, part, h, timestamp, ext, metadata, folder)
                done += 1
            except OSError:
                LOG.warning("cannot write %s on %s", ext, node["device"], exc_info=True)
        return done

    async def commit(self, writers: list[Any], timestamp: str, metadata: dict[str, Any]) -> int:
        """Commit every replica's file (in a thread: fsync is slow); how many made it."""

        def run() -> int:
            done = 0
            for writer in writers:
                try:
                    writer.commit(timestamp, metadata)
                    done += 1
                except OSError:
                    LOG.warning("commit failed on %s", writer.dev["device"], exc_info=True)
            return done

        return await asyncio.to_thread(run)


def new_timestamp() -> str:
    return timestamps.now()
