"""Volumes in Compute with the ``openstack`` CLI (fake driver, file backend): ``server add
volume`` / ``remove volume``, ``server create --volume`` and ``--block-device`` (boot from
volume, delete_on_termination)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import RunningCloud
from tests.e2e.test_compute import _image
from tests.e2e.test_sdk import connect

pytestmark = pytest.mark.e2e
DEMO = "onestack-demo"


def _volume(cloud: RunningCloud, name: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        vol: dict[str, Any] = cloud.osc("volume", "show", name, cloud=DEMO)
        if vol["status"] == status:
            return vol
        assert time.monotonic() < deadline, f"{name} is {vol['status']}, not {status}"
        time.sleep(0.3)


def test_cli_attach_detach_and_boot_from_volume(running_cloud: RunningCloud) -> None:
    cloud = running_cloud
    image = _image(connect(cloud))
    cloud.osc("volume", "create", "--size", "1", "cv-data", cloud=DEMO)
    _volume(cloud, "cv-data", "available")
    common = ["--flavor", "m1.nano", "--nic", "none", "--wait"]
    cloud.osc("server", "create", "--image", image, *common, "cv-vm", cloud=DEMO)
    cloud.osc("server", "add", "volume", "cv-vm", "cv-data", cloud=DEMO, parse=False)
    vol = _volume(cloud, "cv-data", "in-use")
    server = cloud.osc("server", "show", "cv-vm", cloud=DEMO)
    assert [a["server_id"] for a in vol["attachments"]] == [server["id"]]
    attached = server["volumes_attached"]
    assert vol["id"] in str(attached), attached
    cloud.osc("server", "remove", "volume", "cv-vm", "cv-data", cloud=DEMO, parse=False)
    _volume(cloud, "cv-data", "available")

    bdm = f"source_type=image,uuid={image},destination_type=volume,volume_size=1,boot_index=0"
    bfv = cloud.osc("server", "create", "--block-device", f"{bdm},delete_on_termination=true",
                    *common, "cv-bfv", cloud=DEMO)
    assert bfv["status"] == "ACTIVE"
    (root,) = [v["id"] for v in connect(cloud, DEMO).compute.get_server(bfv["id"]).attached_volumes]
    on_data = cloud.osc("server", "create", "--volume", "cv-data", *common, "cv-on-data",
                        cloud=DEMO)
    assert on_data["status"] == "ACTIVE"
    _volume(cloud, "cv-data", "in-use")
    cloud.osc("server", "delete", "--wait", "cv-vm", "cv-bfv", "cv-on-data", cloud=DEMO,
              parse=False)
    _volume(cloud, "cv-data", "available")  # kept: not delete_on_termination
    gone = cloud.osc("volume", "show", root, cloud=DEMO, check=False)  # delete_on_termination
    assert (gone.returncode != 0 and "no volume" in gone.stderr.lower()) or (
        '"deleting"' in gone.stdout
    ), gone
    cloud.osc("volume", "delete", "cv-data", cloud=DEMO, parse=False)
