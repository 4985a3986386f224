"""An object node: the object server of the devices the rings place on one ``ip:port``
(``onestack serve object --node N``), for a proxy in another process.

Node N serves the object-ring devices whose ``meta`` says ``node=N``, under devices of its
own (``DATA/object/nodes/N`` unless ``--devices``); it listens on the ``ip:port`` those
devices give. Its requests (the proxy's side is ``onestack.object.proxy.remote``) name a
device, a storage policy's data folder, a partition and an object hash:

- ``GET /state/DEV/FOLDER/PART/HASH``: the directory's newest version as JSON (a corrupt one
  is quarantined here and answers ``{"quarantined": true}``);
- ``GET /data/DEV/FOLDER/PART/HASH/NAME?start=&end=``: bytes of one data file;
- ``PUT /upload/DEV/FOLDER/PART/HASH/ID``: append the body to temporary file ``ID``;
  ``POST /commit/...ID?timestamp=&ext=`` (metadata as the JSON body) commits it,
  ``DELETE /upload/...ID`` drops it;
- ``POST /marker/DEV/FOLDER/PART/HASH?timestamp=&ext=``: a tombstone or metadata file.

Every request but ``/healthcheck`` carries ``X-Backend-Key``, derived from the cluster's hash
path secret, which only the proxy and the nodes read; a device that is not there answers 507,
as Swift's object server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from onestack.object import timestamps
from onestack.object.ring import Ring
from onestack.object.servers import object as disk
from onestack.object.servers.disk import DeviceUnavailable

FOLDER = re.compile(r"^objects(-\d+)?$")
HASH = re.compile(r"^[0-9a-f]{32}$")
UPLOAD = re.compile(r"^[0-9a-f]{32}$")
DATA_NAME = re.compile(r"^\d{10}\.\d{5}(_[0-9a-f]+)?\.data$")
EXTS = (".data", ".ts", ".meta")
STALE_UPLOAD = 600.0  # seconds an unfinished upload is kept without a write
BLOCK = 1 << 20


def backend_key(prefix: bytes, suffix: bytes) -> str:
    """The secret a proxy shows an object node (both read the cluster's hash path secret)."""
    return hmac.new(prefix + b"/" + suffix, b"object-node", hashlib.sha256).hexdigest()


def node_devices(rings: dict[str, Ring], node: int) -> tuple[str, int, list[dict[str, Any]]]:
    """(ip, port, devices) of node ``node`` in the object rings (devices with meta ``node=N``)."""
    found: dict[str, dict[str, Any]] = {}
    for kind, ring in rings.items():
        if not kind.startswith("object"):
            continue
        for dev in ring.devs.values():
            if f"node={node}" in str(dev.get("meta", "")).split():
                found[dev["device"]] = dev
    if not found:
        raise ValueError(f"no object ring device has meta node={node}")
    addresses = {(d["ip"], int(d["port"])) for d in found.values()}
    if len(addresses) != 1 or next(iter(addresses))[1] == 0:
        raise ValueError(f"node {node}'s devices must share one ip and a port: {addresses}")
    ip, port = addresses.pop()
    return ip, port, list(found.values())


class NodeApp:
    """The ASGI app of one object node."""

    def __init__(self, devices: Path, device_names: set[str], key: str):
        self.devices = devices
        self.names = device_names
        self.key = key.encode()
        self.uploads: dict[str, tuple[disk.DiskWriter, float]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            for writer, _ in self.uploads.values():
                writer.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        try:
            await self.handle(scope, receive, send)
        except _Answer as answer:
            await _send(send, answer.status, answer.body)
        except DeviceUnavailable:
            await _send(send, 507, b"device unavailable")
        except OSError as exc:
            await _send(send, 500, str(exc).encode())

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = unquote(scope["path"])
        if path == "/healthcheck":
            return await _send(send, 200, b"OK")
        headers = dict(scope["headers"])
        if not hmac.compare_digest(headers.get(b"x-backend-key", b""), self.key):
            raise _Answer(401, b"unauthorized")
        parts = path.strip("/").split("/")
        if len(parts) not in (5, 6):
            raise _Answer(404, b"not found")
        op, dev_name, folder, part_text, name_hash, *rest = parts
        if (
            dev_name not in self.names
            or not FOLDER.match(folder)
            or not part_text.isdigit()
            or not HASH.match(name_hash)
        ):
            raise _Answer(400, b"bad path")
        dev = {"device": dev_name}
        part = int(part_text)
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        method = scope["method"]
        if op == "state" and method == "GET" and not rest:
            return await _send(send, 200, self.state(dev, folder, part, name_hash))
        if op == "data" and method == "GET" and rest and DATA_NAME.match(rest[0]):
            return await self.data(send, dev, folder, part, name_hash, rest[0], query)
        if op == "upload" and rest and UPLOAD.match(rest[0]):
            if method == "PUT":
                return await self.append(receive, send, dev, folder, part, name_hash, rest[0])
            if method == "DELETE":
                entry = self.uploads.pop(rest[0], None)
                if entry is not None:
                    entry[0].close()
                return await _send(send, 204, b"")
        if op == "commit" and method == "POST" and rest and UPLOAD.match(rest[0]):
            timestamp, ext = _marker_args(query)
            metadata = orjson.loads(await _body(receive))
            entry = self.uploads.pop(rest[0], None)
            writer = (
                entry[0] if entry else disk.DiskWriter(self.devices, dev, part, name_hash, folder)
            )
            await asyncio.to_thread(writer.commit, timestamp, metadata, ext)
            return await _send(send, 201, b"")
        if op == "marker" and method == "POST" and not rest:
            timestamp, ext = _marker_args(query)
            metadata = orjson.loads(await _body(receive))
            await asyncio.to_thread(
                disk.write_marker, self.devices, dev, part, name_hash, timestamp, ext,
                metadata, folder,
            )  # fmt: skip
            return await _send(send, 201, b"")
        raise _Answer(405, b"method not allowed")

    def state(self, dev: dict[str, Any], folder: str, part: int, name_hash: str) -> bytes:
        directory = disk.object_dir(self.devices, dev, part, name_hash, folder)
        try:
            state = _read_state(directory)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                disk.quarantine(self.devices, dev, directory)
            return orjson.dumps({"quarantined": True})
        return orjson.dumps(
            {
                "timestamp": state.timestamp,
                "data_file": state.data_file.name if state.data_file else None,
                "deleted": state.deleted,
                "metadata": state.metadata,
            }
        )

    async def data(
        self,
        send: Any,
        dev: dict[str, Any],
        folder: str,
        part: int,
        name_hash: str,
        name: str,
        query: dict[str, str],
    ) -> None:
        path = disk.object_dir(self.devices, dev, part, name_hash, folder) / name
        try:
            start, end = int(query.get("start", "0")), int(query["end"])
        except (KeyError, ValueError):
            raise _Answer(400, b"start and end wanted") from None
        if not 0 <= start <= end:
            raise _Answer(400, b"bad range")
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115  (closed below)
        except FileNotFoundError:
            raise _Answer(404, b"no such data file") from None
        with fh:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", str(end - start).encode())],
                }
            )
            fh.seek(start)
            left = end - start
            while left > 0:
                chunk = fh.read(min(BLOCK, left))
                if not chunk:  # shorter than asked: cut the response, the proxy sees it
                    break
                left -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
            if left == 0 and end == start:
                await send({"type": "http.response.body", "body": b""})

    async def append(
        self,
        receive: Any,
        send: Any,
        dev: dict[str, Any],
        folder: str,
        part: int,
        name_hash: str,
        upload: str,
    ) -> None:
        now = time.monotonic()
        for stale in [k for k, (_, t) in self.uploads.items() if now - t > STALE_UPLOAD]:
            self.uploads.pop(stale)[0].close()
        entry = self.uploads.get(upload)
        writer = entry[0] if entry else disk.DiskWriter(self.devices, dev, part, name_hash, folder)
        self.uploads[upload] = (writer, now)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.uploads.pop(upload, None)
                writer.close()
                return
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                chunks.append(chunk)
                size += len(chunk)
            if size >= BLOCK or (not more and chunks):
                await asyncio.to_thread(writer.write_chunks, chunks)
                chunks, size = [], 0
        self.uploads[upload] = (writer, time.monotonic())
        await _send(send, 204, b"")


