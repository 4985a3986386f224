"""The object node's app in-process: its write, read and marker calls, and bad requests
answered with a 4xx (never a 500, never a file outside its devices)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from onestack.object.ring import Ring, RingBuilder
from onestack.object.servers.node import NodeApp, node_devices

KEY = "k" * 64
HASH = "0123456789abcdef0123456789abcdef"
WHERE = f"d1/objects/7/{HASH}"
TS = "1700000000.00000"


@pytest.fixture()
async def node(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "d1").mkdir()
    app = NodeApp(tmp_path, {"d1", "gone"}, KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node",
                                 headers={"X-Backend-Key": KEY}) as client:
        yield client


async def test_write_commit_state_and_ranged_read(node: httpx.AsyncClient) -> None:
    upload = "a" * 32
    assert (await node.put(f"/upload/{WHERE}/{upload}", content=b"hello ")).status_code == 204
    assert (await node.put(f"/upload/{WHERE}/{upload}", content=b"node")).status_code == 204
    meta = {"X-Timestamp": TS, "Content-Length": "10", "ETag": "x"}
    r = await node.post(f"/commit/{WHERE}/{upload}", params={"timestamp": TS},
                        content=orjson.dumps(meta))
    assert r.status_code == 201
    state = (await node.get(f"/state/{WHERE}")).json()
    assert state["timestamp"] == TS and state["data_file"] == f"{TS}.data"
    assert state["metadata"] == meta and state["deleted"] is False
    r = await node.get(f"/data/{WHERE}/{TS}.data", params={"start": 2, "end": 8})
    assert r.content == b"llo no"
    later = "1700000001.00000"
    r = await node.post(f"/marker/{WHERE}", params={"timestamp": later, "ext": ".ts"},
                        content=orjson.dumps({"X-Timestamp": later}))
    assert r.status_code == 201
    state = (await node.get(f"/state/{WHERE}")).json()
    assert state["deleted"] is True and state["data_file"] is None


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", f"/state/other/objects/7/{HASH}", 400),  # not this node's device
    ("GET", "/state/d1/accounts/7/" + HASH, 400),
    ("GET", "/state/d1/objects/x/" + HASH, 400),
    ("GET", "/state/d1/objects/7/../../etc", 404),  # the client drops the dots
    ("GET", f"/data/{WHERE}/..%2F..%2Fpasswd", 404),
    ("GET", f"/data/{WHERE}/{TS}.data", 400),  # no end
    ("GET", f"/data/{WHERE}/{TS}.data?start=5&end=1", 400),
    ("GET", f"/data/{WHERE}/{TS}.data?end=4", 404),
    ("POST", f"/marker/{WHERE}?timestamp=nope&ext=.ts", 400),
    ("POST", f"/marker/{WHERE}?timestamp={TS}&ext=.sh", 400),
    ("PUT", f"/upload/{WHERE}/not-hex", 405),
    ("PATCH", f"/state/{WHERE}", 405),
    ("GET", f"/state/gone/objects/7/{HASH}", 507),  # a device that is not there
])
async def test_bad_requests(node: httpx.AsyncClient, method: str, path: str,
                            status: int) -> None:
    r = await node.request(method, path, content=b"{}")
    assert r.status_code == status, r.text


async def test_the_backend_key_is_required(node: httpx.AsyncClient) -> None:
    r = await node.get(f"/state/{WHERE}", headers={"X-Backend-Key": "wrong"})
    assert r.status_code == 401
    assert (await node.get("/healthcheck", headers={"X-Backend-Key": ""})).status_code == 200


def test_node_devices_found_through_the_ring(tmp_path: Path) -> None:
    builder = RingBuilder(4, 1.0, min_part_hours=1)
    builder.add_device(zone=1, ip="127.0.0.2", port=6201, device="a", meta="node=1")
    builder.add_device(zone=1, ip="127.0.0.2", port=6201, device="b", meta="node=1")
    builder.add_device(zone=2, ip="127.0.0.3", port=6202, device="c", meta="node=2")
    builder.add_device(zone=3, port=0, device="local")
    builder.rebalance()
    builder.write_ring(tmp_path / "object.ring.gz")
    rings = {"object": Ring.load(tmp_path / "object.ring.gz")}
    ip, port, devs = node_devices(rings, 1)
    assert (ip, port, sorted(d["device"] for d in devs)) == ("127.0.0.2", 6201, ["a", "b"])
    assert node_devices(rings, 2)[:2] == ("127.0.0.3", 6202)
    with pytest.raises(ValueError, match="node=3"):
        node_devices(rings, 3)
