"""Object nodes in processes of their own: ``onestack serve object --node N`` serves the
object-ring devices the ring places on its port, and the proxy of ``onestack up`` reaches
them over HTTP."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from onestack.object.layout import Layout
from onestack.object.ring import RingBuilder
from tests.conftest import free_port
from tests.e2e.conftest import BIN, RunningCloud, start_cloud, stop_cloud
from tests.e2e.test_object import Swift, password

pytestmark = pytest.mark.e2e


def start_node(data_dir: Path, node: int) -> subprocess.Popen[bytes]:
    log = open(data_dir.parent / f"node-{node}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [str(BIN / "onestack"), "serve", "object", "--node", str(node), "--data-dir",
         str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT,
    )


def wait_node(proc: subprocess.Popen[bytes], node: int, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"object node {node} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"object node {node} did not answer in 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture()
def two_nodes(tmp_path: Path) -> Iterator[tuple[RunningCloud, dict[int, subprocess.Popen[bytes]],
                                                 Path]]:
    data_dir = tmp_path / "data"
    layout = Layout(data_dir / "object")
    layout.hash_secret()
    layout.rings.mkdir(parents=True)
    ports = {1: free_port(), 2: free_port()}
    builder = RingBuilder(8, 1.0, min_part_hours=1)
    for node, port in ports.items():
        builder.add_device(zone=node, weight=100, ip="127.0.0.1", port=port,
                           device=f"n{node}d1", meta=f"node={node}")
    builder.rebalance()
    builder.save(layout.builder_path("object"))
    builder.write_ring(layout.ring_path("object"))
    nodes = {n: start_node(data_dir, n) for n in ports}  # starting while the cloud starts
    cloud = None
    try:
        cloud = start_cloud(data_dir, free_port(), {"ONESTACK_SERVICES": '["identity", "object"]'})
        for n, port in ports.items():
            wait_node(nodes[n], n, port)
        yield cloud, nodes, data_dir
    finally:
        if cloud is not None:
            stop_cloud(cloud)
        for proc in nodes.values():
            stop(proc)


def data_files(data_dir: Path, node: int) -> list[Path]:
    return sorted((data_dir / "object" / "nodes" / str(node)).rglob("*.data"))


def test_put_and_get_through_the_proxy_reach_both_nodes(two_nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cloud, nodes, data_dir = two_nodes
    url, token = Swift(cloud, "demo", password(cloud, "demo"), "demo").session()
    auth = {"X-Auth-Token": token}
    with httpx.Client(headers=auth, timeout=30) as http:
        assert http.put(f"{url}/c").status_code == 201
        bodies = {f"obj-{i}": os.urandom(1000 + i) for i in range(16)}
        big = os.urandom(3 * 1024 * 1024 + 17)  # several blocks streamed to a node
        bodies["big"] = big
        for name, body in bodies.items():
            assert http.put(f"{url}/c/{name}", content=body).status_code == 201
        one, two = data_files(data_dir, 1), data_files(data_dir, 2)
        assert one and two, "the ring spreads 17 objects over both nodes"
        assert len(one) + len(two) == len(bodies)
        assert not list((data_dir / "object" / "devices").rglob("*.data")), \
            "no object on the proxy's own devices"
        for name, body in bodies.items():
            got = http.get(f"{url}/c/{name}")
            assert got.status_code == 200 and got.content == body, name
        part = http.get(f"{url}/c/big", headers={"Range": "bytes=1048570-1048585"})
        assert part.status_code == 206 and part.content == big[1048570:1048586]
        assert http.post(f"{url}/c/obj-1", headers={"X-Object-Meta-Color": "blue"}
                         ).status_code == 202
        assert http.head(f"{url}/c/obj-1").headers["X-Object-Meta-Color"] == "blue"
        listing = http.get(f"{url}/c", params={"format": "json"}).json()
        assert {row["name"] for row in listing} == set(bodies)
        assert http.delete(f"{url}/c/obj-2").status_code == 204
        assert http.get(f"{url}/c/obj-2").status_code == 404
        on_one = len(data_files(data_dir, 1))
        assert on_one + len(data_files(data_dir, 2)) == len(bodies) - 1  # obj-2's is gone
        # node 2 goes away: new writes go to a handoff on node 1 and read back from there
        stop(nodes[2])
        statuses = [http.put(f"{url}/c/late-{i}", content=b"late %d" % i).status_code
                    for i in range(6)]
        assert statuses[1:] == [201] * 5, statuses  # the first may meet node 2 gone
        for i, status in enumerate(statuses):
            if status == 201:
                assert http.get(f"{url}/c/late-{i}").content == b"late %d" % i
        assert len(data_files(data_dir, 1)) == on_one + statuses.count(201)
        # no node left: a read is a 503 (nobody could be asked), not a 404; so is a write
        stop(nodes[1])
        assert http.get(f"{url}/c/late-1").status_code == 503
        assert http.put(f"{url}/c/nowhere", content=b"x").status_code == 503
        assert http.get(f"{url}/c", params={"format": "json"}).status_code == 200
