"""Compute's side of the Block Storage API (Nova's ``nova.volume.cinder`` and block device flow).

At the API, a request's volumes are checked with the caller's token (what the caller may see
is what Block Storage shows the caller) and written as :class:`BlockDeviceMapping` rows. On the
compute host the volumes are made (from an image, a snapshot or blank), waited for, attached
through Block Storage's attachments API (3.27+: create, update with the host's connector,
complete, delete) as the ``nova`` service user and handed to the virt driver with the
connection info Block Storage answered. A server's delete detaches its volumes and deletes
the ones marked ``delete_on_termination``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import delete, select

from onestack.common.context import RequestContext
from onestack.common.errors import APIError, BadRequest, NotFound, ServiceUnavailable, of_status
from onestack.common.microversions import Version
from onestack.compute.models import BlockDeviceMapping

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore
    from onestack.compute.manager import HostEndpoint
    from onestack.compute.models import Instance

LOG = logging.getLogger(__name__)
MICROVERSION = "volume 3.44"
SOURCES = ("image", "volume", "snapshot", "blank")
ROOT_DEVICE = "/dev/vda"
#: how long a build waits for a volume it made to become available (Nova's
#: block_device_allocate_retries x interval)
WAIT_TIMEOUT = 180.0


class VolumeError(ServiceUnavailable):
    """Block Storage refused or failed a call made as the service user."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        if status in (400, 403, 404, 409):
            self.code = status


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict) and len(body) == 1:
        inner = next(iter(body.values()))
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
    return str(body)[:200]


def _api_error(resp: httpx.Response) -> APIError:
    return of_status(resp.status_code, _message(resp))


