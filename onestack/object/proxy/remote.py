"""The proxy's side of an object node in another process (``onestack.object.servers.node``):
a device with a port in the ring is reached over HTTP, with the same calls the proxy makes on
a local device (read the newest state, stream a data file, write and commit, markers).

Calls are synchronous, as the local disk calls they stand for; a node that does not answer is
skipped for ``ERROR_SUPPRESSION`` seconds (its devices count as unavailable: handoffs take
their writes), as Swift's proxy error-limits a node."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from onestack.object.servers import object as disk
from onestack.object.servers.disk import DeviceUnavailable

ERROR_SUPPRESSION = 10.0
TIMEOUT = httpx.Timeout(30.0, connect=2.0)


class Nodes:
    """HTTP clients of the object nodes, and which of them failed recently."""

    def __init__(self, key: str):
        self.key = key
        self._clients: dict[str, httpx.Client] = {}
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def base(node: dict[str, Any]) -> str:
        return f"http://{node['ip']}:{node['port']}"

    def up(self, node: dict[str, Any]) -> bool:
        until = self._down.get(self.base(node))
        return until is None or until < time.monotonic()

    def client(self, node: dict[str, Any]) -> httpx.Client:
        base = self.base(node)
        with self._lock:
            client = self._clients.get(base)
            if client is None:
                client = httpx.Client(
                    base_url=base, timeout=TIMEOUT, headers={"X-Backend-Key": self.key}
                )
                self._clients[base] = client
        return client

    def request(self, node: dict[str, Any], method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call; a node that cannot be reached or lacks the device raises
        ``DeviceUnavailable`` (an OSError, as a failed local disk)."""
        try:
            resp = self.client(node).request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self._down[self.base(node)] = time.monotonic() + ERROR_SUPPRESSION
            raise DeviceUnavailable(f"object node {self.base(node)}: {exc}") from exc
        if resp.status_code == 507:
            raise DeviceUnavailable(f"device {node['device']} unavailable on {self.base(node)}")
        if resp.status_code >= 300:
            raise OSError(f"object node {self.base(node)} answered {resp.status_code}")
        return resp

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def _where(node: dict[str, Any], folder: str, part: int, name_hash: str) -> str:
    return f"{node['device']}/{folder}/{part}/{name_hash}"


@dataclass
class RemoteFile:
    """A data file on an object node (what ``ObjectState.data_file`` is for a local one)."""

    nodes: Nodes
    node: dict[str, Any]
    where: str
    name: str

    def read_range(self, start: int, end: int, chunk: int = 65536) -> Iterator[bytes]:
        params = {"start": start, "end": end}
        try:
            with self.nodes.client(self.node).stream(
                "GET", f"/data/{self.where}/{self.name}", params=params
            ) as resp:
                if resp.status_code != 200:
                    raise OSError(f"object node answered {resp.status_code} for {self.name}")
                got = 0
                for data in resp.iter_bytes(chunk):
                    got += len(data)
                    yield data
        except httpx.HTTPError as exc:
            raise OSError(f"object node read failed: {exc}") from exc
        if got != end - start:
            raise OSError("the data file is shorter than its metadata says")


def read_state(
    nodes: Nodes, node: dict[str, Any], folder: str, part: int, name_hash: str
) -> disk.ObjectState:
    """The node's newest version of the object (none if it was corrupt: now quarantined)."""
    where = _where(node, folder, part, name_hash)
    data = orjson.loads(nodes.request(node, "GET", f"/state/{where}").content)
    if data.get("quarantined"):
        return disk.ObjectState()
    name = data["data_file"]
    return disk.ObjectState(
        timestamp=data["timestamp"],
        data_file=RemoteFile(nodes, node, where, name) if name else None,  # type: ignore[arg-type]
        deleted=data["deleted"],
        metadata=data["metadata"],
    )


class RemoteWriter:
    """A new object version written on an object node: each block appended to a temporary
    file there, then committed with its metadata (``DiskWriter``'s calls). A node that cannot
    be reached before it took anything is replaced by ``spare()`` (a handoff's writer), as
    Swift's proxy moves to a handoff when a node does not accept the connection."""

    def __init__(
        self,
        nodes: Nodes,
        dev: dict[str, Any],
        part: int,
        name_hash: str,
        folder: str,
        spare: Callable[[], Any] | None = None,
    ):
        self.nodes = nodes
        self.dev = dev
        self.where = _where(dev, folder, part, name_hash)
        self.upload = uuid.uuid4().hex
        self.size = 0
        self.started = False
        self.done = False
        self.spare = spare
        self.inner: Any = None  # the handoff's writer, once this node failed

    def _fall_back(self, exc: DeviceUnavailable) -> Any:
        replacement = self.spare() if self.spare is not None and not self.size else None
        if replacement is None:
            raise exc
        self.inner, self.dev = replacement, replacement.dev
        return replacement

    def write(self, chunk: bytes) -> None:
        self.write_chunks([chunk])

    def write_chunks(self, chunks: list[bytes]) -> None:
        if self.inner is not None:
            return self.inner.write_chunks(chunks)  # type: ignore[no-any-return]
        self.started = True
        try:
            self.nodes.request(
                self.dev, "PUT", f"/upload/{self.where}/{self.upload}", content=iter(chunks)
            )
        except DeviceUnavailable as exc:
            return self._fall_back(exc).write_chunks(chunks)  # type: ignore[no-any-return]
        self.size += sum(len(c) for c in chunks)
        return None

    def commit(self, timestamp: str, metadata: dict[str, Any], ext: str = ".data") -> None:
        if self.inner is not None:
            return self.inner.commit(timestamp, metadata, ext)  # type: ignore[no-any-return]
        try:
            self.nodes.request(
                self.dev,
                "POST",
                f"/commit/{self.where}/{self.upload}",
                params={"timestamp": timestamp, "ext": ext},
                content=orjson.dumps(metadata),
            )
        except DeviceUnavailable as exc:
            return self._fall_back(exc).commit(timestamp, metadata, ext)  # type: ignore[no-any-return]
        self.done = True
        return None

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
        if self.started and not self.done:
            self.done = True
            with contextlib.suppress(OSError):  # else the node drops it after a while
                self.nodes.request(self.dev, "DELETE", f"/upload/{self.where}/{self.upload}")


def write_marker(
    nodes: Nodes,
    node: dict[str, Any],
    part: int,
    name_hash: str,
    timestamp: str,
    ext: str,
    metadata: dict[str, Any],
    folder: str,
) -> None:
    nodes.request(
        node,
        "POST",
        f"/marker/{_where(node, folder, part, name_hash)}",
        params={"timestamp": timestamp, "ext": ext},
        content=orjson.dumps(metadata),
    )
