"""The S3 API over the Swift one (as Swift's s3api): buckets are containers, keys objects,
multipart uploads SLOs whose parts live in ``<bucket>+segments``; answers and errors in S3's
XML. Signatures are checked before (``s3auth``); here every operation runs as the Swift
request it maps to, through the same authorization."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

import orjson

from onestack.object import timestamps
from onestack.object.middleware import object_versioning, s3features
from onestack.object.proxy.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from onestack.object.proxy.app import Dispatcher

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
SEGMENTS = "+segments"
CODES = {
    400: "InvalidArgument",
    401: "AccessDenied",
    403: "AccessDenied",
    404: "NoSuchKey",
    405: "MethodNotAllowed",
    409: "BucketNotEmpty",
    411: "MissingContentLength",
    412: "PreconditionFailed",
    413: "EntityTooLarge",
    416: "InvalidRange",
    422: "BadDigest",
    499: "RequestTimeout",
    501: "NotImplemented",
    503: "ServiceUnavailable",
}


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str = ""):
        super().__init__(message or code)
        self.status, self.code, self.message = status, code, message or code


def error(req: Request, status: int, code: str, message: str) -> Response:
    resource = escape(req.path.decode("utf-8", "replace"))
    tx = req.environ.get("trans_id", "")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message><Resource>{resource}</Resource>"
        f"<RequestId>{tx}</RequestId></Error>"
    )
    return Response(status, body, {"x-amz-request-id": tx}, content_type="application/xml")


def xml(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        '<?xml version="1.0" encoding="UTF-8"?>\n' + body,
        headers,
        content_type="application/xml",
    )


def iso(ts: str | float) -> str:
    return timestamps.iso(ts)[:23] + "Z"


def _e(value: Any) -> str:
    return escape(str(value))


class S3Controller:
    def __init__(self, proxy: Dispatcher):
        self.proxy = proxy
        self.storage = proxy.service.storage

    async def handle(self, req: Request) -> Response:
        try:
            return await self._route(req)
        except S3Error as exc:
            return error(req, exc.status, exc.code, exc.message)
        except HTTPError as exc:
            code = CODES.get(exc.status, "InternalError")
            message = exc.body.decode() if isinstance(exc.body, bytes) else (exc.body or code)
            return error(req, exc.status if exc.status != 401 else 403, code, message.strip())

    # -- routing ---------------------------------------------------------------------------
    async def _route(self, req: Request) -> Response:
        account = req.environ["s3"]["account"]
        path = req.path.decode("utf-8", "surrogateescape")
        bucket, _, key = path.lstrip("/").partition("/")
        if req.environ.get("s3_bucket"):  # virtual-host style: the path is the key
            bucket, key = req.environ["s3_bucket"], path.lstrip("/")
        if "\x00" in path or "\udcff" in path:
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.")
        if not bucket:
            if req.method != "GET":
                raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")
            return await self.list_buckets(req, account)
        if not key:
            return await self.bucket(req, account, bucket)
        return await self.object(req, account, bucket, key)

    async def swift(
        self,
        req: Request,
        method: str,
        account: str,
        container: str,
        obj: str = "",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        path = f"/v1/{account}/{container}" + (f"/{obj}" if obj else "")
        sub = req.derive(
            method,
            path.encode(),
            headers=headers if headers is not None else {},
            params=params or {},
        )
        if obj:
            return await self.proxy.objects.handle(sub, account, container, obj)
        return await self.proxy.containers.handle(sub, account, container)

    # -- service / buckets -----------------------------------------------------------------
    async def list_buckets(self, req: Request, account: str) -> Response:
        sub = req.derive("GET", f"/v1/{account}".encode(), headers={}, params={"format": "json"})
        resp = await self.proxy.accounts.handle(sub, account)
        rows = orjson.loads(resp.body) if resp.status == 200 else []
        owner = account[5:]
        buckets = "".join(
            f"<Bucket><Name>{_e(r['name'])}</Name><CreationDate>{r['last_modified'][:23]}Z"
            "</CreationDate></Bucket>"
            for r in rows
            if not r["name"].endswith(SEGMENTS)
        )
        return xml(
            f'<ListAllMyBucketsResult xmlns="{NS}"><Owner><ID>{owner}</ID>'
            f"<DisplayName>{owner}</DisplayName></Owner><Buckets>{buckets}</Buckets>"
            "</ListAllMyBucketsResult>"
        )

    async def bucket(self, req: Request, account: str, bucket: str) -> Response:
        params = req.params
        method = req.method
        if len(bucket) < 3 or len(bucket) > 63 or "/" in bucket:
            raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.")
        if "tagging" in params:
            return await s3features.bucket_tagging(self, req, account, bucket)
        if "lifecycle" in params:
            return await s3features.bucket_lifecycle(self, req, account, bucket)
        if method == "PUT":
            if "acl" in params:
                return await self.put_bucket_acl(req, account, bucket)
            if "versioning" in params:
                await self._bucket_info(req, account, bucket)
                return await s3features.put_versioning(self, req, account, bucket)
            if params:
                raise S3Error(501, "NotImplemented", "This bucket operation is not supported.")
            headers = self._acl_headers(req)
            resp = await self.swift(req, "PUT", account, bucket, headers=headers)
            if resp.status == 202:
                raise S3Error(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create "
                    "the named bucket succeeded and you already own it.",
                )
            return Response(200, b"", {"Location": f"/{bucket}"})
        if method == "HEAD":
            await self._bucket_info(req, account, bucket)
            return Response(200)
        if method == "DELETE":
            await self._bucket_info(req, account, bucket)
            try:
                await self.swift(req, "DELETE", account, bucket)
            except HTTPError as exc:
                if exc.status == 409:
                    raise S3Error(
                        409, "BucketNotEmpty", "The bucket you tried to delete is not empty"
                    ) from None
                raise
            return Response(204)
        if method == "POST" and "delete" in params:
            return await self.multi_delete(req, account, bucket)
        if method != "GET":
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")
        await self._bucket_info(req, account, bucket)
        if "location" in params:
            return xml(f'<LocationConstraint xmlns="{NS}"></LocationConstraint>')
        if "versioning" in params:
            return s3features.get_versioning(self, account, bucket)
        if "versions" in params:
            return await s3features.list_versions(self, req, account, bucket)
        if "acl" in params:
            return await self.get_acl(req, account, bucket)
        if "uploads" in params:
            return await self.list_uploads(req, account, bucket)
        if set(params) & {
            "cors",
            "policy",
            "website",
            "logging",
            "notification",
            "replication",
            "encryption",
        }:
            raise S3Error(501, "NotImplemented", "This bucket operation is not supported.")
        return await self.list_objects(req, account, bucket)

    async def _bucket_info(self, req: Request, account: str, bucket: str) -> None:
        try:
            await self.swift(req, "HEAD", account, bucket)
        except HTTPError as exc:
            if exc.status == 404:
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist") from None
            raise

    def _acl_headers(self, req: Request) -> dict[str, str]:
        acl = req.header("x-amz-acl")
        if acl in (None, "private"):
            return {"x-container-read": ""} if acl else {}
        if acl in ("public-read", "public-read-write"):
            headers = {"x-container-read": ".r:*,.rlistings"}
            return headers
        if acl == "authenticated-read":
            return {"x-container-read": "*:*"}
        raise S3Error(400, "InvalidArgument", f"Unsupported canned ACL: {acl}")

    async def put_bucket_acl(self, req: Request, account: str, bucket: str) -> Response:
        await self._bucket_info(req, account, bucket)
        headers = self._acl_headers(req) or {"x-container-read": ""}
        await self.swift(req, "POST", account, bucket, headers=headers)
        return Response(200)

    async def get_acl(self, req: Request, account: str, bucket: str) -> Response:
        owner = account[5:]
        grants = (
            f'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:type="CanonicalUser"><ID>{owner}</ID><DisplayName>{owner}'
            "</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>"
        )
        info = self.storage.container_info(account, bucket)
        if info is not None and ".r:*" in info.metadata.get("x-container-read", ""):
            grants += (
                '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers'
                "</URI></Grantee><Permission>READ</Permission></Grant>"
            )
        return xml(
            f'<AccessControlPolicy xmlns="{NS}"><Owner><ID>{owner}</ID><DisplayName>'
            f"{owner}</DisplayName></Owner><AccessControlList>{grants}"
            "</AccessControlList></AccessControlPolicy>"
        )

    async def list_objects(self, req: Request, account: str, bucket: str) -> Response:
        p = req.params
        v2 = p.get("list-type") == "2"
        try:
            max_keys = int(p.get("max-keys", "1000"))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "Provided max-keys not an integer") from None
        if max_keys < 0:
            raise S3Error(400, "InvalidArgument", "max-keys must be non-negative")
        max_keys = min(max_keys, 1000)
        prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
        if v2:
            token = p.get("continuation-token")
            try:
                marker = (
                    base64.urlsafe_b64decode(token.encode()).decode()
                    if token
                    else p.get("start-after", "")
                )
            except (binascii.Error, UnicodeDecodeError):
                raise S3Error(
                    400, "InvalidArgument", "The continuation token is not valid."
                ) from None
        else:
            marker = p.get("marker", "")
        query = {
            "format": "json",
            "limit": str(max_keys + 1),
            "marker": marker,
            "prefix": prefix,
            "delimiter": delimiter,
        }
        resp = await self.swift(req, "GET", account, bucket, params=query)
        rows = orjson.loads(resp.body) if resp.status == 200 else []
        truncated = len(rows) > max_keys
        rows = rows[:max_keys]
        encode = p.get("encoding-type") == "url"

        def enc(value: str) -> str:
            return _e(quote(value, safe="/") if encode else value)

        owner = account[5:]
        parts = []
        for row in rows:
            if "subdir" in row:
                parts.append(
                    f"<CommonPrefixes><Prefix>{enc(row['subdir'])}</Prefix></CommonPrefixes>"
                )
                continue
            etag = row.get("s3_etag") or row["hash"]
            owner_xml = (
                f"<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner>"
                if not v2 or p.get("fetch-owner") == "true"
                else ""
            )
            parts.append(
                f"<Contents><Key>{enc(row['name'])}</Key><LastModified>"
                f"{row['last_modified'][:23]}Z</LastModified><ETag>&quot;{etag}"
                f"&quot;</ETag><Size>{row['bytes']}</Size>{owner_xml}"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        last = (rows[-1].get("name") or rows[-1].get("subdir")) if rows else ""
        head = [f"<Name>{_e(bucket)}</Name>", f"<Prefix>{enc(prefix)}</Prefix>"]
        if v2:
            head.append(f"<KeyCount>{len(rows)}</KeyCount>")
            if p.get("continuation-token"):
                head.append(f"<ContinuationToken>{_e(p['continuation-token'])}</ContinuationToken>")
            if p.get("start-after"):
                head.append(f"<StartAfter>{enc(p['start-after'])}</StartAfter>")
            if truncated:
                token = base64.urlsafe_b64encode(last.encode()).decode()
                head.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
        else:
            head.append(f"<Marker>{enc(marker)}</Marker>")
            if truncated and delimiter:
                head.append(f"<NextMarker>{enc(last)}</NextMarker>")
        head.append(f"<MaxKeys>{max_keys}</MaxKeys>")
        if delimiter:
            head.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
        if encode:
            head.append("<EncodingType>url</EncodingType>")
        head.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        return xml(
            f'<ListBucketResult xmlns="{NS}">{"".join(head)}{"".join(parts)}</ListBucketResult>'
        )

    async def multi_delete(self, req: Request, account: str, bucket: str) -> Response:
        raw = await req.body(2 * 1024 * 1024)
        md5 = req.header("content-md5")
        if md5 and base64.b64encode(hashlib.md5(raw).digest()).decode() != md5:
            raise S3Error(
                400, "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed") from None
        quiet = (root.findtext(f"{{{NS}}}Quiet") or root.findtext("Quiet") or "") == "true"
        keys = [
            o.findtext(f"{{{NS}}}Key") or o.findtext("Key") or ""
            for o in list(root)
            if o.tag.endswith("Object")
        ]
        if len(keys) > 1000:
            raise S3Error(400, "MalformedXML", "At most 1000 keys per request")
        out = []
        for key in keys:
            try:
                await self.delete_object(req, account, bucket, key)
                if not quiet:
                    out.append(f"<Deleted><Key>{_e(key)}</Key></Deleted>")
            except HTTPError as exc:
                out.append(
                    f"<Error><Key>{_e(key)}</Key><Code>"
                    f"{CODES.get(exc.status, 'InternalError')}</Code><Message>"
                    f"{exc.status}</Message></Error>"
                )
        return xml(f'<DeleteResult xmlns="{NS}">{"".join(out)}</DeleteResult>')

    # -- objects ---------------------------------------------------------------------------
    async def object(self, req: Request, account: str, bucket: str, key: str) -> Response:
        params = req.params
        method = req.method
        if "uploadId" in params or "uploads" in params:
            from onestack.object.middleware import s3multipart

            return await s3multipart.handle(self, req, account, bucket, key)
        if "acl" in params:
            if method == "GET":
                await self._bucket_info(req, account, bucket)
                return await self.get_acl(req, account, bucket)
            raise S3Error(501, "NotImplemented", "Object ACLs are not supported.")
        if "tagging" in params:
            return await s3features.object_tagging(self, req, account, bucket, key)
        if set(params) & {"retention", "legal-hold", "torrent", "restore", "select"}:
            raise S3Error(501, "NotImplemented", "This object operation is not supported.")
        if method == "PUT":
            if req.header("x-amz-copy-source"):
                return await self.copy(req, account, bucket, key)
            return await self.put(req, account, bucket, key)
        if method in ("GET", "HEAD"):
            return await self.get(req, account, bucket, key)
        if method == "DELETE":
            await self._bucket_info(req, account, bucket)
            return Response(204, b"", await self.delete_object(req, account, bucket, key))
        raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")

    def swift_headers(self, req: Request) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in req.headers.items():
            if name.startswith("x-amz-meta-"):
                headers["x-object-meta-" + name[len("x-amz-meta-") :]] = value
            elif name in (
                "content-type",
                "content-length",
                "content-disposition",
                "content-encoding",
                "transfer-encoding",
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
                "range",
            ):
                headers[name] = value
        return headers

    async def put(self, req: Request, account: str, bucket: str, key: str) -> Response:
        await self._bucket_info(req, account, bucket)
        headers = self.swift_headers(req)
        md5 = req.header("content-md5")
        if md5:
            try:
                headers["etag"] = base64.b64decode(md5, validate=True).hex()
            except (binascii.Error, ValueError):
                raise S3Error(
                    400, "InvalidDigest", "The Content-MD5 you specified was invalid."
                ) from None
        tags = s3features.parse_tag_header(req.header("x-amz-tagging") or "")
        sub = req.derive("PUT", headers=headers, params={})
        sub.receive = self._checked_receive(req)
        if req.environ["s3"].get("chunked") is not None:
            self._chunked_body(req, sub, headers)
        resp = await self.proxy.objects.handle(sub, account, bucket, key)
        if tags:
            s3features.set_object_tags(self, account, bucket, key, tags)
        out = {"ETag": f'"{resp.headers.get("Etag", "")}"'}
        if resp.headers.get("X-Object-Version-Id"):
            out["x-amz-version-id"] = resp.headers["X-Object-Version-Id"]
        return Response(200, b"", out)

    def _chunked_body(self, req: Request, sub: Request, headers: dict[str, str]) -> None:
        """An aws-chunked body: decoded (every frame's signature checked) as it arrives; its
        length is ``x-amz-decoded-content-length``."""
        from onestack.object.middleware import s3chunked

        decoded = req.header("x-amz-decoded-content-length") or ""
        if not decoded.isdigit():
            raise S3Error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        headers["content-length"] = decoded
        headers.pop("transfer-encoding", None)
        encodings = [
            e.strip()
            for e in headers.pop("content-encoding", "").split(",")
            if e.strip() and e.strip() != "aws-chunked"
        ]
        if encodings:
            headers["content-encoding"] = ",".join(encodings)
        sub.headers = headers
        inner = s3chunked.decoding_receive(req.receive, req.environ["s3"]["chunked"])

        async def receive() -> Any:
            try:
                return await inner()
            except s3chunked.ChunkedBodyError as exc:
                raise S3Error(exc.status, exc.code, exc.message) from None

        sub.receive = receive

    def _checked_receive(self, req: Request) -> Any:
        """The body as it comes, its SHA-256 checked against the signed one at its end (a
        mismatch fails the upload before anything is committed)."""
        want = req.environ["s3"].get("payload")
        receive = req.receive
        if not want:
            return receive
        digest = hashlib.sha256()

        async def checked() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                digest.update(message.get("body", b""))
                if not message.get("more_body", False) and digest.hexdigest() != want:
                    raise S3Error(
                        400,
                        "XAmzContentSHA256Mismatch",
                        "The provided "
                        "'x-amz-content-sha256' header does not match what was "
                        "computed.",
                    )
            return message

        return checked

    async def get(self, req: Request, account: str, bucket: str, key: str) -> Response:
        await self._bucket_info(req, account, bucket)
        headers = self.swift_headers(req)
        version = self._version_param(req, account, bucket)
        sub = req.derive(req.method, headers=headers, params=version)
        try:
            resp = await self.proxy.objects.handle(sub, account, bucket, key)
        except HTTPError as exc:
            if exc.status == 404 and version:
                raise S3Error(
                    404, "NoSuchVersion", "The specified version does not exist."
                ) from None
            if exc.status == 404:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.") from None
            if exc.status == 304:
                raise
            raise
        out: dict[str, str] = {}
        for name, value in resp.headers.items():
            lower = name.lower()
            if lower.startswith("x-object-meta-"):
                out["x-amz-meta-" + lower[len("x-object-meta-") :]] = value
            elif lower in (
                "content-type",
                "content-length",
                "content-range",
                "last-modified",
                "content-disposition",
                "content-encoding",
                "accept-ranges",
            ):
                out[name] = value
        if resp.headers.get("X-Object-Version-Id"):
            out["x-amz-version-id"] = resp.headers["X-Object-Version-Id"]
        etag = resp.headers.get("Etag", "").strip('"')
        found = self.proxy.objects.find(account, bucket, key)
        if found is not None and found.metadata.get(s3features.TAGGING):
            out["x-amz-tagging-count"] = str(len(s3features.object_tags(found.metadata)))
        if found is not None and found.metadata.get("X-Object-Sysmeta-S3api-Etag"):
            etag = found.metadata["X-Object-Sysmeta-S3api-Etag"]
        if etag:
            out["ETag"] = f'"{etag}"'
        for name, value in req.params.items():
            if name.startswith("response-") and name[9:] in (
                "content-type",
                "content-disposition",
                "content-encoding",
                "content-language",
                "cache-control",
                "expires",
            ):
                out[name[9:].title()] = value
        if resp.status in (304, 412):
            if resp.status == 412:
                raise S3Error(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                )
            return Response(304, b"", {"ETag": out.get("ETag", "")})
        return (
            Response(resp.status, headers=out, stream=resp.stream)
            if resp.stream
            else Response(resp.status, resp.body, out)
        )

    def _version_param(self, req: Request, account: str, bucket: str) -> dict[str, str]:
        """``versionId`` as Swift's ``version-id`` (``null`` of a never versioned bucket is
        simply the object)."""
        version = req.param("versionId")
        if version is None:
            return {}
        info = self.storage.container_info(account, bucket)
        if version == "null" and object_versioning.state(info) is None:
            return {}
        if object_versioning.state(info) is None:
            raise S3Error(400, "InvalidArgument", "Invalid version id specified")
        return {"version-id": version}

    async def delete_object(
        self, req: Request, account: str, bucket: str, key: str
    ) -> dict[str, str]:
        """Delete (a version of) the object; the version headers of the answer."""
        params = self._version_param(req, account, bucket)
        found = self.proxy.objects.find(account, bucket, key)
        if not params and found is not None and found.metadata.get("X-Static-Large-Object"):
            params = {"multipart-manifest": "delete"}
        try:
            resp = await self.swift(req, "DELETE", account, bucket, key, params=params)
        except HTTPError as exc:
            if exc.status != 404:
                raise
            return {}
        out = {}
        version = resp.headers.get("X-Object-Version-Id")
        if version and version != "null":
            out["x-amz-version-id"] = version
            if not params:
                out["x-amz-delete-marker"] = "true"
        return out

    async def copy(self, req: Request, account: str, bucket: str, key: str) -> Response:
        await self._bucket_info(req, account, bucket)
        source = unquote(req.header("x-amz-copy-source") or "").split("?", 1)[0].lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        if not src_bucket or not src_key:
            raise S3Error(
                400,
                "InvalidArgument",
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        directive = (req.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error(400, "InvalidArgument", "Unknown metadata directive.")
        if (src_bucket, src_key) == (bucket, key) and directive == "COPY":
            raise S3Error(
                400,
                "InvalidRequest",
                "This copy request is illegal because it is "
                "trying to copy an object to itself without changing the object's "
                "metadata.",
            )
        headers = {"x-copy-from": f"/{src_bucket}/{src_key}", "content-length": "0"}
        if directive == "REPLACE":
            headers.update(self.swift_headers(req))
            headers["content-length"] = "0"
            headers["x-fresh-metadata"] = "true"
        for cond in ("match", "none-match", "modified-since", "unmodified-since"):
            value = req.header(f"x-amz-copy-source-if-{cond}")
            if value is not None:
                found = self.proxy.objects.find(account, src_bucket, src_key)
                if found is None:
                    raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
                from onestack.object.proxy.ranges import check_conditions

                status = check_conditions({f"if-{cond}": value}, found.etag, found.timestamp, {})
                if status is not None:
                    raise S3Error(
                        412,
                        "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold",
                    )
        sub = req.derive("PUT", headers=headers, params={})
        try:
            resp = await self.proxy.objects.handle(sub, account, bucket, key)
        except HTTPError as exc:
            if exc.status == 404:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.") from None
            raise
        etag = resp.headers.get("Etag", "")
        return xml(
            f'<CopyObjectResult xmlns="{NS}"><LastModified>{iso(timestamps.now())}'
            f"</LastModified><ETag>&quot;{etag}&quot;</ETag></CopyObjectResult>"
        )

    async def put_raw(
        self, account: str, container: str, obj: str, data: bytes, metadata: dict[str, str]
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield data

        await self.proxy.objects.write(
            account, container, obj, chunks(), metadata, length=len(data)
        )


def new_upload_id() -> str:
    return uuid.uuid4().hex
