"""S3 multipart uploads: initiate, upload part, list parts, complete (into an SLO whose
segments are the parts, in ``<bucket>+segments``), abort, and list the bucket's uploads."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import orjson

from onestack.object import timestamps
from onestack.object.middleware.s3api import (
    MAX_PARTS,
    MIN_PART_SIZE,
    NS,
    SEGMENTS,
    S3Error,
    _e,
    iso,
    new_upload_id,
    xml,
)
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.middleware.s3api import S3Controller


async def handle(s3: S3Controller, req: Request, account: str, bucket: str, key: str) -> Response:
    await s3._bucket_info(req, account, bucket)
    p = req.params
    method = req.method
    if "uploads" in p and method == "POST":
        return await initiate(s3, req, account, bucket, key)
    upload_id = p.get("uploadId", "")
    segments = bucket + SEGMENTS
    marker = f"{key}/{upload_id}"
    upload = s3.proxy.objects.find(account, segments, marker) if upload_id else None
    if upload is None:
        raise S3Error(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist. "
            "The upload ID might be invalid, or the multipart upload might have been "
            "aborted or completed.",
        )
    if method == "PUT" and "partNumber" in p:
        return await upload_part(s3, req, account, segments, marker)
    if method == "GET":
        return await list_parts(s3, req, account, bucket, key, upload_id)
    if method == "POST":
        return await complete(s3, req, account, bucket, key, upload_id, upload.metadata)
    if method == "DELETE":
        await _remove_parts(s3, account, segments, marker)
        s3.proxy.objects.remove(account, segments, marker, timestamps.now())
        return Response(204)
    raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")


async def initiate(s3: S3Controller, req: Request, account: str, bucket: str, key: str) -> Response:
    segments = bucket + SEGMENTS
    if s3.storage.container_info(account, segments) is None:
        await s3.swift(req, "PUT", account, segments)
    upload_id = new_upload_id()
    metadata = {
        k.title(): v for k, v in s3.swift_headers(req).items() if k.startswith("x-object-meta-")
    }
    metadata["Content-Type"] = req.header("content-type") or "application/octet-stream"
    metadata["X-Object-Sysmeta-S3api-Upload"] = "1"
    await s3.put_raw(account, segments, f"{key}/{upload_id}", b"", metadata)
    return xml(
        f'<InitiateMultipartUploadResult xmlns="{NS}"><Bucket>{_e(bucket)}</Bucket>'
        f"<Key>{_e(key)}</Key><UploadId>{upload_id}</UploadId>"
        "</InitiateMultipartUploadResult>"
    )


def _part_number(req: Request) -> int:
    try:
        number = int(req.params.get("partNumber", ""))
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARTS:
        raise S3Error(
            400,
            "InvalidArgument",
            f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
        )
    return number


async def upload_part(
    s3: S3Controller, req: Request, account: str, segments: str, marker: str
) -> Response:
    number = _part_number(req)
    name = f"{marker}/{number}"
    if req.header("x-amz-copy-source"):
        from urllib.parse import unquote

        source = unquote(req.header("x-amz-copy-source") or "").lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        headers = {"x-copy-from": f"/{src_bucket}/{src_key}", "content-length": "0"}
        sub = req.derive("PUT", headers=headers, params={})
        try:
            resp = await s3.proxy.objects.handle(sub, account, segments, name)
        except HTTPError as exc:
            if exc.status == 404:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.") from None
            raise
        etag = resp.headers.get("Etag", "")
        return xml(
            f'<CopyPartResult xmlns="{NS}"><LastModified>{iso(timestamps.now())}'
            f"</LastModified><ETag>&quot;{etag}&quot;</ETag></CopyPartResult>"
        )
    headers = {
        k: v
        for k, v in s3.swift_headers(req).items()
        if k in ("content-length", "transfer-encoding")
    }
    md5 = req.header("content-md5")
    if md5:
        import base64

        headers["etag"] = base64.b64decode(md5).hex()
    sub = req.derive("PUT", headers=headers, params={})
    sub.receive = s3._checked_receive(req)
    resp = await s3.proxy.objects.handle(sub, account, segments, name)
    return Response(200, b"", {"ETag": f'"{resp.headers.get("Etag", "")}"'})


def _parts(s3: S3Controller, account: str, segments: str, marker: str) -> list[dict]:  # type: ignore[type-arg]
    broker = s3.storage.container_broker(account, segments)
    if broker is None:
        return []
    rows = broker.list_objects(limit=MAX_PARTS + 1, prefix=marker + "/")
    parts = []
    for row in rows:
        suffix = row["name"][len(marker) + 1 :]
        if suffix.isdigit():
            parts.append({"number": int(suffix), **row})
    return sorted(parts, key=lambda r: r["number"])


async def list_parts(
    s3: S3Controller, req: Request, account: str, bucket: str, key: str, upload_id: str
) -> Response:
    parts = _parts(s3, account, bucket + SEGMENTS, f"{key}/{upload_id}")
    try:
        after = int(req.params.get("part-number-marker", "0") or 0)
        max_parts = min(int(req.params.get("max-parts", "1000") or 1000), 1000)
    except ValueError:
        raise S3Error(400, "InvalidArgument", "Invalid part-number-marker or max-parts") from None
    parts = [part for part in parts if part["number"] > after]
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    body = "".join(
        f"<Part><PartNumber>{part['number']}</PartNumber><LastModified>"
        f"{iso(part['created_at'])}</LastModified><ETag>&quot;{part['etag']}&quot;</ETag>"
        f"<Size>{part['size']}</Size></Part>"
        for part in parts
    )
    owner = account[5:]
    next_marker = parts[-1]["number"] if parts else 0
    return xml(
        f'<ListPartsResult xmlns="{NS}"><Bucket>{_e(bucket)}</Bucket><Key>{_e(key)}'
        f"</Key><UploadId>{upload_id}</UploadId><Initiator><ID>{owner}</ID>"
        f"<DisplayName>{owner}</DisplayName></Initiator><Owner><ID>{owner}</ID>"
        f"<DisplayName>{owner}</DisplayName></Owner><StorageClass>STANDARD"
        f"</StorageClass><PartNumberMarker>{after}</PartNumberMarker>"
        f"<NextPartNumberMarker>{next_marker}</NextPartNumberMarker><MaxParts>"
        f"{max_parts}</MaxParts><IsTruncated>{'true' if truncated else 'false'}"
        f"</IsTruncated>{body}</ListPartsResult>"
    )


async def complete(
    s3: S3Controller,
    req: Request,
    account: str,
    bucket: str,
    key: str,
    upload_id: str,
    upload_meta: dict,
) -> Response:  # type: ignore[type-arg]
    raw = await req.body(4 * 1024 * 1024)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise S3Error(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did "
            "not validate against our published schema.",
        ) from None
    wanted: list[tuple[int, str]] = []
    for part in root:
        if not part.tag.endswith("Part"):
            continue
        number = part.findtext(f"{{{NS}}}PartNumber") or part.findtext("PartNumber") or ""
        etag = part.findtext(f"{{{NS}}}ETag") or part.findtext("ETag") or ""
        if not number.isdigit():
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.")
        wanted.append((int(number), etag.strip().strip('"')))
    if not wanted:
        raise S3Error(400, "MalformedXML", "You must specify at least one part.")
    numbers = [n for n, _ in wanted]
    if numbers != sorted(set(numbers)):
        raise S3Error(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
    segments = bucket + SEGMENTS
    marker = f"{key}/{upload_id}"
    have = {p["number"]: p for p in _parts(s3, account, segments, marker)}
    manifest = []
    digest = hashlib.md5(usedforsecurity=False)
    for index, (number, etag) in enumerate(wanted):
        part = have.get(number)
        if part is None or part["etag"] != etag:
            raise S3Error(
                400,
                "InvalidPart",
                "One or more of the specified parts could not "
                "be found. The part might not have been uploaded, or the specified "
                "entity tag might not have matched the part's entity tag.",
            )
        if part["size"] < MIN_PART_SIZE and index < len(wanted) - 1:
            raise S3Error(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
        manifest.append(
            {"path": f"/{segments}/{marker}/{number}", "etag": etag, "size_bytes": part["size"]}
        )
        digest.update(bytes.fromhex(etag))
    s3_etag = f"{digest.hexdigest()}-{len(wanted)}"
    from onestack.object.middleware import large

    headers = {
        k.lower(): v for k, v in upload_meta.items() if k.lower().startswith("x-object-meta-")
    }
    headers["content-type"] = upload_meta.get("Content-Type", "application/octet-stream")
    sub = req.derive("PUT", headers=headers, params={})
    info = s3.storage.container_info(account, bucket)
    if info is None:
        raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
    await large.slo_put(
        s3.proxy.objects,
        sub,
        account,
        bucket,
        key,
        info,
        raw=orjson.dumps(manifest),
        extra={"X-Object-Sysmeta-S3api-Etag": s3_etag},
        min_segment=0,
    )
    # parts not in the manifest go; the upload record goes
    used = {n for n, _ in wanted}
    for number, part in have.items():
        if number not in used:
            s3.proxy.objects.remove(account, segments, part["name"], timestamps.now())
    s3.proxy.objects.remove(account, segments, marker, timestamps.now())
    return xml(
        f'<CompleteMultipartUploadResult xmlns="{NS}"><Location>/{_e(bucket)}/'
        f"{_e(key)}</Location><Bucket>{_e(bucket)}</Bucket><Key>{_e(key)}</Key>"
        f"<ETag>&quot;{s3_etag}&quot;</ETag></CompleteMultipartUploadResult>"
    )


async def _remove_parts(s3: S3Controller, account: str, segments: str, marker: str) -> None:
    for part in _parts(s3, account, segments, marker):
        s3.proxy.objects.remove(account, segments, part["name"], timestamps.now())


async def list_uploads(s3: S3Controller, req: Request, account: str, bucket: str) -> Response:
    broker = s3.storage.container_broker(account, bucket + SEGMENTS)
    uploads = []
    prefix = req.params.get("prefix", "")
    if broker is not None:
        marker = ""
        while rows := broker.list_objects(limit=10000, marker=marker, prefix=prefix):
            for row in rows:
                key, _, upload_id = row["name"].rpartition("/")
                if len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id):
                    uploads.append((key, upload_id, row["created_at"]))
            marker = rows[-1]["name"]
    owner = account[5:]
    body = "".join(
        f"<Upload><Key>{_e(k)}</Key><UploadId>{u}</UploadId><Initiator><ID>{owner}</ID>"
        f"<DisplayName>{owner}</DisplayName></Initiator><Owner><ID>{owner}</ID><DisplayName>"
        f"{owner}</DisplayName></Owner><StorageClass>STANDARD</StorageClass><Initiated>"
        f"{iso(ts)}</Initiated></Upload>"
        for k, u, ts in uploads[:1000]
    )
    return xml(
        f'<ListMultipartUploadsResult xmlns="{NS}"><Bucket>{_e(bucket)}</Bucket>'
        f"<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000"
        f"</MaxUploads><IsTruncated>false</IsTruncated>{body}"
        "</ListMultipartUploadsResult>"
    )
