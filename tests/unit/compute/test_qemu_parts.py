"""The QEMU driver's pure parts: config drive, initramfs archive, command line, base images."""

from __future__ import annotations

import base64
import hashlib
import io
import stat
from pathlib import Path

import orjson
import pycdlib
import pytest

from onestack.compute.guest.cpio import Newc
from onestack.compute.virt.driver import GuestSpec, VirtError
from onestack.compute.virt.qemu import configdrive, images
from onestack.compute.virt.qemu.driver import Paths, QemuDriver

GUEST = GuestSpec(
    uuid="0b5c8a52-5a4e-4f53-9c1e-0d1a6b2c3d4e",
    name="web-1",
    vcpus=2,
    memory_mb=256,
    root_gb=1,
    image_ref="img",
    key_data="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqDGk7mSm k@h",
    key_name="mykey",
    user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
    admin_password="s3cret",
    metadata={"role": "web"},
    project_id="p1",
    availability_zone="nova",
    network_info=[{"id": "5f0c1e2a-aaaa-bbbb-cccc-0001", "mac_address": "fa:16:3e:00:00:01"}],
)


def _read(iso: pycdlib.PyCdlib, path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path=path)
    return out.getvalue()


def test_config_drive_is_config_2_with_nova_layout(tmp_path: Path) -> None:
    path = tmp_path / "disk.config"
    configdrive.write(GUEST, path)
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd.volume_identifier.strip() == b"config-2"
        meta = orjson.loads(_read(iso, "/openstack/latest/meta_data.json"))
        assert meta["uuid"] == GUEST.uuid and meta["hostname"] == "web-1"
        assert meta["public_keys"] == {"mykey": GUEST.key_data + "\n"}
        assert meta["admin_pass"] == "s3cret" and meta["meta"] == {"role": "web"}
        assert _read(iso, "/openstack/2012-08-10/user_data") == b"#!/bin/sh\necho hi\n"
        net = orjson.loads(_read(iso, "/openstack/latest/network_data.json"))
        assert net["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:01"
        assert orjson.loads(_read(iso, "/openstack/latest/vendor_data.json")) == {}
        ec2 = orjson.loads(_read(iso, "/ec2/latest/meta-data.json"))
        assert ec2["instance-id"] == GUEST.uuid
        assert _read(iso, "/ec2/2009-04-04/user-data") == b"#!/bin/sh\necho hi\n"
    finally:
        iso.close()


def test_newc_archive_headers_and_padding() -> None:
    arc = Newc()
    arc.directory("etc")
    arc.file("etc/hostname", b"tiny\n", 0o644)
    arc.char_device("dev/console", 5, 1)
    arc.symlink("bin/sh", "/bin/busybox")
    data = arc.finish()
    entries, at = [], 0
    while True:
        header = data[at : at + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name = data[at + 110 : at + 110 + namesize - 1].decode()
        at += 110 + namesize
        at += -at % 4
        body = data[at : at + size]
        at += size + (-size % 4)
        entries.append((name, mode, body, (rmaj, rmin)))
        if name == "TRAILER!!!":
            break
    assert at == len(data) and len(data) % 4 == 0
    by_name = {e[0]: e for e in entries}
    assert stat.S_ISDIR(by_name["etc"][1])
    assert by_name["etc/hostname"][2] == b"tiny\n"
    assert stat.S_ISCHR(by_name["dev/console"][1]) and by_name["dev/console"][3] == (5, 1)
    assert stat.S_ISLNK(by_name["bin/sh"][1]) and by_name["bin/sh"][2] == b"/bin/busybox"


def test_command_line_has_no_nic_without_its_tap(tmp_path: Path) -> None:
    driver = QemuDriver("h", tmp_path)
    p = Paths(tmp_path, GUEST.uuid)
    cmd = driver.command(GUEST, p)
    assert "-netdev" not in cmd  # the port's tap does not exist on this host
    assert cmd[cmd.index("-m") + 1] == "256" and cmd[cmd.index("-smp") + 1] == "2"
    assert "-daemonize" in cmd and str(p.pid) in cmd
    assert not any("web-1" in arg for arg in cmd)  # a user's name never reaches QEMU's parser
    assert "user" not in " ".join(cmd).split("-netdev")[0].split()  # no user-mode network


async def test_base_image_checksum_and_format_are_checked(tmp_path: Path) -> None:
    data = b"\0" * 65536

    async def good(image_id: str) -> tuple[dict, bytes]:
        meta = {"id": image_id, "os_hash_algo": "sha512"}
        return {**meta, "os_hash_value": hashlib.sha512(data).hexdigest()}, data

    async def corrupt(image_id: str) -> tuple[dict, bytes]:
        return {"id": image_id, "checksum": hashlib.md5(b"other").hexdigest()}, data

    path, fmt = await images.cached(tmp_path, "a", good)
    assert fmt == "raw" and path.read_bytes() == data
    with pytest.raises(VirtError, match="not the recorded"):
        await images.cached(tmp_path, "b", corrupt)
    assert not (tmp_path / "b").exists()
