"""Image data: /v2/images/{id}/file (upload, download), /stage and /import."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common.api import no_content
from onestack.common.context import RequestContext
from onestack.image import data, imports
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_object
from onestack.image.manager import manager_of

router = protected_router()
STORE_HEADER = "x-image-meta-store"


class StreamedUploads:
    """Lets image data bodies (PUT .../file and .../stage) past the JSON body size cap; the
    upload path enforces the image size cap and quotas while it streams."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "PUT":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.startswith("/v2/images/") and path.endswith(("/file", "/stage")):
                scope["onestack.unlimited_body"] = True
        await self.app(scope, receive, send)


@router.put("/images/{image_id}/file")
async def upload(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    data.check_content_type(request.headers.get("content-type"))
    await data.upload(
        manager_of(request),
        ctx,
        image_id,
        request.stream(),
        size=data.declared_size(request.headers),
        store_id=request.headers.get(STORE_HEADER),
    )
    return no_content()


@router.get("/images/{image_id}/file")
async def download(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    result = await data.download(manager_of(request), ctx, image_id, request.headers.get("range"))
    if result.chunks is None:
        return no_content()
    headers = {"Content-Type": "application/octet-stream"}
    status = 200
    if result.partial:
        assert result.end is not None
        status = 206
        headers["Content-Range"] = f"bytes {result.start}-{result.end}/{result.size}"
        headers["Content-Length"] = str(result.end - result.start + 1)
    else:
        headers["Content-Length"] = str(result.size)
        if result.checksum:
            headers["Content-MD5"] = result.checksum
    if request.method == "HEAD":
        await result.chunks.aclose()  # type: ignore[attr-defined]
        return Response(status_code=status, headers=headers)
    return StreamingResponse(result.chunks, status_code=status, headers=headers)


@router.put("/images/{image_id}/stage")
async def stage(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    data.check_content_type(request.headers.get("content-type"))
    await data.stage(
        manager_of(request),
        ctx,
        image_id,
        request.stream(),
        size=data.declared_size(request.headers),
    )
    return no_content()


@router.post("/images/{image_id}/import")
async def import_image(request: Request, image_id: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    await imports.start_import(
        manager_of(request), ctx, image_id, body, request.headers.get(STORE_HEADER)
    )
    return Response(status_code=202)