class _Answer(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(status)
        self.status = status
        self.body = body


def _marker_args(query: dict[str, str]) -> tuple[str, str]:
    timestamp = timestamps.valid(query.get("timestamp", ""))
    ext = query.get("ext", ".data")
    if timestamp is None or ext not in EXTS:
        raise _Answer(400, b"bad timestamp or ext")
    return query["timestamp"], ext


def _read_state(directory: Path) -> disk.ObjectState:
    for _ in range(3):  # a file a concurrent write replaced is read again
        try:
            return disk.read_state(directory)
        except FileNotFoundError:
            continue
    return disk.read_state(directory)


async def _body(receive: Any, limit: int = 1 << 20) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Answer(413, b"too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(data_dir: Path, node: int, devices: Path | None = None, policies: int = 1) -> None:
    """Run node ``node`` until SIGINT / SIGTERM (found through the rings under ``data_dir``)."""
    import uvicorn

    from onestack.object.layout import Layout

    layout = Layout(data_dir / "object")
    if not layout.ring_path("object").exists():
        raise ValueError(f"no object ring at {layout.ring_path('object')}: build the rings first")
    prefix, suffix = layout.hash_secret()
    kinds = [k for k in Layout.kinds(policies) if layout.ring_path(k).exists()]
    rings = {k: Ring.load(layout.ring_path(k), prefix, suffix) for k in kinds}
    ip, port, devs = node_devices(rings, node)
    root = devices or layout.root / "nodes" / str(node)
    for dev in devs:
        (root / dev["device"]).mkdir(parents=True, exist_ok=True)
    app = NodeApp(root, {d["device"] for d in devs}, backend_key(prefix, suffix))
    uvicorn.run(
        app,
        host=ip,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
