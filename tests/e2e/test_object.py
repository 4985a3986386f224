"""Object Storage driven by the real clients against ``onestack up``: the ``swift`` CLI
(python-swiftclient, Keystone v3 and tempauth v1 auth), ``openstack container/object``,
openstacksdk's object store proxy; segmented uploads, TempURL, ACL sharing between two
projects, versioning; a SIGKILL during a large upload."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openstack
import pytest
from openstack.config import loader

from tests.e2e.conftest import BIN, RunningCloud, free_port, run_cli, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
ENV = {"ONESTACK_SERVICES": '["identity", "object"]',
       "ONESTACK_OBJECT__TEMPAUTH_USERS": '{"test:tester": "testing .admin"}'}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    data_dir = tmp_path_factory.mktemp("e2e-object") / "data"
    running = start_cloud(data_dir, free_port(), extra_env=ENV)
    yield running
    stop_cloud(running)


def password(cloud: RunningCloud, user: str) -> str:
    return (cloud.data_dir / f"{user}-password").read_text().strip()


def connect(cloud: RunningCloud, name: str) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=name))


class Swift:
    """The ``swift`` CLI as one user of one project (Keystone v3)."""

    def __init__(self, cloud: RunningCloud, user: str, pw: str, project: str):
        self.cloud = cloud
        self.user, self.pw, self.project = user, pw, project
        self.auth = ["--auth-version", "3", "--os-auth-url", f"{cloud.url}/identity/v3",
                     "--os-username", user, "--os-password", pw, "--os-project-name", project,
                     "--os-user-domain-name", "Default", "--os-project-domain-name", "Default"]

    def __call__(self, *args: str, check: bool = True, cwd: Path | None = None
                 ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(BIN / "swift"), *self.auth, *args], capture_output=True,
                              text=True, timeout=120, cwd=cwd, env=self.cloud.env())
        if check:
            assert proc.returncode == 0, f"swift {' '.join(args)}: {proc.stderr}{proc.stdout}"
        return proc

    def session(self) -> tuple[str, str]:
        """(storage URL, token) from the catalog, without a CLI run."""
        r = httpx.post(f"{self.cloud.url}/identity/v3/auth/tokens", timeout=10, json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"id": "default"}, "password": self.pw}}},
            "scope": {"project": {"name": self.project, "domain": {"id": "default"}}}}})
        assert r.status_code == 201, r.text
        url = next(e["url"] for s in r.json()["token"]["catalog"] if s["type"] == "object-store"
                   for e in s["endpoints"] if e["interface"] == "public")
        return url, r.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def demo(cloud: RunningCloud) -> Swift:
    return Swift(cloud, "demo", password(cloud, "demo"), "demo")


@pytest.fixture(scope="module")
def other(cloud: RunningCloud) -> tuple[Swift, str, str]:
    """A member of another project: (its swift CLI, project id, user id)."""
    conn = connect(cloud, "onestack")
    project = conn.identity.create_project(name=f"objother-{uuid.uuid4().hex[:6]}",
                                           domain_id="default")
    user = conn.identity.create_user(name=f"objuser-{uuid.uuid4().hex[:6]}",
                                     password="Other-pass-1", domain_id="default")
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, role)
    return Swift(cloud, user.name, "Other-pass-1", project.name), project.id, user.id


def test_swift_cli_round_trip(demo: Swift, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello swift\n")
    demo("upload", "docs", "hello.txt", cwd=tmp_path)
    assert demo("list", "docs").stdout.split() == ["hello.txt"]
    demo("post", "-m", "Color:blue", "docs", "hello.txt")
    stat = demo("stat", "docs", "hello.txt").stdout
    assert "Content Length: 12" in stat and "text/plain" in stat and "Meta Color: blue" in stat
    demo("download", "docs", "hello.txt", "-o", str(tmp_path / "got.txt"))
    assert (tmp_path / "got.txt").read_bytes() == b"hello swift\n"
    demo("delete", "docs", "hello.txt")
    url, token = demo.session()
    r = httpx.get(f"{url}/docs", headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 204


@pytest.mark.parametrize("slo", [False, True], ids=["dlo", "slo"])
def test_segmented_uploads_download_byte_for_byte(demo: Swift, tmp_path: Path,
                                                  slo: bool) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    (tmp_path / "big.bin").write_bytes(data)
    container = "slo" if slo else "dlo"
    args = ["upload", "-S", "1048576", "--use-slo" if slo else "--use-dlo", container, "big.bin"]
    demo(*args, cwd=tmp_path)
    demo("download", container, "big.bin", "-o", str(tmp_path / "back.bin"))
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).digest() == \
        hashlib.sha256(data).digest()
    url, token = demo.session()
    head = httpx.head(f"{url}/{container}/big.bin", headers={"X-Auth-Token": token})
    assert head.headers["content-length"] == str(len(data))
    assert (head.headers.get("x-static-large-object") == "True") == slo
    segments = httpx.get(f"{url}/{container}_segments", headers={"X-Auth-Token": token})
    assert len(segments.text.split()) == 6
    demo("delete", container, "big.bin")
    segments = httpx.get(f"{url}/{container}_segments", headers={"X-Auth-Token": token})
    assert segments.status_code == 204


def test_tempurl_get(demo: Swift, tmp_path: Path) -> None:
    (tmp_path / "t.bin").write_bytes(b"temporary")
    demo("upload", "temp", "t.bin", cwd=tmp_path)
    demo("post", "-m", "Temp-URL-Key:sekrit")
    url, _token = demo.session()
    path = "/" + url.split("/", 3)[3] + "/temp/t.bin"
    signed = demo("tempurl", "GET", "60", path, "sekrit").stdout.strip()
    base = url.split("/v1/")[0].rsplit("/object-store", 1)[0]
    r = httpx.get(base + signed, timeout=10)
    assert r.status_code == 200 and r.content == b"temporary"
    bad = signed.replace("temp_url_sig=", "temp_url_sig=0")
    assert httpx.get(base + bad, timeout=10).status_code == 401


def test_acl_sharing_between_projects(demo: Swift, other: tuple[Swift, str, str],
                                      tmp_path: Path) -> None:
    swift_other, project_id, user_id = other
    (tmp_path / "s.txt").write_bytes(b"shared file")
    demo("upload", "shared", "s.txt", cwd=tmp_path)
    url, _token = demo.session()
    denied = swift_other("--os-storage-url", url, "download", "shared", "s.txt", "-o", "-",
                         check=False)
    assert denied.returncode != 0 and "403" in denied.stderr
    demo("post", "-r", f"{project_id}:{user_id}", "shared")
    got = swift_other("--os-storage-url", url, "download", "shared", "s.txt", "-o", "-")
    assert got.stdout == "shared file"
    listing = swift_other("--os-storage-url", url, "list", "shared")
    assert listing.stdout.split() == ["s.txt"]
    upload = swift_other("--os-storage-url", url, "upload", "shared", "s.txt", check=False,
                         cwd=tmp_path)
    assert upload.returncode != 0  # read access only
    assert "shared" not in swift_other("list").stdout  # its own account is separate


def test_versioning(demo: Swift, tmp_path: Path) -> None:
    url, token = demo.session()
    auth = {"X-Auth-Token": token}
    httpx.put(f"{url}/versions", headers=auth)
    httpx.put(f"{url}/current", headers={**auth, "X-Versions-Location": "versions"})
    for body in (b"first", b"second"):
        httpx.put(f"{url}/current/v.txt", headers=auth, content=body)
    assert len(demo("list", "versions").stdout.split()) == 1
    demo("delete", "current", "v.txt")
    assert demo("download", "current", "v.txt", "-o", "-").stdout == "first"


def test_object_versioning_with_the_swift_cli(demo: Swift, tmp_path: Path) -> None:
    """The newer API: X-Versions-Enabled, swift list --versions, download / delete by
    --version-id (swiftclient's own options for it)."""
    demo("post", "vers", "-H", "X-Versions-Enabled: true")
    assert "Versions-Enabled: True" in demo("stat", "vers").stdout
    url, token = demo.session()
    ids = []
    for body in (b"first", b"second"):
        r = httpx.put(f"{url}/vers/doc", headers={"X-Auth-Token": token}, content=body)
        assert r.status_code == 201
        ids.append(r.headers["x-object-version-id"])
    listed = demo("list", "vers", "--versions").stdout
    assert all(vid in listed for vid in ids), listed
    out = demo("download", "vers", "doc", "--version-id", ids[0], "-o", "-").stdout
    assert out == "first"
    demo("delete", "vers", "doc")  # a delete marker: the object is gone, its versions kept
    assert demo("download", "vers", "doc", "-o", "-", check=False).returncode != 0
    assert demo("download", "vers", "doc", "--version-id", ids[1], "-o", "-").stdout == "second"
    demo("delete", "vers", "--versions")  # every version, then the container itself
    assert "vers" not in demo("list").stdout.split()


def test_tempauth_v1(cloud: RunningCloud, tmp_path: Path) -> None:
    base = [str(BIN / "swift"), "-A", f"{cloud.url}/object-store/auth/v1.0", "-U",
            "test:tester", "-K", "testing"]
    (tmp_path / "f").write_bytes(b"v1 auth")
    proc = subprocess.run([*base, "upload", "c", "f"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([*base, "stat"], capture_output=True, text=True, timeout=60)
    assert "Account: AUTH_test" in proc.stdout and "Objects: 1" in proc.stdout
    bad = subprocess.run([*base[:-1], "wrong", "stat"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0


def test_openstack_cli_container_and_object(cloud: RunningCloud, tmp_path: Path) -> None:
    (tmp_path / "o.txt").write_bytes(b"from osc")
    env = {**cloud.env()}

    def osc(*args: str) -> str:
        proc = run_cli([str(BIN / "openstack"), "--os-cloud", "onestack-demo", *args], env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    osc("container", "create", "osc")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        osc("object", "create", "osc", "o.txt")
    finally:
        os.chdir(cwd)
    assert "o.txt" in osc("object", "list", "osc", "-f", "value")
    osc("object", "save", "osc", "o.txt", "--file", str(tmp_path / "saved"))
    assert (tmp_path / "saved").read_bytes() == b"from osc"
    osc("object", "delete", "osc", "o.txt")


def test_sdk_object_store(cloud: RunningCloud) -> None:
    conn = connect(cloud, "onestack-demo")
    conn.object_store.create_container(name="sdk")
    conn.object_store.upload_object(container="sdk", name="x", data=b"sdk data")
    assert conn.object_store.download_object("x", container="sdk") == b"sdk data"
    assert [o.name for o in conn.object_store.objects("sdk")] == ["x"]
    conn.object_store.delete_object("x", container="sdk")


def test_sigkill_during_a_large_upload_leaves_no_partial_object(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("e2e-object-kill") / "data"
    port = free_port()
    running = start_cloud(data_dir, port, extra_env=ENV)
    try:
        swift = Swift(running, "demo", password(running, "demo"), "demo")
        url, token = swift.session()
        httpx.put(f"{url}/big", headers={"X-Auth-Token": token})

        def slow_body() -> Iterator[bytes]:
            for i in range(400):
                if i == 100:
                    os.kill(running.process.pid, signal.SIGKILL)
                yield b"x" * (1 << 20)
                time.sleep(0.001)

        with pytest.raises(httpx.HTTPError):
            httpx.put(f"{url}/big/huge", content=slow_body(), timeout=30,
                      headers={"X-Auth-Token": token})
        running.process.wait(timeout=10)
    finally:
        stop_cloud(running)
    running = start_cloud(data_dir, port, extra_env=ENV)
    try:
        swift = Swift(running, "demo", password(running, "demo"), "demo")
        url, token = swift.session()
        auth = {"X-Auth-Token": token}
        assert httpx.get(f"{url}/big", headers=auth).status_code == 204  # empty listing
        assert httpx.head(f"{url}/big/huge", headers=auth).status_code == 404
        leftovers = [p for p in (data_dir / "object" / "devices").rglob("*.data")]
        assert leftovers == []
    finally:
        stop_cloud(running)


def test_boto3_against_the_s3_api(cloud: RunningCloud) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    conn = connect(cloud, "onestack-demo")
    cred = conn.identity.post(f"/users/{conn.current_user_id}/credentials/OS-EC2",
                              json={"tenant_id": conn.current_project_id}).json()["credential"]

    def client(signature: str, secret: str = cred["secret"]):  # type: ignore[no-untyped-def]
        return boto3.client("s3", endpoint_url=f"{cloud.url}/object-store",
                            aws_access_key_id=cred["access"], aws_secret_access_key=secret,
                            region_name="RegionOne",
                            config=Config(signature_version=signature,
                                          s3={"addressing_style": "path"}))

    for signature in ("s3v4", "s3"):
        s3 = client(signature)
        bucket = f"bucket-{signature}"
        s3.create_bucket(Bucket=bucket)
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello s3", Metadata={"k": "v"})
        got = s3.get_object(Bucket=bucket, Key="dir/a b.txt")
        assert got["Body"].read() == b"hello s3" and got["Metadata"] == {"k": "v"}
        assert got["ETag"] == f'"{hashlib.md5(b"hello s3").hexdigest()}"'
        part = s3.get_object(Bucket=bucket, Key="dir/a b.txt", Range="bytes=1-3")
        assert part["Body"].read() == b"ell"
        assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == \
            ["dir/a b.txt"]
        listed = s3.list_objects(Bucket=bucket, Delimiter="/")
        assert listed["CommonPrefixes"] == [{"Prefix": "dir/"}]
        s3.copy_object(Bucket=bucket, Key="copy",
                       CopySource={"Bucket": bucket, "Key": "dir/a b.txt"})
        assert s3.head_object(Bucket=bucket, Key="copy")["ContentLength"] == 8
        with pytest.raises(ClientError) as err:
            s3.get_object(Bucket=bucket, Key="missing")
        assert err.value.response["Error"]["Code"] == "NoSuchKey"
        with pytest.raises(ClientError) as err:
            s3.delete_bucket(Bucket=bucket)
        assert err.value.response["Error"]["Code"] == "BucketNotEmpty"
        for key in ("copy", "dir/a b.txt"):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    # multipart upload, byte-compared; a presigned GET
    s3 = client("s3v4")
    s3.create_bucket(Bucket="multi")
    upload = s3.create_multipart_upload(Bucket="multi", Key="big")
    chunks = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    parts = []
    for number, chunk in enumerate(chunks, 1):
        r = s3.upload_part(Bucket="multi", Key="big", UploadId=upload["UploadId"],
                           PartNumber=number, Body=chunk)
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    listed_parts = s3.list_parts(Bucket="multi", Key="big", UploadId=upload["UploadId"])
    assert [p["PartNumber"] for p in listed_parts["Parts"]] == [1, 2]
    done = s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket="multi", Key="big")["Body"].read() == b"".join(chunks)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "multi", "Key": "big"},
                                    ExpiresIn=60)
    assert httpx.get(url, timeout=30).content == b"".join(chunks)
    aborted = s3.create_multipart_upload(Bucket="multi", Key="gone")
    s3.abort_multipart_upload(Bucket="multi", Key="gone", UploadId=aborted["UploadId"])
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket="multi", Key="gone", UploadId=aborted["UploadId"])
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"
    with pytest.raises(ClientError) as err:
        client("s3v4", secret="wrong").list_buckets()
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # bucket versioning and tagging
    s3.create_bucket(Bucket="kept")
    s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="kept", Key="k", Body=b"one", Tagging="env=e2e")["VersionId"]
    assert s3.get_object_tagging(Bucket="kept", Key="k")["TagSet"] == [
        {"Key": "env", "Value": "e2e"}]
    s3.put_object(Bucket="kept", Key="k", Body=b"two")
    assert s3.get_object(Bucket="kept", Key="k", VersionId=first)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket="kept", Key="k")
    assert marker["DeleteMarker"] is True
    versions = s3.list_object_versions(Bucket="kept")
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1
