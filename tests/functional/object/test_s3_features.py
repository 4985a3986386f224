"""S3 bucket versioning, object and bucket tagging and lifecycle configuration, driven by
boto3 in-process: botocore signs each request as usual and a ``before-send`` hook hands it to
the cloud's ASGI app (boto3 runs in a worker thread, the app on the test's event loop)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from onestack.server import Cloud
from tests.functional.object.conftest import Account

boto3 = pytest.importorskip("boto3")
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


class _Raw:
    """What botocore reads a response body from."""

    def __init__(self, body: bytes):
        self._io = io.BytesIO(body)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._io.read()

    def read(self, amt: int | None = None, **kwargs: Any) -> bytes:
        return self._io.read(amt) if amt is not None else self._io.read()


def s3_client(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, access: str,
              secret: str, endpoint: str = "http://testserver/object-store",
              style: str = "path", signature: str = "s3v4") -> Any:
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      aws_access_key_id=access, aws_secret_access_key=secret,
                      region_name="RegionOne",
                      config=Config(signature_version=signature, s3={"addressing_style": style},
                                    request_checksum_calculation="when_required",
                                    response_checksum_validation="when_required"))

    def send(request: Any, **kwargs: Any) -> AWSResponse:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        future = asyncio.run_coroutine_threadsafe(
            client.request(request.method, request.url, headers=dict(request.headers.items()),
                           content=body or b""), loop)
        r = future.result(timeout=60)
        return AWSResponse(request.url, r.status_code, dict(r.headers.items()),
                           _Raw(r.content))

    s3.meta.events.register("before-send.s3", send)
    return s3


@pytest.fixture
async def s3(client: httpx.AsyncClient, demo: Account) -> Callable[..., Awaitable[Any]]:
    r = await client.post(f"/identity/v3/users/{demo.user_id}/credentials/OS-EC2",
                          headers=demo.headers, json={"tenant_id": demo.project_id})
    assert r.status_code == 201, r.text
    cred = r.json()["credential"]
    boto = s3_client(client, asyncio.get_running_loop(), cred["access"], cred["secret"])

    async def call(op: str, **kw: Any) -> Any:
        return await asyncio.to_thread(getattr(boto, op), **kw)

    return call


async def error_code(call: Awaitable[Any]) -> str:
    with pytest.raises(ClientError) as err:
        await call
    return str(err.value.response["Error"]["Code"])


async def test_bucket_versioning(s3: Callable[..., Awaitable[Any]]) -> None:
    await s3("create_bucket", Bucket="versioned-b")
    assert "Status" not in await s3("get_bucket_versioning", Bucket="versioned-b")
    await s3("put_bucket_versioning", Bucket="versioned-b",
             VersioningConfiguration={"Status": "Enabled"})
    assert (await s3("get_bucket_versioning", Bucket="versioned-b"))["Status"] == "Enabled"
    ids = [(await s3("put_object", Bucket="versioned-b", Key="k", Body=body))["VersionId"]
           for body in (b"first", b"second")]
    assert ids[0] != ids[1]
    got = await s3("get_object", Bucket="versioned-b", Key="k", VersionId=ids[0])
    assert got["Body"].read() == b"first" and got["VersionId"] == ids[0]
    head = await s3("head_object", Bucket="versioned-b", Key="k")
    assert head["VersionId"] == ids[1]
    deleted = await s3("delete_object", Bucket="versioned-b", Key="k")
    assert deleted["DeleteMarker"] is True
    assert await error_code(s3("get_object", Bucket="versioned-b", Key="k")) == "NoSuchKey"
    listed = await s3("list_object_versions", Bucket="versioned-b")
    assert [v["VersionId"] for v in listed["Versions"]] == [ids[1], ids[0]]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [deleted["VersionId"]]
    assert listed["DeleteMarkers"][0]["IsLatest"] is True
    # removing the delete marker brings the last version back
    await s3("delete_object", Bucket="versioned-b", Key="k", VersionId=deleted["VersionId"])
    got = await s3("get_object", Bucket="versioned-b", Key="k")
    assert got["Body"].read() == b"second"
    assert await error_code(s3("get_object", Bucket="versioned-b", Key="k",
                               VersionId="1234567890.12345")) == "NoSuchVersion"
    await s3("put_bucket_versioning", Bucket="versioned-b",
             VersioningConfiguration={"Status": "Suspended"})
    assert (await s3("get_bucket_versioning", Bucket="versioned-b"))["Status"] == "Suspended"
    for version in ids:
        await s3("delete_object", Bucket="versioned-b", Key="k", VersionId=version)
    assert (await s3("list_object_versions", Bucket="versioned-b")).get("Versions") is None
    await s3("delete_bucket", Bucket="versioned-b")


async def test_object_tagging(s3: Callable[..., Awaitable[Any]]) -> None:
    await s3("create_bucket", Bucket="tagged-b")
    await s3("put_object", Bucket="tagged-b", Key="k", Body=b"x", Tagging="a=1&b=two%20words",
             Metadata={"m": "kept"})
    tags = (await s3("get_object_tagging", Bucket="tagged-b", Key="k"))["TagSet"]
    assert tags == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}]
    got = await s3("get_object", Bucket="tagged-b", Key="k")
    assert got["TagCount"] == 2 and got["Metadata"] == {"m": "kept"}
    await s3("put_object_tagging", Bucket="tagged-b", Key="k",
             Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert (await s3("get_object_tagging", Bucket="tagged-b", Key="k"))["TagSet"] == [
        {"Key": "only", "Value": "one"}]
    assert (await s3("head_object", Bucket="tagged-b", Key="k"))["Metadata"] == {"m": "kept"}
    await s3("delete_object_tagging", Bucket="tagged-b", Key="k")
    assert (await s3("get_object_tagging", Bucket="tagged-b", Key="k"))["TagSet"] == []
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    assert await error_code(s3("put_object_tagging", Bucket="tagged-b", Key="k",
                               Tagging={"TagSet": too_many})) == "BadRequest"
    assert await error_code(s3("get_object_tagging", Bucket="tagged-b",
                               Key="missing")) == "NoSuchKey"
    # bucket tags
    assert await error_code(s3("get_bucket_tagging", Bucket="tagged-b")) == "NoSuchTagSet"
    await s3("put_bucket_tagging", Bucket="tagged-b",
             Tagging={"TagSet": [{"Key": "team", "Value": "object"}]})
    assert (await s3("get_bucket_tagging", Bucket="tagged-b"))["TagSet"] == [
        {"Key": "team", "Value": "object"}]
    await s3("delete_bucket_tagging", Bucket="tagged-b")
    assert await error_code(s3("get_bucket_tagging", Bucket="tagged-b")) == "NoSuchTagSet"


async def test_lifecycle_is_stored_and_expires_objects(
    cloud: Cloud, s3: Callable[..., Awaitable[Any]]
) -> None:
    from onestack.object.daemons import expirer

    await s3("create_bucket", Bucket="lifecycle-b")
    assert await error_code(s3("get_bucket_lifecycle_configuration",
                               Bucket="lifecycle-b")) == "NoSuchLifecycleConfiguration"
    rules = [{"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
              "Expiration": {"Days": 1}}]
    await s3("put_bucket_lifecycle_configuration", Bucket="lifecycle-b",
             LifecycleConfiguration={"Rules": rules})
    got = await s3("get_bucket_lifecycle_configuration", Bucket="lifecycle-b")
    assert got["Rules"][0]["ID"] == "old-logs"
    assert got["Rules"][0]["Expiration"]["Days"] == 1
    await s3("put_object", Bucket="lifecycle-b", Key="logs/old", Body=b"x")
    await s3("put_object", Bucket="lifecycle-b", Key="keep", Body=b"x")
    storage = next(s for s in cloud.services if s.spec.name == "object").storage
    assert expirer.run_lifecycle(storage) == 0  # a day has not passed
    real = time.time
    try:
        time.time = lambda: real() + 2 * 86400  # type: ignore[assignment]
        assert expirer.run_lifecycle(storage) == 1
    finally:
        time.time = real  # type: ignore[assignment]
    keys = [o["Key"] for o in (await s3("list_objects_v2", Bucket="lifecycle-b"))["Contents"]]
    assert keys == ["keep"]
    bad = [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Expiration": {"Days": 0}}]
    assert await error_code(s3("put_bucket_lifecycle_configuration", Bucket="lifecycle-b",
                               LifecycleConfiguration={"Rules": bad})) in (
        "InvalidArgument", "MalformedXML")
    await s3("delete_bucket_lifecycle", Bucket="lifecycle-b")
    assert await error_code(s3("get_bucket_lifecycle_configuration",
                               Bucket="lifecycle-b")) == "NoSuchLifecycleConfiguration"


async def test_bucket_policy_is_not_implemented_as_in_swift(
    s3: Callable[..., Awaitable[Any]]
) -> None:
    await s3("create_bucket", Bucket="policy-b")
    assert await error_code(s3("get_bucket_policy", Bucket="policy-b")) == "NotImplemented"


def chunked_put(url: str, access: str, secret: str, chunks: list[bytes],
                tamper: bool = False) -> tuple[dict[str, str], bytes]:
    """A PUT signed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD (what the AWS Java SDK and rclone
    send): the seed signature by botocore, each frame signed after it."""
    import hashlib
    import hmac

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    total = sum(len(c) for c in chunks)
    request = AWSRequest("PUT", url, headers={
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(total)})
    SigV4Auth(Credentials(access, secret), "s3", "RegionOne").add_auth(request)
    headers = dict(request.headers.items())
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    date = headers["X-Amz-Date"]
    scope = f"{date[:8]}/RegionOne/s3/aws4_request"
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    body = b""
    for data in [*chunks, b""]:
        text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, previous,
                          hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest()])
        previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        if tamper and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
    return headers, body


async def test_aws_chunked_upload(client: httpx.AsyncClient, demo: Account,
                                  s3: Callable[..., Awaitable[Any]]) -> None:
    r = await client.post(f"/identity/v3/users/{demo.user_id}/credentials/OS-EC2",
                          headers=demo.headers, json={"tenant_id": demo.project_id})
    cred = r.json()["credential"]
    await s3("create_bucket", Bucket="chunked-b")
    chunks = [b"a" * 65536, b"b" * 1000, b"c"]
    url = "http://testserver/object-store/chunked-b/streamed"
    headers, body = chunked_put(url, cred["access"], cred["secret"], chunks)
    r = await client.put(url, headers=headers, content=body)
    assert r.status_code == 200, r.text
    got = await s3("get_object", Bucket="chunked-b", Key="streamed")
    assert got["Body"].read() == b"".join(chunks) and "ContentEncoding" not in got
    # a frame whose data does not match its signature fails the upload: nothing is written
    headers, body = chunked_put(url.replace("streamed", "tampered"), cred["access"],
                                cred["secret"], chunks, tamper=True)
    r = await client.put(url.replace("streamed", "tampered"), headers=headers, content=body)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    assert await error_code(s3("head_object", Bucket="chunked-b", Key="tampered")) == "404"


async def test_virtual_host_addressing(client: httpx.AsyncClient, demo: Account,
                                       s3: Callable[..., Awaitable[Any]]) -> None:
    r = await client.post(f"/identity/v3/users/{demo.user_id}/credentials/OS-EC2",
                          headers=demo.headers, json={"tenant_id": demo.project_id})
    cred = r.json()["credential"]
    await s3("create_bucket", Bucket="vhost-b")
    sent: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        sent.append(request.url)

    for signature in ("s3v4", "s3"):
        boto = s3_client(client, asyncio.get_running_loop(), cred["access"], cred["secret"],
                         endpoint="http://localhost/object-store", style="virtual",
                         signature=signature)
        boto.meta.events.register_first("before-send.s3", record)
        await asyncio.to_thread(boto.put_object, Bucket="vhost-b", Key=f"k-{signature}",
                                Body=b"by host")
        got = await asyncio.to_thread(boto.get_object, Bucket="vhost-b", Key=f"k-{signature}")
        assert got["Body"].read() == b"by host"
        listed = await asyncio.to_thread(boto.list_objects_v2, Bucket="vhost-b")
        assert f"k-{signature}" in [o["Key"] for o in listed["Contents"]]
    assert sent and all(u.startswith("http://vhost-b.localhost/") for u in sent)
    # the path-style view sees the same objects
    keys = [o["Key"] for o in (await s3("list_objects_v2", Bucket="vhost-b"))["Contents"]]
    assert keys == ["k-s3", "k-s3v4"]
