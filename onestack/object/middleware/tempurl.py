"""TempURL: ``?temp_url_sig=...&temp_url_expires=...`` grants one method on one object (or a
prefix, with ``temp_url_prefix``) without a token, signed with an account or container
``Temp-URL-Key`` (HMAC-SHA1, SHA256 or SHA512; hex or ``<algo>:<base64>`` signatures)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import datetime
from typing import TYPE_CHECKING

from onestack.object.proxy.http import App, HTTPError, Request

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from onestack.object.service import ObjectService

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
INVALID = "401 Unauthorized: Temp URL invalid\n"


def parse_expires(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").timestamp() - time.timezone)
    except ValueError:
        return None


def signature(key: str, method: str, expires: str, path: str, algo: str) -> str:
    body = f"{method}\n{expires}\n{path}"
    return hmac.new(key.encode(), body.encode(), DIGESTS[algo]).hexdigest()


def _given(sig: str) -> tuple[str, str] | None:
    """(algorithm, hex digest) of a signature parameter."""
    if ":" in sig:
        algo, _, b64 = sig.partition(":")
        if algo not in DIGESTS:
            return None
        try:
            raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            return None
        return algo, raw.hex()
    algo = HEX_LENGTHS.get(len(sig))
    return (algo, sig.lower()) if algo else None


class TempURLMiddleware:
    def __init__(self, app: App, service: ObjectService):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        sig = req.param("temp_url_sig")
        if sig is None or req.method not in METHODS:
            await self.app(scope, receive, send)
            return
        if not self._valid(req, sig):
            raise HTTPError(401, INVALID)
        req.environ["authorize_override"] = True
        req.environ["identity_tempurl"] = True
        # a temp URL is no token: whatever token came with it does not count
        req.headers.pop("x-auth-token", None)
        await self.app(scope, receive, self._with_disposition(req, send))

    def _with_disposition(self, req: Request, send: Send) -> Send:
        if req.method != "GET":
            return send
        filename = req.param("filename")
        inline = "inline" in req.params
        name = filename or req.path.decode("utf-8", "replace").rsplit("/", 1)[-1]
        value = ("inline" if inline else "attachment") + (
            f'; filename="{name}"' if filename or not inline else ""
        )

        async def sending(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                message["headers"] = [
                    h for h in message["headers"] if h[0] != b"content-disposition"
                ] + [(b"content-disposition", value.encode("utf-8", "replace"))]
            await send(message)

        return sending  # type: ignore[return-value]

    def _valid(self, req: Request, sig: str) -> bool:
        expires_text = req.param("temp_url_expires") or ""
        expires = parse_expires(expires_text)
        if expires is None or expires < time.time():
            return False
        parts = req.path.decode("utf-8", "replace").split("/", 4)
        if len(parts) < 5 or not parts[4]:
            return False
        _, version, account, container, obj = parts
        prefix = req.param("temp_url_prefix")
        if prefix is not None:
            if not obj.startswith(prefix):
                return False
            path = f"/{version}/{account}/{container}/{prefix}"
        else:
            path = f"/{version}/{account}/{container}/{obj}"
        # signed as Swift signs it (/v1/...), or with the mount prefix the client sees
        root = req.scope.get("root_path", "")
        paths = [path, root + path] if root else [path]
        if prefix is not None:
            paths = ["prefix:" + p for p in paths]
        given = _given(sig)
        if given is None:
            return False
        algo, digest = given
        if algo not in self.service.conf.tempurl_digests:
            return False
        keys = self._keys(account, container)
        methods = ("GET", "HEAD") if req.method == "HEAD" else (req.method,)
        return any(
            hmac.compare_digest(signature(key, method, expires_text, path, algo), digest)
            for key in keys
            for method in methods
            for path in paths
        )

    def _keys(self, account: str, container: str) -> list[str]:
        keys = []
        storage = self.service.storage
        acc = storage.cached_info(account)
        if acc is not None:
            keys += [
                acc.metadata.get(k, "")
                for k in ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
            ]
        info = storage.cached_info(account, container)
        if info is not None:
            keys += [
                info.metadata.get(k, "")
                for k in ("x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2")
            ]
        return [k for k in keys if k]
