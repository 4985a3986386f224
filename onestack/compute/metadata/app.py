"""Compute's metadata API (nova-api-metadata) as its own small ASGI app.

Guests reach it through Networking's metadata proxy at 169.254.169.254, which names the
instance in ``X-Instance-ID`` / ``X-Tenant-ID`` and signs the id (``X-Instance-ID-Signature``,
see :mod:`onestack.common.metadata_proxy`); with ``[compute] metadata_service_proxy = false``
the instance is the one whose fixed IP the request comes from (``X-Forwarded-For`` with
``metadata_use_forwarded_for``). No token: the signature is the credential. Answers and
errors are plain text, as Nova's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import Conflict
from onestack.common.metadata_proxy import shared_secret, verify
from onestack.compute import instance_metadata as md
from onestack.compute import passwords
from onestack.compute.metadata import tree
from onestack.compute.models import Instance

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

LOG = logging.getLogger(__name__)


class Refused(Exception):
    """An answer other than 200 (status and a one-line reason)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


_TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           405: "Method Not Allowed", 503: "Service Unavailable"}  # fmt: skip


def _refusal(exc: Refused) -> Response:
    body = f"{exc.status} {_TITLES.get(exc.status, '')}\n\n{exc.message}\n"
    return Response(body, status_code=exc.status, media_type=tree.TEXT)


class MetadataApp:
    """The routes over one Compute core (shared with the Compute API in one process)."""

    def __init__(self, core: ComputeCore):
        self.core = core
        self._secret: str | None = None
        self.app = Starlette(
            routes=[Route("/{path:path}", self.handle, methods=["GET", "HEAD", "POST"])]
        )

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = shared_secret(self.core.platform.settings)
        return self._secret

    async def handle(self, request: Request) -> Response:
        parts = tree.parts_of(request.path_params.get("path", ""))
        try:
            if not parts:
                answer = tree.root()
            else:
                instance = await self._identify(request)
                answer = await self._answer(request, parts, instance)
        except Refused as exc:
            return _refusal(exc)
        return Response(answer.body, media_type=answer.content_type)

    async def _answer(self, request: Request, parts: list[str], instance: Instance) -> tree.Answer:
        from onestack.compute.manager import guest_of

        version = tree.openstack_version(parts)
        if version and parts[2:] == ["password"] and md.has(version, "password"):
            return await self._password(request, instance)
        if request.method == "POST":
            raise Refused(405, "The method is not allowed for this resource.")
        answer = tree.resolve(parts, guest_of(instance), launch_index=instance.launch_index)
        if answer is None:
            raise Refused(404, "The resource could not be found.")
        return answer

    async def _password(self, request: Request, instance: Instance) -> tree.Answer:
        """GET: the posted password ("" if none); POST: set it once (409 after)."""
        if request.method != "POST":
            async with self.core.read() as session:
                return tree.Answer((await passwords.get(session, instance.uuid)).encode())
        body = b""
        async for chunk in request.stream():  # never more than the limit held in memory
            body += chunk
            if len(body) > passwords.MAX_SIZE:
                raise Refused(400, "Request is too large.")
        try:
            value = body.decode()
        except UnicodeDecodeError:
            raise Refused(400, "The password must be text.") from None
        try:
            await passwords.post_once(self.core, instance.uuid, value)
        except Conflict:
            raise Refused(409, "The password is already set.") from None
        return tree.Answer(b"")

    async def _identify(self, request: Request) -> Instance:
        conf = self.core.conf
        if conf.metadata_service_proxy:
            return await self._by_signed_id(request)
        if "x-instance-id" in request.headers:
            raise Refused(
                400,
                "X-Instance-ID present in request headers. The 'metadata_service_proxy' "
                "option must be enabled to process this header.",
            )
        return await self._by_address(request)

    async def _by_signed_id(self, request: Request) -> Instance:
        """Nova's checks, in Nova's order: each header present and single, the signature
        right (403), the instance known (404) and of the tenant named (404)."""
        headers = request.headers
        for name in ("X-Instance-ID", "X-Instance-ID-Signature", "X-Tenant-ID"):
            values = headers.getlist(name)
            if not values:
                raise Refused(400, f"{name} header is missing from request.")
            if len(values) > 1:
                raise Refused(400, f"Multiple {name} headers found within request.")
        instance_id = headers["x-instance-id"]
        if not verify(self.secret, instance_id, headers["x-instance-id-signature"]):
            LOG.warning("metadata request for %.40r with a bad signature", instance_id)
            raise Refused(403, "Access was denied to this resource.")
        instance = await self._instance(uuid=instance_id)
        if instance is None:
            raise Refused(404, "The resource could not be found.")
        if instance.project_id != headers["x-tenant-id"]:
            LOG.warning(
                "metadata request: tenant %.40r is not instance %s's", headers["x-tenant-id"],
                instance_id,
            )  # fmt: skip
            raise Refused(404, "The resource could not be found.")
        return instance

    async def _by_address(self, request: Request) -> Instance:
        """The instance whose port holds the caller's fixed IP (asked of Networking)."""
        from onestack.compute.network import NetworkAPI

        address = request.client.host if request.client else ""
        if self.core.conf.metadata_use_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            address = forwarded.split(",")[0].strip() or address
        if not address:
            raise Refused(400, "The request names no address.")
        try:
            ports = await NetworkAPI(self.core).as_service(
                "GET",
                "/v2.0/ports",
                params={"fixed_ips": f"ip_address={address}", "fields": ["device_id"]},
            )
        except Exception:  # Networking down or refusing: say so, not a traceback
            LOG.exception("metadata request: looking up %s in Networking failed", address)
            raise Refused(503, "The instance could not be looked up.") from None
        device_ids = [p.get("device_id") for p in ports.get("ports", []) if p.get("device_id")]
        instance = await self._instance(uuid=device_ids[0]) if len(device_ids) == 1 else None
        if instance is None:
            raise Refused(404, "The resource could not be found.")
        return instance

    async def _instance(self, *, uuid: str) -> Instance | None:
        if len(uuid) > 36:
            return None
        stmt = select(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
        async with self.core.read() as session:
            return (await session.execute(stmt)).scalar()
