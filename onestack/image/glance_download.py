"""The ``glance-download`` import method: an image's data (and some of its properties) copied
from the Image service of another region, found through the Identity catalog.

``{"method": {"name": "glance-download", "glance_image_id": ID, "glance_region": REGION,
"glance_service_interface": "public"}}`` imports into a queued image. The remote image is read
with the caller's own token, so a user copies only what that region lets them see; it must be
active. Its ``disk_format`` and ``container_format``, and its properties matching
``glance_download_properties`` (``hw_*``, ``os_distro``, ... as in Glance), are set on the local
image when the import starts; the worker then streams the data through inspection and hashing
like any import. Not enabled by default (as in Glance): add it to ``enabled_import_methods``.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

INTERFACES = ("public", "internal", "admin")
CORE_FORMATS = ("disk_format", "container_format")


class DownloadFailed(Exception):
    """The remote Image service did not give the data."""


@dataclass(frozen=True)
class RemoteImage:
    file_url: str
    formats: dict[str, str]
    properties: dict[str, str]


def check_method(method: dict[str, Any]) -> None:
    """400 unless the method names a remote image id, a region and a known interface."""
    image_id = method.get("glance_image_id")
    try:
        uuid.UUID(str(image_id))
    except ValueError:
        raise BadRequest("glance-download requires 'glance_image_id', an image id.") from None
    if not isinstance(image_id, str):
        raise BadRequest("glance-download requires 'glance_image_id', an image id.")
    region = method.get("glance_region")
    if not isinstance(region, str) or not region or len(region) > 255:
        raise BadRequest("glance-download requires 'glance_region', the remote region's name.")
    interface = method.get("glance_service_interface", "public")
    if interface not in INTERFACES:
        raise BadRequest(f"'glance_service_interface' must be one of {', '.join(INTERFACES)}.")


async def endpoint_in(mgr: ImageManager, region: str, interface: str) -> str:
    """The Image endpoint of ``region`` in the Identity catalog; 400 when there is none."""
    if region == mgr.settings.region:
        raise BadRequest(f"glance-download copies from another region, not {region!r}.")
    for renew in (False, True):  # a cached token's catalog may predate the endpoint
        token = await mgr.platform.clients.token("glance", renew=renew)
        for entry in token.catalog:
            if entry.get("type") != "image":
                continue
            for ep in entry.get("endpoints", []):
                if ep.get("interface") == interface and region in (
                    ep.get("region_id"),
                    ep.get("region"),
                ):
                    return str(ep["url"]).rstrip("/")
    raise BadRequest(f"No {interface} Image endpoint in region {region!r} of the catalog.")


async def remote_image(
    mgr: ImageManager, ctx: RequestContext, method: dict[str, Any]
) -> RemoteImage:
    """The remote image as the caller sees it there; 400/409 when it cannot be copied."""
    image_id = method["glance_image_id"]
    region = method["glance_region"]
    base = await endpoint_in(mgr, region, method.get("glance_service_interface", "public"))
    url = f"{base}/v2/images/{image_id}"
    try:
        resp = await mgr.platform.clients.http.get(
            url, headers={"X-Auth-Token": ctx.auth_token or ""}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise BadRequest(f"The Image service of region {region!r} is unreachable: {exc}") from None
    if resp.status_code in (403, 404):
        raise BadRequest(f"Image {image_id} was not found in region {region!r}.")
    if resp.status_code != 200:
        raise BadRequest(f"The Image service of region {region!r} answered {resp.status_code}.")
    try:
        remote = resp.json()
    except ValueError:
        raise BadRequest(f"The Image service of region {region!r} answered no image.") from None
    if not isinstance(remote, dict) or remote.get("status") != "active":
        raise Conflict(f"Image {image_id} of region {region!r} is not active.")
    formats = {key: remote[key] for key in CORE_FORMATS if isinstance(remote.get(key), str)}
    patterns = mgr.conf.glance_download_properties
    properties = {
        key: value
        for key, value in remote.items()
        if isinstance(value, str) and any(fnmatch.fnmatchcase(key, p) for p in patterns)
    }
    return RemoteImage(f"{url}/file", formats, properties)


async def download(mgr: ImageManager, url: str, token: str | None) -> AsyncIterator[bytes]:
    """The remote image's data, with the importing user's token."""
    if not token:
        raise DownloadFailed("The importing user's token is gone; import again.")
    async with mgr.platform.clients.http.stream(
        "GET", url, headers={"X-Auth-Token": token}, timeout=httpx.Timeout(60.0, connect=5.0)
    ) as response:
        if response.status_code != 200:
            raise DownloadFailed(f"glance-download of {url} answered {response.status_code}")
        async for chunk in response.aiter_bytes(1024 * 1024):
            yield chunk