class VolumeAPI:
    """Calls to the Block Storage API: as the caller or as the ``nova`` service user."""

    def __init__(self, core: ComputeCore):
        self.core = core
        self.clients = core.platform.clients

    def available(self) -> bool:
        settings = self.core.settings
        return "volume" in set(settings.services) | set(settings.remote_services)

    async def _send(
        self, ctx: RequestContext | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        client = self.clients.for_service("block-storage", user="nova")
        headers = {"OpenStack-API-Version": MICROVERSION}
        try:
            if ctx is None or not ctx.auth_token:
                return await client.request(method, path, headers=headers, **kwargs)
            root = (await client.endpoint()).rsplit("/v3", 1)[0]
            url = f"{root}/v3/{ctx.project_id}{path}"
            headers["X-Auth-Token"] = ctx.auth_token
            return await self.clients.http.request(method, url, headers=headers, **kwargs)
        except Exception as exc:
            raise ServiceUnavailable(f"The Block Storage service is unreachable: {exc}") from exc

    async def _call(self, ctx: RequestContext | None, method: str, path: str, **kw: Any) -> Any:
        resp = await self._send(ctx, method, path, **kw)
        if resp.status_code >= 400:
            if ctx is not None and ctx.auth_token:
                raise _api_error(resp)
            raise VolumeError(
                f"Block Storage refused {method} {path}: {_message(resp)}", resp.status_code
            )
        return resp.json() if resp.content else None

    # -- volumes and snapshots ---------------------------------------------------------------
    async def get(self, ctx: RequestContext | None, volume_id: str) -> dict[str, Any]:
        resp = await self._send(ctx, "GET", f"/volumes/{volume_id}")
        if resp.status_code == 404:
            raise NotFound(f"Volume {volume_id} could not be found.")
        if resp.status_code >= 400:
            raise _api_error(resp)
        return dict(resp.json()["volume"])

    async def get_snapshot(self, ctx: RequestContext | None, snapshot_id: str) -> dict[str, Any]:
        resp = await self._send(ctx, "GET", f"/snapshots/{snapshot_id}")
        if resp.status_code == 404:
            raise BadRequest(f"Snapshot {snapshot_id} could not be found.")
        if resp.status_code >= 400:
            raise _api_error(resp)
        return dict(resp.json()["snapshot"])

    async def create(self, ctx: RequestContext | None, **volume: Any) -> dict[str, Any]:
        body = {k: v for k, v in volume.items() if v is not None}
        data = await self._call(ctx, "POST", "/volumes", json={"volume": body})
        return dict(data["volume"])

    async def delete(self, volume_id: str) -> None:
        resp = await self._send(None, "DELETE", f"/volumes/{volume_id}")
        if resp.status_code >= 400 and resp.status_code != 404:
            raise VolumeError(f"Block Storage refused to delete {volume_id}: {_message(resp)}")

    async def wait_available(
        self, ctx: RequestContext | None, volume_id: str, timeout: float = WAIT_TIMEOUT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            volume = await self.get(None, volume_id)
            if volume["status"] == "available":
                return volume
            if volume["status"].startswith("error"):
                raise VolumeError(f"Volume {volume_id} did not become available: it is in error.")
            if time.monotonic() > deadline:
                raise VolumeError(
                    f"Volume {volume_id} did not become available in {timeout:.0f} seconds "
                    f"(it is {volume['status']})."
                )
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 1.0)

    # -- attachments (3.27+) ------------------------------------------------------------------
    async def attachment_create(
        self, ctx: RequestContext | None, volume_id: str, instance_uuid: str
    ) -> str:
        body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": instance_uuid}}
        resp = await self._send(ctx, "POST", "/attachments", json=body)
        if resp.status_code == 404:
            raise NotFound(f"Volume {volume_id} could not be found.")
        if resp.status_code >= 400:
            raise BadRequest(_message(resp)) if resp.status_code == 400 else _api_error(resp)
        return str(resp.json()["attachment"]["id"])

    async def attachment_update(
        self, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        data = await self._call(
            None,
            "PUT",
            f"/attachments/{attachment_id}",
            json={"attachment": {"connector": connector}},
        )
        return dict(data["attachment"]["connection_info"])

    async def attachment_complete(self, attachment_id: str) -> None:
        await self._call(
            None, "POST", f"/attachments/{attachment_id}/action", json={"os-complete": None}
        )

    async def attachment_delete(self, attachment_id: str) -> None:
        resp = await self._send(None, "DELETE", f"/attachments/{attachment_id}")
        if resp.status_code >= 400 and resp.status_code != 404:
            raise VolumeError(f"Block Storage refused to delete attachment {attachment_id}")


# -- the request (at the API) ---------------------------------------------------------------
def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value!r}.")


def _int(value: Any, field: str, minimum: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value!r}.")
    return value


def parse_bdms(value: Any, version: Version) -> list[dict[str, Any]]:
    """``block_device_mapping_v2`` as plain, checked entries (volume and local ones)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("Invalid input for field/attribute block_device_mapping_v2.")
    out = []
    for bdm in value:
        if not isinstance(bdm, dict):
            raise BadRequest("Invalid input for field/attribute block_device_mapping_v2.")
        source = bdm.get("source_type")
        if source not in SOURCES:
            raise BadRequest(f"Invalid block device mapping source_type {source!r}.")
        dest = bdm.get("destination_type") or (
            "volume" if source in ("volume", "snapshot") else "local"
        )
        if dest not in ("local", "volume"):
            raise BadRequest(f"Invalid block device mapping destination_type {dest!r}.")
        if source in ("volume", "snapshot") and dest != "volume":
            raise BadRequest(
                f"Block device mapping source_type {source} needs destination_type volume."
            )
        ident = bdm.get("uuid")
        if source != "blank" and (not isinstance(ident, str) or not ident or len(ident) > 255):
            raise BadRequest(f"Block device mapping of source_type {source} needs a uuid.")
        boot_index = _int(bdm.get("boot_index"), "boot_index", -(10**6))
        if boot_index is not None and boot_index < 0:
            boot_index = None
        size = _int(bdm.get("volume_size"), "volume_size", 1)
        if source == "blank" and dest == "volume" and size is None:
            raise BadRequest("Blank volumes need a volume_size.")
        tag = bdm.get("tag")
        if tag is not None and (version < (2, 42) or not isinstance(tag, str) or len(tag) > 60):
            raise BadRequest("Invalid input for field/attribute tag.")
        device = bdm.get("device_name")
        if device is not None and (not isinstance(device, str) or len(device) > 255):
            raise BadRequest("Invalid input for field/attribute device_name.")
        out.append(
            {
                "source_type": source,
                "destination_type": dest,
                "uuid": ident,
                "boot_index": boot_index,
                "volume_size": size,
                "delete_on_termination": _bool(
                    bdm.get("delete_on_termination", False), "delete_on_termination"
                ),
                "tag": tag,
                "volume_type": bdm.get("volume_type"),
            }
        )
    roots = [b for b in out if b["boot_index"] == 0]
    if len(roots) > 1:
        raise BadRequest(
            "Boot sequence for the instance and image/block device mapping is invalid."
        )
    return out


def volume_backed(bdms: list[dict[str, Any]]) -> bool:
    return any(b["boot_index"] == 0 and b["destination_type"] == "volume" for b in bdms)


async def check_request(
    core: ComputeCore,
    ctx: RequestContext,
    bdms: list[dict[str, Any]],
    max_count: int,
    version: Version,
) -> dict[str, Any]:
    """Check the volume entries with the caller's token; the root's image (its properties
    are the guest's) or {}."""
    wanted = [b for b in bdms if b["destination_type"] == "volume"]
    if not wanted:
        return {}
    api = VolumeAPI(core)
    if not api.available():
        raise BadRequest("Block device mapping to volumes needs the Block Storage service.")
    root_image: dict[str, Any] = {}
    for bdm in wanted:
        if bdm["source_type"] == "volume":
            if max_count > 1:
                raise BadRequest("Cannot attach one volume to multiple instances.")
            try:
                volume = await api.get(ctx, bdm["uuid"])
            except NotFound:
                raise BadRequest(
                    f"Block Device Mapping is Invalid: failed to get volume {bdm['uuid']}."
                ) from None
            if volume.get("multiattach") and version < (2, 60):
                raise BadRequest(
                    "Multiattach volumes are only supported starting with compute API version 2.60."
                )
            check_attachable(volume)
            if bdm["boot_index"] == 0:
                root_image = dict(volume.get("volume_image_metadata") or {})
        elif bdm["source_type"] == "snapshot":
            await api.get_snapshot(ctx, bdm["uuid"])
        elif bdm["source_type"] == "image":
            image = await core.image(ctx, bdm["uuid"])
            if image.get("status") != "active":
                raise BadRequest(f"Image {bdm['uuid']} is not active.")
            if bdm["volume_size"] is None:
                size_gb = -(-int(image.get("size") or 0) // (1024**3))
                bdm["volume_size"] = max(1, size_gb, int(image.get("min_disk") or 0))
            if bdm["boot_index"] == 0:
                root_image = image
    return root_image


def check_attachable(volume: dict[str, Any]) -> None:
    status = volume.get("status")
    if status == "available" or (status == "in-use" and volume.get("multiattach")):
        return
    raise BadRequest(
        f"Invalid volume: volume '{volume['id']}' status must be 'available'. "
        f"Currently in '{status}'"
    )


def _device(index: int) -> str:
    return f"/dev/vd{chr(ord('a') + index)}" if index < 26 else f"/dev/vd{index}"


def mappings_for(instance_uuid: str, bdms: list[dict[str, Any]]) -> list[BlockDeviceMapping]:
    """The rows of one instance's volume entries, with their device names."""
    wanted = sorted(
        (b for b in bdms if b["destination_type"] == "volume"),
        key=lambda b: (b["boot_index"] != 0, b["boot_index"] is None, b["boot_index"] or 0),
    )
    first = 0 if volume_backed(bdms) else 1
    rows = []
    for i, b in enumerate(wanted):
        rows.append(
            BlockDeviceMapping(
                uuid=str(uuidlib.uuid4()),
                instance_uuid=instance_uuid,
                source_type=b["source_type"],
                destination_type="volume",
                boot_index=b["boot_index"],
                device_name=_device(first + i),
                volume_id=b["uuid"] if b["source_type"] == "volume" else None,
                image_id=b["uuid"] if b["source_type"] == "image" else None,
                snapshot_id=b["uuid"] if b["source_type"] == "snapshot" else None,
                volume_size=b["volume_size"],
                volume_type=b["volume_type"],
                delete_on_termination=b["delete_on_termination"],
                tag=b["tag"],
            )
        )
    return rows


# -- reading ---------------------------------------------------------------------------------
async def mappings(session: Any, instance_uuid: str) -> list[BlockDeviceMapping]:
    stmt = (
        select(BlockDeviceMapping)
        .where(BlockDeviceMapping.instance_uuid == instance_uuid)
        .order_by(BlockDeviceMapping.id)
    )
    return list((await session.execute(stmt)).scalars())


async def attached_of(session: Any, uuids: list[str]) -> dict[str, list[BlockDeviceMapping]]:
    """The volume mappings of many instances (one query, for listings)."""
    found: dict[str, list[BlockDeviceMapping]] = {u: [] for u in uuids}
    if not uuids:
        return found
    stmt = (
        select(BlockDeviceMapping)
        .where(
            BlockDeviceMapping.instance_uuid.in_(uuids),
            BlockDeviceMapping.volume_id.is_not(None),
        )
        .order_by(BlockDeviceMapping.id)
    )
    for row in (await session.execute(stmt)).scalars():
        found[row.instance_uuid].append(row)
    return found


def volumes_attached(rows: list[BlockDeviceMapping], version: Any) -> list[dict[str, Any]]:
    """The server's ``os-extended-volumes:volumes_attached``."""
    if version >= (2, 3):
        return [{"id": r.volume_id, "delete_on_termination": r.delete_on_termination} for r in rows]
    return [{"id": r.volume_id} for r in rows]


def attachment_view(row: BlockDeviceMapping, version: Any) -> dict[str, Any]:
    """A ``volumeAttachment`` as the negotiated microversion shows it."""
    body: dict[str, Any] = {
        "device": row.device_name,
        "serverId": row.instance_uuid,
        "volumeId": row.volume_id,
    }
    if version < (2, 89):
        body["id"] = row.volume_id
    if version >= (2, 70):
        body["tag"] = row.tag
    if version >= (2, 79):
        body["delete_on_termination"] = row.delete_on_termination
    if version >= (2, 89):
        body["attachment_id"] = row.attachment_id
        body["bdm_uuid"] = row.uuid
    return body


def connector(host: str, device: str | None) -> dict[str, Any]:
    """The host's connector (os-brick's shape) given to Block Storage."""
    return {
        "host": host,
        "platform": "x86_64",
        "os_type": "linux",
        "multipath": False,
        "initiator": f"iqn.2026-12.org.onestack:{host}",
        "mountpoint": device,
    }


def block_device(row: BlockDeviceMapping) -> dict[str, Any]:
    """The driver's description of one attached volume."""
    return {
        "volume_id": row.volume_id,
        "device": row.device_name,
        "boot_index": row.boot_index,
        "connection_info": dict(row.connection_info or {}),
        "tag": row.tag,
    }


# -- the compute host's flow ------------------------------------------------------------------
async def _save(core: ComputeCore, bdm_uuid: str, **values: Any) -> None:
    async with core.write() as session:
        row = (
            await session.execute(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
            )
        ).scalar()
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


async def _connect(ep: HostEndpoint, api: VolumeAPI, row: BlockDeviceMapping) -> dict[str, Any]:
    """Attach ``row``'s volume to this host (attachment create, update, complete)."""
    assert row.volume_id is not None
    attachment = row.attachment_id
    if attachment is None:
        attachment = await api.attachment_create(None, row.volume_id, row.instance_uuid)
        await _save(ep.core, row.uuid, attachment_id=attachment)
    info = await api.attachment_update(attachment, connector(ep.host, row.device_name))
    await _save(ep.core, row.uuid, connection_info=info)
    row.attachment_id, row.connection_info = attachment, info
    return info


async def prepare_build(
    ep: HostEndpoint, ctx: RequestContext | None, instance: Instance
) -> list[dict[str, Any]]:
    """Make, wait for and connect a build's volumes; the driver's block devices."""
    async with ep.core.read() as session:
        rows = await mappings(session, instance.uuid)
    if not rows:
        return []
    api = VolumeAPI(ep.core)
    zone = instance.availability_zone
    for row in rows:
        if row.volume_id is None:
            volume = await api.create(
                ctx,
                size=row.volume_size,
                name="",
                imageRef=row.image_id,
                snapshot_id=row.snapshot_id,
                volume_type=row.volume_type,
                availability_zone=None
                if zone in (None, ep.core.conf.default_availability_zone)
                else zone,
            )
            row.volume_id = volume["id"]
            await _save(ep.core, row.uuid, volume_id=row.volume_id)
        if row.attachment_id is None:
            await api.wait_available(ctx, row.volume_id)
        await _connect(ep, api, row)
    return [block_device(r) for r in rows]


async def finish_build(core: ComputeCore, instance_uuid: str) -> None:
    """The guest runs: complete its volumes' attachments (they go ``in-use``)."""
    api = VolumeAPI(core)
    async with core.read() as session:
        rows = await mappings(session, instance_uuid)
    for row in rows:
        if row.attachment_id:
            await api.attachment_complete(row.attachment_id)


async def disconnect_all(core: ComputeCore, instance_uuid: str) -> None:
    """A failed build: delete its attachments (a rebuild elsewhere makes new ones)."""
    api = VolumeAPI(core)
    async with core.read() as session:
        rows = await mappings(session, instance_uuid)
    for row in rows:
        if row.attachment_id:
            try:
                await api.attachment_delete(row.attachment_id)
            except Exception:
                LOG.warning("could not delete attachment %s", row.attachment_id, exc_info=True)
            await _save(core, row.uuid, attachment_id=None, connection_info=None)


async def cleanup(core: ComputeCore, instance_uuid: str) -> None:
    """A deleted server: detach its volumes, delete those marked delete_on_termination, drop
    its mappings."""
    async with core.read() as session:
        rows = await mappings(session, instance_uuid)
    if not rows:
        return
    api = VolumeAPI(core)
    for row in rows:
        try:
            if row.attachment_id:
                await api.attachment_delete(row.attachment_id)
            if row.delete_on_termination and row.volume_id:
                await api.delete(row.volume_id)
        except Exception:
            LOG.warning(
                "could not release volume %s of %s", row.volume_id, instance_uuid, exc_info=True
            )
    async with core.write() as session:
        await session.execute(
            delete(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid == instance_uuid)
        )


async def attach(ep: HostEndpoint, instance_uuid: str, bdm_uuid: str) -> None:
    """Attach a volume to a running guest (the API reserved it: attachment and mapping)."""
    async with ep.core.read() as session:
        row = (
            await session.execute(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
            )
        ).scalar()
    if row is None:
        raise NotFound(f"Block device mapping {bdm_uuid} could not be found.")
    api = VolumeAPI(ep.core)
    try:
        info = await _connect(ep, api, row)
        await ep.driver.attach_volume(instance_uuid, info, row.device_name or "")
        assert row.attachment_id is not None
        await api.attachment_complete(row.attachment_id)
    except Exception:
        await _drop(ep.core, api, row)
        raise


async def _drop(core: ComputeCore, api: VolumeAPI, row: BlockDeviceMapping) -> None:
    if row.attachment_id:
        try:
            await api.attachment_delete(row.attachment_id)
        except Exception:
            LOG.warning("could not delete attachment %s", row.attachment_id, exc_info=True)
    async with core.write() as session:
        await session.execute(delete(BlockDeviceMapping).where(BlockDeviceMapping.uuid == row.uuid))


async def detach(ep: HostEndpoint, instance_uuid: str, volume_id: str) -> None:
    """Detach a volume from the guest, then delete its attachment and mapping."""
    async with ep.core.read() as session:
        row = (
            await session.execute(
                select(BlockDeviceMapping).where(
                    BlockDeviceMapping.instance_uuid == instance_uuid,
                    BlockDeviceMapping.volume_id == volume_id,
                )
            )
        ).scalar()
    if row is None:
        raise NotFound(f"Volume {volume_id} is not attached to instance {instance_uuid}.")
    await ep.driver.detach_volume(
        instance_uuid, dict(row.connection_info or {}), row.device_name or ""
    )
    await _drop(ep.core, VolumeAPI(ep.core), row)


async def block_devices(core: ComputeCore, instance_uuid: str) -> list[dict[str, Any]]:
    """The attached volumes of a guest (for a driver that starts it again)."""
    async with core.read() as session:
        rows = await mappings(session, instance_uuid)
    return [block_device(r) for r in rows if r.connection_info]
