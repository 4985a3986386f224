"""S3 request signatures (AWS SigV4 and SigV2, header or query-string presigned): the string
to sign is rebuilt here from the request; Identity's ``/v3/s3tokens`` checks it against the
secret of the EC2 credential the access key names and answers with a token, as Swift's s3api
and s3token middlewares do with Keystone."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from onestack.object.middleware import s3chunked
from onestack.object.proxy.http import App, Request

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from onestack.object.service import ObjectService

#: sub-resources that are part of a SigV2 canonical resource
V2_SUBRESOURCES = {
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
}
MAX_SKEW = 900


class S3AuthError(Exception):
    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Signed:
    access: str
    signature: str
    string_to_sign: str
    payload_sha256: str | None  # the hash SigV4 promises for the body, when it is one


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _raw_path(req: Request) -> str:
    override = req.environ.get("s3_path")
    if override is not None:
        return str(override)
    raw = req.scope.get("raw_path") or req.scope["path"].encode()
    return raw.split(b"?", 1)[0].decode("latin-1")


def vhost_bucket(req: Request, domains: list[str]) -> str | None:
    """The bucket of a virtual-host-style request (``Host: BUCKET.<storage domain>``)."""
    host = (req.header("host") or "").rsplit(":", 1)[0].lower() if req.header("host") else ""
    if host.startswith("["):
        return None
    for domain in domains:
        suffix = "." + domain.lower().strip(".")
        if host.endswith(suffix) and len(host) > len(suffix):
            return host[: -len(suffix)]
    return None


def is_s3(req: Request) -> bool:
    auth = req.header("authorization") or ""
    return auth.startswith(("AWS4-HMAC-SHA256 ", "AWS ")) or (
        "X-Amz-Credential" in req.params
        or ("AWSAccessKeyId" in req.params and "Signature" in req.params)
    )


def parse(req: Request) -> Signed:
    auth = req.header("authorization") or ""
    if auth.startswith("AWS4-HMAC-SHA256 "):
        fields = dict(
            part.strip().split("=", 1)
            for part in auth[len("AWS4-HMAC-SHA256 ") :].split(",")
            if "=" in part
        )
        try:
            credential = fields["Credential"]
            signed_headers = fields["SignedHeaders"]
            signature = fields["Signature"]
        except KeyError:
            raise S3AuthError(
                "AuthorizationHeaderMalformed", "The authorization header is malformed.", 400
            ) from None
        amz_date = req.header("x-amz-date") or ""
        payload = req.header("x-amz-content-sha256")
        if payload is None:
            raise S3AuthError(
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
                400,
            )
        _check_time(amz_date)
        return _v4(req, credential, signed_headers, signature, amz_date, payload, query=None)
    if auth.startswith("AWS "):
        access, _, signature = auth[4:].partition(":")
        date = req.header("date") or req.header("x-amz-date") or ""
        if not date:
            raise S3AuthError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            )
        return Signed(access, signature, _v2_string(req, date_header=True), None)
    if "X-Amz-Credential" in req.params:
        credential = req.params["X-Amz-Credential"]
        amz_date = req.params.get("X-Amz-Date", "")
        expires_text = req.params.get("X-Amz-Expires", "0") or "0"
        if not expires_text.isdigit():
            raise S3AuthError(
                "AuthorizationQueryParametersError", "X-Amz-Expires should be a number", 400
            )
        expires = int(expires_text)
        try:
            start = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise S3AuthError("AccessDenied", "X-Amz-Date must be in the ISO8601 format") from None
        if start.timestamp() + expires < time.time():
            raise S3AuthError("AccessDenied", "Request has expired")
        query = {k: v for k, v in req.params.items() if k != "X-Amz-Signature"}
        return _v4(
            req,
            credential,
            req.params.get("X-Amz-SignedHeaders", "host"),
            req.params.get("X-Amz-Signature", ""),
            amz_date,
            "UNSIGNED-PAYLOAD",
            query=query,
        )
    expires = req.params.get("Expires", "0")
    if not expires.isdigit() or int(expires) < time.time():
        raise S3AuthError("AccessDenied", "Request has expired")
    return Signed(
        req.params["AWSAccessKeyId"],
        req.params["Signature"],
        _v2_string(req, date_header=False, expires=expires),
        None,
    )


def _check_time(amz_date: str) -> None:
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise S3AuthError(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        ) from None
    if abs(when.timestamp() - time.time()) > MAX_SKEW:
        raise S3AuthError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )


def _v4(
    req: Request,
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: str,
    payload: str,
    query: dict[str, str] | None,
) -> Signed:
    access, _, scope = credential.partition("/")
    if query is None:
        pairs = parse_qsl(req.query_string, keep_blank_values=True)
    else:
        pairs = list(query.items())
    canonical_query = "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(pairs))
    names = signed_headers.split(";")
    lines = []
    for name in names:
        value = req.headers.get(name.lower(), "")
        lines.append(f"{name.lower()}:{' '.join(value.split())}\n")
    canonical = "\n".join(
        [
            req.method,
            _raw_path(req),
            canonical_query,
            "".join(lines),
            signed_headers,
            payload,
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    body_hash = payload if len(payload) == 64 else None
    return Signed(access, signature, string_to_sign, body_hash)


def _v2_string(req: Request, *, date_header: bool, expires: str = "") -> str:
    amz = sorted((k, " ".join(v.split())) for k, v in req.headers.items() if k.startswith("x-amz-"))
    date = expires
    if date_header:
        date = "" if "x-amz-date" in req.headers else req.header("date", "") or ""
    sub = sorted(
        (k, v)
        for k, v in parse_qsl(req.query_string, keep_blank_values=True)
        if k in V2_SUBRESOURCES
    )
    resource = _raw_path(req)
    root = req.scope.get("root_path", "")
    if req.environ.get("s3_path") is None and root and resource.startswith(root):
        resource = resource[len(root) :] or "/"  # SigV2 signs /bucket/key, not the mount
    if req.environ.get("s3_bucket"):  # a virtual-host request signs its bucket too
        resource = f"/{req.environ['s3_bucket']}{resource}"
    if sub:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
    return "\n".join(
        [
            req.method,
            req.header("content-md5", "") or "",
            req.header("content-type", "") or "",
            date,
            *[f"{k}:{v}" for k, v in amz],
            resource,
        ]
    )


class S3AuthMiddleware:
    """Turns a signed S3 request into a Keystone token (X-Auth-Token) for the rest of the
    pipeline; the dispatcher then answers it in the S3 dialect."""

    def __init__(self, app: App, service: ObjectService):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        if not is_s3(req):
            await self.app(scope, receive, send)
            return
        from onestack.object.middleware import s3api

        bucket = vhost_bucket(req, self.service.conf.storage_domain)
        if bucket is not None:
            req.environ["s3_bucket"] = bucket
        try:
            signed = parse(req)
            try:
                token, project_id, user_id = await self.token_for(signed)
            except S3AuthError:
                alternative = self._alternative_path(req, signed)
                if alternative is None:
                    raise
                req.environ["s3_path"] = alternative
                signed = parse(req)
                token, project_id, user_id = await self.token_for(signed)
            chunked = None
            if req.header("x-amz-content-sha256") == s3chunked.STREAMING:
                chunked = await self.chunk_signer(signed, token, user_id)
        except S3AuthError as exc:
            await s3api.error(req, exc.status, exc.code, exc.message)(scope, receive, send)
            return
        req.headers["x-auth-token"] = token
        req.headers.pop("x-service-token", None)
        req.environ["s3"] = {
            "account": f"AUTH_{project_id}",
            "payload": signed.payload_sha256,
            "chunked": chunked,
        }
        await self.app(scope, receive, send)

    @staticmethod
    def _alternative_path(req: Request, signed: Signed) -> str | None:
        """The other spelling of a path clients sign differently: the bare mount prefix
        (which reaches us as ``/object-store/``) in SigV4, ``/bucket/`` in SigV2."""
        root = req.scope.get("root_path", "")
        raw = _raw_path(req)
        if signed.string_to_sign.startswith("AWS4-HMAC-SHA256\n"):
            return root if root and raw == root + "/" else None
        relative = raw[len(root) :] if root and raw.startswith(root) else raw
        if relative == "/" and root:
            return root
        if relative.count("/") == 1 and len(relative) > 1:
            return relative + "/"
        return None

    async def token_for(self, signed: Signed) -> tuple[str, str, str]:
        """(token, project id, user id) for a signed request, from Keystone's s3tokens."""
        clients = self.service.platform.clients
        body = {
            "credentials": {
                "access": signed.access,
                "signature": signed.signature,
                "token": base64.b64encode(signed.string_to_sign.encode()).decode(),
            }
        }
        resp = await clients.http.post(f"{clients.auth_url}/v3/s3tokens", json=body)
        if resp.status_code != 200:
            message = resp.json().get("error", {}).get("message", "") if resp.content else ""
            if "not known" in message:
                raise S3AuthError(
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                )
            raise S3AuthError(
                "SignatureDoesNotMatch",
                "The request signature we calculated "
                "does not match the signature you provided. Check your key and "
                "signing method.",
            )
        body = resp.json()["token"]
        project = body.get("project") or {}
        user = body.get("user") or {}
        return resp.headers["x-subject-token"], project.get("id", ""), user.get("id", "")

    async def chunk_signer(self, signed: Signed, token: str, user_id: str) -> s3chunked.ChunkSigner:
        """What an aws-chunked body's frames are checked with: the signing key comes from the
        credential's secret, which the signer (the credential's owner) may read."""
        clients = self.service.platform.clients
        lines = signed.string_to_sign.split("\n")
        if len(lines) != 4 or lines[0] != "AWS4-HMAC-SHA256":
            raise S3AuthError("InvalidRequest", "aws-chunked bodies need a SigV4 signature", 400)
        resp = await clients.http.get(
            f"{clients.auth_url}/v3/users/{user_id}/credentials/OS-EC2/{signed.access}",
            headers={"X-Auth-Token": token},
        )
        if resp.status_code != 200:
            raise S3AuthError("AccessDenied", "The credential's secret is not readable")
        secret = resp.json()["credential"]["secret"]
        return s3chunked.ChunkSigner(
            s3chunked.signing_key(secret, lines[2]), lines[1], lines[2], signed.signature
        )
