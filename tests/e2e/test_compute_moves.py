"""Shelve, server migrations and remote consoles with the real clients: the ``openstack``
CLI (shelve / unshelve, ``server migration list/show/force complete/abort``, ``console url
show``) and openstacksdk, on a cloud of two fake hosts whose live migrations run 60 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import openstack
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e
MV = ("--os-compute-api-version", "2.80")


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e-moves") / "data"
    cloud = start_cloud(data_dir, free_port(), {"ONESTACK_COMPUTE__FAKE_HOSTS": "2",
                                                "ONESTACK_COMPUTE__FAKE_LIVE_MIGRATION_TIME": "60"})
    yield cloud
    stop_cloud(cloud)


def _wait(conn: openstack.connection.Connection, sid: str, status: str) -> Any:
    server = conn.compute.wait_for_server(conn.compute.get_server(sid), status=status, wait=60,
                                          interval=0.2)
    deadline = time.monotonic() + 30
    while server.task_state is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        server = conn.compute.get_server(sid)
    assert server.status == status and server.task_state is None
    return server


def _field(row: dict[str, Any], name: str) -> Any:
    """A CLI column by name, whatever its case or spacing."""
    wanted = name.lower().replace(" ", "_")
    return next(v for k, v in row.items() if k.lower().replace(" ", "_") == wanted)


def _running(cloud: RunningCloud, sid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        rows = cloud.osc(*MV, "server", "migration", "list", "--server", sid)
        running = [r for r in rows if _field(r, "status") == "running"]
        if running:
            return dict(running[0])
        assert time.monotonic() < deadline, rows
        time.sleep(0.3)


def test_shelve_migrations_consoles(two_hosts: RunningCloud) -> None:
    conn = connect(two_hosts)
    image = conn.image.create_image(name="cirros-moves", disk_format="raw",
                                    container_format="bare", data=b"\0" * 4096)
    server = conn.compute.create_server(name="mover", image_id=image.id, flavor_id="42",
                                        networks="none")
    sid = server.id
    server = _wait(conn, sid, "ACTIVE")
    first = server.compute_host
    hosts = {h.name for h in conn.compute.hypervisors()}
    other = next(h for h in sorted(hosts) if h != first)

    # shelve makes the <name>-shelved snapshot; unshelve boots from it and deletes it
    two_hosts.osc("server", "shelve", sid, parse=False)
    _wait(conn, sid, "SHELVED_OFFLOADED")
    [snap] = two_hosts.osc("image", "list", "--name", "mover-shelved")
    assert conn.image.get_image(snap["ID"]).properties.get("image_type", "snapshot") \
        == "snapshot"
    two_hosts.osc("server", "unshelve", sid, parse=False)
    server = _wait(conn, sid, "ACTIVE")
    assert two_hosts.osc("image", "list", "--name", "mover-shelved") == []
    source = server.compute_host
    target = next(h for h in sorted(hosts) if h != source)

    # a live migration long enough to see, then forced to complete
    two_hosts.osc(*MV, "server", "migrate", "--live-migration", "--host", target, sid,
                  parse=False)
    row = _running(two_hosts, sid)
    mid = str(_field(row, "id"))
    # by uuid: this openstackclient passes an integer id to openstacksdk's
    # get_server_migration in the wrong order (it asks for /servers/<id>/migrations/<server>)
    shown = two_hosts.osc(*MV, "server", "migration", "show", sid, _field(row, "uuid"))
    assert _field(shown, "status") == "running" and _field(shown, "dest_compute") == target
    assert "memory_total_bytes" in {k.lower().replace(" ", "_") for k in shown}
    two_hosts.osc(*MV, "server", "migration", "force", "complete", sid, mid, parse=False)
    server = _wait(conn, sid, "ACTIVE")
    assert server.compute_host == target
    statuses = {str(_field(r, "id")): _field(r, "status")
                for r in two_hosts.osc(*MV, "server", "migration", "list", "--server", sid)}
    assert statuses[mid] == "completed"

    # another one, aborted: the server stays where it is
    two_hosts.osc(*MV, "server", "migrate", "--live-migration", "--host", source, sid,
                  parse=False)
    mid = str(_field(_running(two_hosts, sid), "id"))
    two_hosts.osc(*MV, "server", "migration", "abort", sid, mid, parse=False)
    server = _wait(conn, sid, "ACTIVE")
    assert server.compute_host == target
    migrations = list(conn.compute.migrations(instance_uuid=sid))
    assert {str(m.id): m.status for m in migrations}[mid] == "cancelled"
    assert other  # two hosts took part

    # a noVNC console whose token the admin resolves (openstacksdk, 2.31+)
    url = two_hosts.osc("console", "url", "show", "--novnc", sid)["url"]
    token = parse_qs(urlsplit(unquote(parse_qs(urlsplit(url).query)["path"][0])).query)
    info = conn.compute.validate_console_auth_token(token["token"][0])
    assert info.instance_uuid == sid and info.port
    conn.compute.stop_server(sid)
    _wait(conn, sid, "SHUTOFF")
    proc = two_hosts.osc("console", "url", "show", "--novnc", sid, check=False)
    assert proc.returncode != 0 and "409" in proc.stderr

    conn.compute.delete_server(sid)
    conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=60, interval=0.2)
    conn.image.delete_image(image)
