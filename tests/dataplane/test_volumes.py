"""Volumes on real guests through the ``openstack`` CLI: a volume hot-plugged into a running
onestack-tiny (QMP blockdev-add + device_add), written from inside, detached (device_del),
attached to a second guest booted from a volume, and the same bytes read there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dataplane.conftest import BOOT_MARKER, BOOT_TIMEOUT, wait_for
from tests.e2e.conftest import RunningCloud
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.dataplane
#: in the background (user data must let the boot finish): wait for the disk whose serial is
#: the volume's id, then write a marker to it, or print the marker it already holds
WATCH = """#!/bin/sh
(
  while :; do
    for d in /sys/block/vd*; do
      [ "$(cat "$d/serial" 2>/dev/null)" = "{serial}" ] || continue
      dev=/dev/${{d##*/}}
      line=$(head -c 64 "$dev" | tr -d '\\000' | head -n 1)
      case "$line" in
        onestack-marker*) echo "volume-read: $line" > /dev/console ;;
        *) echo "onestack-marker-from-{name}" | dd of="$dev" conv=fsync 2>/dev/null
           echo "volume-wrote: {name}" > /dev/console ;;
      esac
      exit 0
    done
    sleep 0.3
  done
) > /dev/null 2>&1 &
"""


def console(cloud: RunningCloud, server_id: str) -> str:
    """The guest's serial console log, read on this host (no CLI call per poll)."""
    path = cloud.data_dir / "instances" / server_id / "console.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_console(cloud: RunningCloud, server_id: str, text: str,
                 timeout: float = BOOT_TIMEOUT) -> str:
    return str(wait_for(lambda: text in (log := console(cloud, server_id)) and log, timeout,
                        f"{text!r} on the console of {server_id}", 0.2))


def wait_volume(conn: Any, volume: str, status: str) -> None:
    wait_for(lambda: conn.block_storage.get_volume(volume).status == status, 120,
             f"volume {volume} {status}", 0.2)


def script(tmp: Path, name: str, volume_id: str) -> str:
    path = tmp / f"{name}.sh"
    path.write_text(WATCH.format(serial=volume_id[:20], name=name))
    return str(path)


def test_volume_moves_between_guests_and_boot_from_volume(
    qemu_cloud: RunningCloud, tmp_path: Path
) -> None:
    cloud = qemu_cloud
    conn = connect(cloud)
    data = cloud.osc("volume", "create", "--size", "1", "dp-data")["id"]
    root = cloud.osc("volume", "create", "--size", "1", "--image", "onestack-tiny",
                     "--bootable", "dp-root")["id"]
    wait_volume(conn, data, "available")
    common = ["--flavor", "m1.tiny", "--nic", "none", "--config-drive", "true", "--wait"]
    first = cloud.osc("server", "create", "--image", "onestack-tiny", *common,
                      "--user-data", script(tmp_path, "first", data), "dp-vol-a")["id"]
    second = None
    try:
        wait_console(cloud, first, BOOT_MARKER)
        cloud.osc("server", "add", "volume", first, data, parse=False)
        wait_console(cloud, first, "volume-wrote: first", 60)
        assert conn.block_storage.get_volume(data).status == "in-use"
        cloud.osc("server", "remove", "volume", first, data, parse=False)
        wait_volume(conn, data, "available")

        wait_volume(conn, root, "available")
        created = cloud.osc("server", "create", "--volume", root, *common,
                            "--user-data", script(tmp_path, "second", data), "dp-vol-b")
        second = created["id"]
        assert created["status"] == "ACTIVE" and "booted from volume" in created["image"]
        log = wait_console(cloud, second, BOOT_MARKER)
        assert "root disk /dev/vda mounted on /data" in log
        assert conn.block_storage.get_volume(root).status == "in-use"
        conn.compute.create_volume_attachment(second, volume=data)
        wait_console(cloud, second, "volume-read: onestack-marker-from-first", 60)
    finally:
        names = [s for s in (first, second) if s]
        cloud.osc("server", "delete", "--wait", *names, check=False, parse=False)
    wait_volume(conn, data, "available")
    wait_volume(conn, root, "available")
    cloud.osc("volume", "delete", data, root, parse=False)
