"""Snapshot images in the Image service, as Nova records them (createImage, shelve)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.compute.models import Instance

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore

LOG = logging.getLogger(__name__)
#: Nova's ``[DEFAULT] non_inheritable_image_properties`` and the properties a snapshot
#: records anew, which are never copied from the instance's image
NOT_INHERITED = frozenset(
    {
        "cache_in_nova",
        "bittorrent",
        "img_signature",
        "img_signature_hash_method",
        "img_signature_key_type",
        "img_signature_certificate_uuid",
        "instance_uuid",
        "image_type",
        "user_id",
        "base_image_ref",
        "owner_project_name",
        "owner_user_name",
        "image_location",
        "image_state",
        "os_hash_algo",
        "os_hash_value",
        "os_hidden",
    }
)


def is_volume_backed(instance: Instance) -> bool:
    """A server booted from a volume has no image of its own (Nova's ``image_ref`` "")."""
    return not instance.image_ref


def snapshot_body(
    ctx: RequestContext,
    instance: Instance,
    name: str,
    image_type: str = "snapshot",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The new image: the instance's image properties it may inherit, then Nova's own."""
    inherited = {
        k: v
        for k, v in ((instance.request_spec or {}).get("image_properties") or {}).items()
        if k not in NOT_INHERITED and not k.startswith("os_glance") and isinstance(v, str)
    }
    return {
        **inherited,
        "name": name,
        "disk_format": "raw",
        "container_format": "bare",
        "min_disk": int((instance.flavor or {}).get("root_gb", 0) or 0),
        "instance_uuid": instance.uuid,
        "image_type": image_type,
        "user_id": ctx.user_id or "",
        "base_image_ref": instance.image_ref or "",
        "owner_project_name": ctx.project_name or "",
        "owner_user_name": ctx.user_name or "",
        **(extra or {}),
    }


async def create(core: ComputeCore, ctx: RequestContext, body: dict[str, Any]) -> str:
    """Create the (queued) image with the caller's token; its id."""
    resp = await core.image_request(ctx, "POST", "/v2/images", json=body)
    if resp.status_code == 413 or resp.status_code == 403:
        raise BadRequest(f"The image could not be created: {resp.text[:200]}")
    if resp.status_code != 201:
        raise BadRequest(f"The Image service refused the snapshot ({resp.status_code}).")
    return str(resp.json()["id"])


async def delete(core: ComputeCore, ctx: RequestContext | None, image_id: str | None) -> None:
    """Delete a snapshot Nova no longer needs; a missing one is fine, a failure is logged."""
    if not image_id:
        return
    try:
        resp = await core.image_request(ctx, "DELETE", f"/v2/images/{image_id}")
        if resp.status_code not in (204, 404):
            LOG.warning("deleting image %s answered %s", image_id, resp.status_code)
    except Exception:
        LOG.warning("could not delete image %s", image_id, exc_info=True)
