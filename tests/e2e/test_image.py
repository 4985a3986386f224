"""The Image service driven by the real ``openstack`` CLI (openstacksdk's image proxy) against
``onestack up``: data round trips, properties, sharing, visibility, deactivation, protection,
an interrupted upload and a qcow2 made by qemu-img."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.e2e.conftest import BIN, RunningCloud, free_port, run_cli, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
SERVICES = {"ONESTACK_SERVICES": '["identity", "image"]'}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e-image") / "data"
    running = start_cloud(data_dir, free_port(), extra_env=SERVICES)
    yield running
    stop_cloud(running)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class User:
    """A user of a project of its own, driving the CLI through a clouds.yaml of its own."""

    def __init__(self, cloud: RunningCloud, tmp: Path, name: str, password: str, project: str,
                 project_id: str):
        self.cloud = cloud
        self.name = name
        self.project = project
        self.project_id = project_id
        self.config = tmp / f"clouds-{name}.yaml"
        self.config.write_text(yaml.safe_dump({"clouds": {"me": {
            "auth": {"auth_url": f"{cloud.url}/identity", "username": name,
                     "password": password, "project_name": project,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": "RegionOne", "interface": "public", "identity_api_version": 3,
        }}}))

    def run(self, *args: str, check: bool = True, parse: bool = True) -> Any:
        env = {**self.cloud.env(), "OS_CLIENT_CONFIG_FILE": str(self.config)}
        cmd = [str(BIN / "openstack"), "--os-cloud", "me", *args]
        if parse:
            cmd += ["-f", "json"]
        proc = run_cli(cmd, env)
        if not check:
            return proc
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
        return json.loads(proc.stdout) if parse and proc.stdout.strip() else proc.stdout


def new_user(cloud: RunningCloud, tmp: Path) -> User:
    name = unique("img")
    password = uuid.uuid4().hex
    project = cloud.osc("project", "create", name)
    cloud.osc("user", "create", name, "--password", password, "--project", name)
    cloud.osc("role", "add", "--user", name, "--project", name, "member", parse=False)
    return User(cloud, tmp, name, password, name, project["id"])


@pytest.fixture(scope="module")
def owner(cloud: RunningCloud, tmp_path_factory: pytest.TempPathFactory) -> User:
    return new_user(cloud, tmp_path_factory.mktemp("owner"))


@pytest.fixture(scope="module")
def other(cloud: RunningCloud, tmp_path_factory: pytest.TempPathFactory) -> User:
    return new_user(cloud, tmp_path_factory.mktemp("other"))


def image_files(cloud: RunningCloud, image_id: str) -> list[Path]:
    found = []
    for folder in ("images", "image-staging"):
        path = cloud.data_dir / folder
        if path.exists():
            found += [p for p in path.iterdir() if image_id in p.name]
    return found


def test_create_with_file_checksums_and_save(cloud: RunningCloud, owner: User,
                                             tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "disk.raw"
    src.write_bytes(data)
    name = unique("raw")
    img = owner.run("image", "create", name, "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "--property", "os_distro=cirros",
                    "--tag", "e2e")
    assert img["status"] == "active"
    assert img["checksum"] == hashlib.md5(data).hexdigest()
    shown = owner.run("image", "show", name)
    assert shown["size"] == len(data)
    # OSC shows the wire names os_hash_algo/os_hash_value among the properties
    hashes = {**shown, **shown["properties"]}
    assert hashes["os_hash_algo"] == "sha512"
    assert hashes["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["properties"]["os_distro"] == "cirros"
    assert "e2e" in shown["tags"]
    out = tmp_path / "saved.raw"
    owner.run("image", "save", "--file", str(out), name, parse=False)
    assert out.read_bytes() == data
    listed = owner.run("image", "list", "--tag", "e2e")
    assert name in {i["Name"] for i in listed}
    assert len(image_files(cloud, shown["id"])) == 1
    owner.run("image", "delete", name, parse=False)
    assert image_files(cloud, shown["id"]) == []


def test_set_and_unset_properties(owner: User) -> None:
    name = unique("props")
    owner.run("image", "create", name, "--disk-format", "qcow2", "--container-format", "bare")
    owner.run("image", "set", name, "--property", "hw_disk_bus=virtio", "--property",
              "color=blue", "--min-ram", "256", "--tag", "t1", parse=False)
    shown = owner.run("image", "show", name)
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    assert shown["properties"]["color"] == "blue"
    assert shown["min_ram"] == 256 and "t1" in shown["tags"]
    owner.run("image", "unset", name, "--property", "color", "--tag", "t1", parse=False)
    shown = owner.run("image", "show", name)
    assert "color" not in shown["properties"] and "t1" not in shown["tags"]
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    owner.run("image", "set", name, "--name", name + "-renamed", "--private", parse=False)
    assert owner.run("image", "show", name + "-renamed")["visibility"] == "private"


def test_shared_image_accept(cloud: RunningCloud, owner: User, other: User,
                             tmp_path: Path) -> None:
    src = tmp_path / "shared.raw"
    src.write_bytes(b"shared bits" * 100)
    name = unique("shared")
    img = owner.run("image", "create", name, "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "--shared")
    assert img["visibility"] == "shared"
    assert other.run("image", "show", img["id"], check=False, parse=False).returncode != 0
    member = owner.run("image", "add", "project", img["id"], other.project_id)
    assert member["status"] == "pending"
    # pending: visible by id, not yet in the default list
    assert other.run("image", "show", img["id"])["id"] == img["id"]
    assert img["id"] not in {i["ID"] for i in other.run("image", "list")}
    other.run("image", "set", "--accept", img["id"], parse=False)
    assert img["id"] in {i["ID"] for i in other.run("image", "list")}
    assert img["id"] in {i["ID"] for i in other.run("image", "list", "--shared")}
    members = owner.run("image", "member", "list", img["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(other.project_id, "accepted")]
    out = tmp_path / "got.raw"
    other.run("image", "save", "--file", str(out), img["id"], parse=False)
    assert out.read_bytes() == src.read_bytes()
    owner.run("image", "remove", "project", img["id"], other.project_id, parse=False)
    assert other.run("image", "show", img["id"], check=False, parse=False).returncode != 0


@pytest.mark.parametrize(("flag", "visible", "listed"), [
    ("--public", True, True),
    ("--community", True, False),
    ("--shared", False, False),
    ("--private", False, False),
])
def test_visibility_matrix(cloud: RunningCloud, owner: User, other: User, flag: str,
                           visible: bool, listed: bool) -> None:
    name = unique("vis")
    if flag == "--public":  # only an admin publicizes
        img = cloud.osc("image", "create", name, "--public", "--project", owner.project_id)
    else:
        img = owner.run("image", "create", name, flag)
    assert owner.run("image", "show", img["id"])["id"] == img["id"]
    shown = other.run("image", "show", img["id"], check=False, parse=False)
    assert (shown.returncode == 0) is visible
    assert (img["id"] in {i["ID"] for i in other.run("image", "list")}) is listed
    if flag == "--community":
        assert img["id"] in {i["ID"] for i in other.run("image", "list", "--community")}
    failed = other.run("image", "set", img["id"], "--name", "hijack", check=False, parse=False)
    assert failed.returncode != 0
    assert other.run("image", "delete", img["id"], check=False, parse=False).returncode != 0
    assert owner.run("image", "show", img["id"])["name"] == name


def test_deactivated_download_refused(cloud: RunningCloud, owner: User, tmp_path: Path) -> None:
    src = tmp_path / "d.raw"
    src.write_bytes(b"deactivate me" * 100)
    name = unique("deact")
    owner.run("image", "create", name, "--file", str(src), "--disk-format", "raw",
              "--container-format", "bare")
    owner.run("image", "set", name, "--deactivate", parse=False)
    assert owner.run("image", "show", name)["status"] == "deactivated"
    proc = owner.run("image", "save", "--file", str(tmp_path / "no.raw"), name, check=False,
                     parse=False)
    assert proc.returncode != 0  # the sdk hashes the 403 body and reports a mismatch
    assert not (tmp_path / "no.raw").exists() or (tmp_path / "no.raw").read_bytes() != (
        src.read_bytes())
    image_id = owner.run("image", "show", name)["id"]
    r = httpx.get(f"{cloud.url}/image/v2/images/{image_id}/file",
                  headers={"X-Auth-Token": _token(cloud, owner)})
    assert r.status_code == 403 and "deactivated" in r.json()["message"]
    # the cloud admin still can
    cloud.osc("image", "save", "--file", str(tmp_path / "admin.raw"), name, parse=False)
    assert (tmp_path / "admin.raw").read_bytes() == src.read_bytes()
    owner.run("image", "set", name, "--activate", parse=False)
    owner.run("image", "save", "--file", str(tmp_path / "yes.raw"), name, parse=False)
    assert (tmp_path / "yes.raw").read_bytes() == src.read_bytes()


def test_protected_delete_refused(owner: User) -> None:
    name = unique("prot")
    img = owner.run("image", "create", name, "--protected")
    proc = owner.run("image", "delete", name, check=False, parse=False)
    assert proc.returncode != 0
    assert owner.run("image", "show", img["id"])["protected"] is True
    owner.run("image", "set", name, "--unprotected", parse=False)
    owner.run("image", "delete", name, parse=False)
    assert owner.run("image", "show", img["id"], check=False, parse=False).returncode != 0


def _token(cloud: RunningCloud, user: User) -> str:
    proc = user.run("token", "issue")
    return str(proc["id"])


def test_interrupted_upload_is_killed(cloud: RunningCloud, owner: User) -> None:
    img = owner.run("image", "create", unique("cut"), "--disk-format", "raw",
                    "--container-format", "bare")
    token = _token(cloud, owner)
    url = urlsplit(cloud.url)
    path = f"/image/v2/images/{img['id']}/file"
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(
            (f"PUT {path} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Auth-Token: {token}\r\n"
             "Content-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n"
             ).encode()
        )
        for _ in range(20):
            sock.sendall(b"x" * 256 * 1024)
        time.sleep(0.5)
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = owner.run("image", "show", img["id"])["status"]
        if status != "saving":
            break
        time.sleep(0.2)
    assert status == "killed"
    assert image_files(cloud, img["id"]) == []  # no stray file, partial or whole
    owner.run("image", "delete", img["id"], parse=False)


def test_qcow2_virtual_size(cloud: RunningCloud, owner: User, tmp_path: Path) -> None:
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "1G"], check=True,
                   capture_output=True)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(disk)],
                                     check=True, capture_output=True, text=True).stdout)
    name = unique("qcow")
    owner.run("image", "create", name, "--file", str(disk), "--disk-format", "qcow2",
              "--container-format", "bare")
    shown = owner.run("image", "show", name)
    assert shown["virtual_size"] == info["virtual-size"] == 1024**3
    assert shown["size"] == disk.stat().st_size
    # the same bytes declared raw are refused, and nothing is left behind
    bad = owner.run("image", "create", unique("liar"), "--file", str(disk), "--disk-format",
                    "raw", "--container-format", "bare", check=False, parse=False)
    assert bad.returncode != 0


def test_import_and_discovery(cloud: RunningCloud, owner: User, tmp_path: Path) -> None:
    src = tmp_path / "imp.raw"
    data = b"imported" * 4096
    src.write_bytes(data)
    name = unique("imp")
    owner.run("image", "create", name, "--file", str(src), "--disk-format", "raw",
              "--container-format", "bare", "--import")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = owner.run("image", "show", name)
        if shown["status"] == "active":
            break
        time.sleep(0.2)
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    info = owner.run("image", "import", "info")
    assert "glance-direct" in str(info)
    stores = owner.run("image", "stores", "list")
    assert [s["ID"] for s in stores] == ["file"]
    tasks = cloud.osc("image", "task", "list")
    assert any(t["Type"] == "api_image_import" for t in tasks)


def test_sdk_image_proxy(cloud: RunningCloud, owner: User) -> None:
    """openstacksdk's image proxy directly: create, upload, members, tags, delete."""
    import openstack

    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(owner.config)}
    old = os.environ.copy()
    os.environ.update(env)
    try:
        conn = openstack.connect(cloud="me")
        image = conn.image.create_image(unique("sdk"), data=b"sdk data" * 64,
                                        disk_format="raw", container_format="bare",
                                        allow_duplicates=True, wait=True)
        fetched = conn.image.get_image(image.id)
        assert fetched.status == "active" and fetched.size == 512
        conn.image.add_tag(fetched, "sdk-tag")
        assert "sdk-tag" in conn.image.get_image(image.id).tags
        conn.image.update_image(image.id, name="sdk-renamed", hw_scsi_model="virtio-scsi")
        again = conn.image.get_image(image.id)
        assert again.name == "sdk-renamed" and again.hw_scsi_model == "virtio-scsi"
        got = conn.image.download_image(image.id)
        assert got.content == b"sdk data" * 64
        names = [i.name for i in conn.image.images(owner=owner.project_id)]
        assert "sdk-renamed" in names
        schema = conn.image.get_images_schema()
        assert schema.properties["images"]["type"] == "array"
        conn.image.delete_image(image.id, ignore_missing=False)
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_bad_requests_answer_in_glance_format(cloud: RunningCloud, owner: User) -> None:
    token = _token(cloud, owner)
    r = httpx.get(f"{cloud.url}/image/v2/images/{uuid.uuid4()}",
                  headers={"X-Auth-Token": token})
    assert r.status_code == 404
    assert r.json()["code"] == "404 Not Found"
    r = httpx.post(f"{cloud.url}/image/v2/images", headers={"X-Auth-Token": token},
                   json={"disk_format": "floppy"})
    assert r.status_code == 400


