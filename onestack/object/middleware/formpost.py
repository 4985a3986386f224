"""FormPost: a browser uploads files straight into a container with an HTML form signed by
the account's or container's Temp-URL-Key: ``HMAC(key, path\\nredirect\\nmax_file_size\\n
max_file_count\\nexpires)``; files become objects under the signed path's prefix."""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from onestack.object.middleware.tempurl import DIGESTS, _given
from onestack.object.proxy.http import App, HTTPError, Request, Response

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from onestack.object.service import ObjectService


def parse_multipart(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """(part headers, part body) of each part of a multipart/form-data body."""
    parts = []
    delimiter = b"--" + boundary
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise HTTPError(400, "FormPost: invalid multipart body")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, data.removesuffix(b"\r\n")))
    return parts


def _disposition(value: str) -> dict[str, str]:
    params = {}
    for item in value.split(";")[1:]:
        key, _, val = item.strip().partition("=")
        params[key.lower()] = val.strip('"')
    return params


class FormPostMiddleware:
    def __init__(self, app: App, service: ObjectService):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: Request = scope["swift.request"]
        ctype = req.header("content-type", "") or ""
        if (
            req.method != "POST"
            or not ctype.startswith("multipart/form-data")
            or "s3" in req.environ
        ):
            await self.app(scope, receive, send)
            return
        await (await self.handle(req, ctype))(scope, receive, send)

    async def handle(self, req: Request, ctype: str) -> Response:
        boundary = (
            _disposition("x;" + ctype.split(";", 1)[1]).get("boundary", "") if ";" in ctype else ""
        )
        if not boundary:
            raise HTTPError(400, "FormPost: invalid boundary")
        path = req.path.decode("utf-8", "replace")
        parts = path.split("/", 4)
        if len(parts) < 4 or not parts[3]:
            raise HTTPError(400, "FormPost: the path must name a container")
        _, version, account, container = parts[:4]
        prefix = parts[4] if len(parts) > 4 else ""
        # the fields come first; the body is bounded by what the signature allows
        raw = await req.body(self.service.conf.formpost_max_body)
        fields: dict[str, str] = {}
        files: list[tuple[str, str, bytes]] = []
        for headers, data in parse_multipart(raw, boundary.encode()):
            disp = _disposition(headers.get("content-disposition", ""))
            name = disp.get("name", "")
            if "filename" in disp:
                files.append((disp["filename"], headers.get("content-type", ""), data))
            else:
                fields[name] = data.decode("utf-8", "replace")
        redirect = fields.get("redirect", "")
        try:
            max_size = int(fields.get("max_file_size", ""))
            max_count = int(fields.get("max_file_count", ""))
            expires = int(fields.get("expires", ""))
        except ValueError:
            raise HTTPError(
                401, "FormPost: invalid expires, max_file_size or max_file_count"
            ) from None
        if expires < time.time():
            raise HTTPError(401, "FormPost: Form Expired")
        signed_path = f"/{version}/{account}/{container}" + (f"/{prefix}" if prefix else "")
        message = f"{signed_path}\n{redirect}\n{max_size}\n{max_count}\n{expires}"
        given = _given(fields.get("signature", ""))
        keys = self._keys(account, container)
        root = req.scope.get("root_path", "")
        ok = (
            given is not None
            and given[0] in DIGESTS
            and any(
                hmac.compare_digest(
                    hmac.new(
                        key.encode(), (p + message[len(signed_path) :]).encode(), DIGESTS[given[0]]
                    ).hexdigest(),
                    given[1],
                )
                for key in keys
                for p in (signed_path, root + signed_path)
            )
        )
        if not ok:
            raise HTTPError(401, "FormPost: Invalid Signature")
        if len(files) > max_count:
            raise HTTPError(400, "FormPost: max_file_count exceeded")
        req.environ["authorize_override"] = True
        ctrl = self.service.dispatcher.objects
        info = self.service.storage.container_info(account, container)
        if info is None:
            raise HTTPError(404)
        created = 0
        for filename, content_type, data in files:
            if not filename:
                continue
            if len(data) > max_size:
                return self._answer(redirect, 400, "max_file_size exceeded")
            name = prefix + filename

            async def chunks(data: bytes = data) -> AsyncIterator[bytes]:
                yield data

            metadata = {"Content-Type": content_type or "application/octet-stream"}
            await ctrl.write(
                account, container, name, chunks(), metadata, length=len(data), info=info
            )
            created += 1
        return self._answer(redirect, 201, "")

    @staticmethod
    def _answer(redirect: str, status: int, message: str) -> Response:
        if redirect:
            sep = "&" if "?" in redirect else "?"
            location = f"{redirect}{sep}status={status}&message={quote(message)}"
            return Response(
                303,
                f'<html><body><p><a href="{location}">Click to continue...</a></p></body></html>',
                {"Location": location},
                content_type="text/html; charset=UTF-8",
            )
        return Response(
            status,
            f"<h1>{status} {message or 'Created'}</h1>",
            content_type="text/html; charset=UTF-8",
        )

    def _keys(self, account: str, container: str) -> list[str]:
        storage = self.service.storage
        keys = []
        acc = storage.account_info(account)
        if acc is not None:
            keys += [
                acc.metadata.get(k, "")
                for k in ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
            ]
        info = storage.container_info(account, container)
        if info is not None:
            keys += [
                info.metadata.get(k, "")
                for k in ("x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2")
            ]
        return [k for k in keys if k]
