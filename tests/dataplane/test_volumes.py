"""Volumes on real guests through the ``openstack`` CLI: a volume hot-plugged into a running
onestack-tiny (QMP blockdev-add + device_add), written from inside, detached (device_del),
attached to a second guest booted from a volume, and the same bytes read there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataplane.conftest import BOOT_MARKER, BOOT_TIMEOUT, wait_for
from tests.e2e.conftest import RunningCloud

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


def console(cloud: RunningCloud, server: str) -> str:
    return str(cloud.osc("console", "log", "show", server, parse=False))


def wait_console(cloud: RunningCloud, server: str, text: str, timeout: float = BOOT_TIMEOUT) -> str:
    return str(wait_for(lambda: text in (log := console(cloud, server)) and log, timeout,
                        f"{text!r} on the console of {server}", 1))


def volume_status(cloud: RunningCloud, volume: str) -> str:
    return str(cloud.osc("volume", "show", volume)["status"])


def wait_volume(cloud: RunningCloud, volume: str, status: str) -> None:
    wait_for(lambda: volume_status(cloud, volume) == status, 120, f"volume {volume} {status}", 0.5)


def script(tmp: Path, name: str, volume_id: str) -> str:
    path = tmp / f"{name}.sh"
    path.write_text(WATCH.format(serial=volume_id[:20], name=name))
    return str(path)


def test_volume_moves_between_guests_and_boot_from_volume(
    qemu_cloud: RunningCloud, tmp_path: Path
) -> None:
    cloud = qemu_cloud
    data = cloud.osc("volume", "create", "--size", "1", "dp-data")["id"]
    root = cloud.osc("volume", "create", "--size", "1", "--image", "onestack-tiny",
                     "--bootable", "dp-root")["id"]
    wait_volume(cloud, data, "available")
    common = ["--flavor", "m1.tiny", "--nic", "none", "--config-drive", "true", "--wait"]
    first = cloud.osc("server", "create", "--image", "onestack-tiny", *common,
                      "--user-data", script(tmp_path, "first", data), "dp-vol-a")
    try:
        wait_console(cloud, "dp-vol-a", BOOT_MARKER)
        cloud.osc("server", "add", "volume", "dp-vol-a", "dp-data", parse=False)
        wait_console(cloud, "dp-vol-a", "volume-wrote: first", 60)
        assert volume_status(cloud, data) == "in-use"
        cloud.osc("server", "remove", "volume", "dp-vol-a", "dp-data", parse=False)
        wait_volume(cloud, data, "available")

        wait_volume(cloud, root, "available")
        second = cloud.osc("server", "create", "--volume", "dp-root", *common,
                           "--user-data", script(tmp_path, "second", data), "dp-vol-b")
        assert second["status"] == "ACTIVE" and "booted from volume" in second["image"]
        log = wait_console(cloud, "dp-vol-b", BOOT_MARKER)
        assert "root disk /dev/vda mounted on /data" in log
        assert volume_status(cloud, root) == "in-use"
        cloud.osc("server", "add", "volume", "dp-vol-b", "dp-data", parse=False)
        wait_console(cloud, "dp-vol-b", "volume-read: onestack-marker-from-first", 60)
    finally:
        for name in ("dp-vol-a", "dp-vol-b"):
            cloud.osc("server", "delete", "--wait", name, check=False, parse=False)
    wait_volume(cloud, data, "available")
    wait_volume(cloud, root, "available")
    assert first["id"]
    cloud.osc("volume", "delete", "dp-data", "dp-root", parse=False)