def test_metadefs_cli(cloud: RunningCloud, owner: User) -> None:
    osc = cloud.osc
    name = unique("OS::E2E")
    created = osc("image", "metadef", "namespace", "create", name, "--public",
                  "--display-name", "E2E", "--description", "made by e2e")
    assert created["namespace"] == name and created["visibility"] == "public"
    osc("image", "metadef", "namespace", "set", name, "--description", "changed", parse=False)
    assert osc("image", "metadef", "namespace", "show", name)["description"] == "changed"
    assert name in {n["namespace"] for n in owner.run("image", "metadef", "namespace", "list")}
    prop = osc("image", "metadef", "property", "create", name, "--name", "cores", "--title",
               "Cores", "--type", "integer", "--schema", '{"minimum": 1}')
    assert prop["name"] == "cores"
    listed = osc("image", "metadef", "property", "list", name)
    assert "cores" in str(listed)
    osc("image", "metadef", "object", "create", "--namespace", name, "CPU")
    assert "CPU" in str(osc("image", "metadef", "object", "list", name))
    types = osc("image", "metadef", "resource", "type", "list")
    assert "OS::Glance::Image" in str(types)
    osc("image", "metadef", "resource", "type", "association", "create", name,
        "OS::Glance::Image")
    assert "OS::Glance::Image" in str(
        osc("image", "metadef", "resource", "type", "association", "list", name))
    # a member may read but not write
    denied = owner.run("image", "metadef", "namespace", "delete", name, check=False,
                       parse=False)
    assert denied.returncode != 0
    osc("image", "metadef", "namespace", "delete", name, parse=False)
    gone = cloud.osc("image", "metadef", "namespace", "show", name, check=False)
    assert gone.returncode != 0
