"""The wire format of volumes, snapshots, types, QoS specs and attachments, by microversion."""

from __future__ import annotations

import datetime as dt
from typing import Any

from onestack.common.microversions import Version
from onestack.volume.models import (
    Attachment,
    Backup,
    QosSpecs,
    Snapshot,
    Transfer,
    Volume,
    VolumeType,
)


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value else None


def links(base: str, kind: str, item_id: str, project_id: str | None) -> list[dict[str, str]]:
    root = base + "/v3"
    prefix = f"{root}/{project_id}" if project_id else root
    bookmark = base + (f"/{project_id}" if project_id else "")
    return [
        {"rel": "self", "href": f"{prefix}/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{bookmark}/{kind}/{item_id}"},
    ]


def attachment_summary(att: Attachment, volume: Volume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "attachment_id": att.id,
        "volume_id": volume.id,
        "server_id": att.instance_uuid,
        "host_name": att.attached_host,
        "device": att.mountpoint,
        "attached_at": iso(att.attach_time),
    }


def volume_summary(volume: Volume, base: str, project_id: str | None) -> dict[str, Any]:
    return {
        "id": volume.id,
        "name": volume.name,
        "links": links(base, "volumes", volume.id, project_id),
    }


def volume(
    v: Volume,
    *,
    base: str,
    project_id: str | None,
    version: Version,
    admin: bool,
    type_name: str | None,
    metadata: dict[str, str],
    image_metadata: dict[str, str] | None,
    attachments: list[Attachment],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": iso(v.created_at),
        "updated_at": iso(v.updated_at),
        "attachments": [attachment_summary(a, v) for a in attachments],
        "volume_type": type_name,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "metadata": metadata,
        "links": links(base, "volumes", v.id, project_id),
        "user_id": v.user_id,
        "bootable": "true" if v.bootable else "false",
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": v.multiattach,
        "os-vol-tenant-attr:tenant_id": v.project_id,
    }
    if image_metadata:
        body["volume_image_metadata"] = image_metadata
    if admin:
        body["os-vol-host-attr:host"] = v.host
        body["os-vol-mig-status-attr:migstat"] = v.migration_status
        body["os-vol-mig-status-attr:name_id"] = None
    if version >= "3.13":
        body["group_id"] = None
    if version >= "3.21" and admin:
        body["provider_id"] = None
    if version >= "3.48":
        body["shared_targets"] = False
        if admin:
            body["service_uuid"] = None
    if version >= "3.61" and admin:
        body["cluster_name"] = None
    if version >= "3.63":
        body["volume_type_id"] = v.volume_type_id
    if version >= "3.65":
        body["consumes_quota"] = True
    if version >= "3.64":
        body["encryption_key_id"] = None
    return body


def snapshot(
    s: Snapshot,
    *,
    version: Version,
    admin: bool,
    metadata: dict[str, str],
    base: str = "",
    project_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size,
        "volume_id": s.volume_id,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "metadata": metadata,
        "os-extended-snapshot-attributes:project_id": s.project_id,
        "os-extended-snapshot-attributes:progress": s.progress,
    }
    if version >= "3.14":
        body["group_snapshot_id"] = None
    if version >= "3.41":
        body["user_id"] = s.user_id
    if version >= "3.65":
        body["consumes_quota"] = True
    return body


def volume_type(t: VolumeType, specs: dict[str, str] | None, *, admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public,
        "extra_specs": specs if admin else _user_visible(specs or {}),
    }
    if admin:
        body["qos_specs_id"] = t.qos_specs_id
    return body


def _user_visible(specs: dict[str, str]) -> dict[str, str]:
    """What a non-admin sees of extra specs (Cinder: only the user-visible ones)."""
    visible = ("multiattach", "RESKEY:availability_zones", "replication_enabled")
    return {k: v for k, v in specs.items() if k in visible}


def qos(q: QosSpecs, base: str) -> dict[str, Any]:
    return {
        "id": q.id,
        "name": q.name,
        "consumer": q.consumer,
        "specs": q.specs,
        "created_at": iso(q.created_at),
        "links": [
            {"rel": "self", "href": f"{base}/qos-specs/{q.id}"},
            {"rel": "bookmark", "href": f"{base}/qos-specs/{q.id}"},
        ],
    }


def attachment(a: Attachment, *, detail: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": a.id,
        "status": a.attach_status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
    }
    if detail:
        body.update(
            {
                "attached_at": iso(a.attach_time),
                "detached_at": iso(a.detach_time),
                "attach_mode": a.attach_mode,
                "connection_info": a.connection_info or {},
            }
        )
    return body


def backup_summary(b: Backup, base: str, project_id: str | None) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "links": links(base, "backups", b.id, project_id)}


def backup(
    b: Backup, *, base: str, project_id: str | None, version: Version, has_dependents: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status,
        "size": b.size,
        "object_count": b.object_count,
        "container": b.container,
        "availability_zone": b.availability_zone,
        "created_at": iso(b.created_at),
        "updated_at": iso(b.updated_at),
        "data_timestamp": iso(b.data_timestamp),
        "volume_id": b.volume_id,
        "snapshot_id": b.snapshot_id,
        "fail_reason": b.fail_reason,
        "is_incremental": b.is_incremental,
        "has_dependent_backups": has_dependents,
        "links": links(base, "backups", b.id, project_id),
    }
    if version >= "3.18":
        body["os-backup-project-attr:project_id"] = b.project_id
    if version >= "3.43":
        body["metadata"] = b.metadata_
    if version >= "3.51":
        body["encryption_key_id"] = None
    if version >= "3.56":
        body["user_id"] = b.user_id
    return body


def transfer(
    t: Transfer,
    *,
    base: str,
    project_id: str | None,
    kind: str,
    auth_key: str | None = None,
    version: Version | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "created_at": iso(t.created_at),
        "links": links(base, kind, t.id, project_id),
    }
    if version is not None and version >= "3.55":
        body["no_snapshots"] = t.no_snapshots
    if version is not None and version >= "3.57":
        body["source_project_id"] = t.project_id
        body["destination_project_id"] = None
        body["accepted"] = False
    if auth_key is not None:
        body["auth_key"] = auth_key
    return body
