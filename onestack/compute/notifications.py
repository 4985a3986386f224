"""Nova's versioned notifications: ``instance.<action>.start|end|error`` with the documented
``nova_object`` payloads (InstanceActionPayload and its kin, FlavorPayload, IpPayload,
ExceptionPayload, AuditPeriodPayload), published on ``versioned_notifications``.

Field lists (``FIELDS``) are Nova's; a test checks every payload against them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from onestack.common.context import RequestContext
from onestack.compute.models import Instance

#: the agents' action names that Nova announces under another name (None: not announced)
EVENT_NAMES: dict[str, str | None] = {
    "start": "power_on",
    "stop": "power_off",
    "confirm_resize": "resize_confirm",
    "revert_resize": "resize_revert",
    "change_password": None,
    "finish_revert": None,
    "cleanup_source": None,
}
POWER_STATES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed",
                7: "suspended"}  # fmt: skip
#: payload name -> (version, fields beyond InstancePayload's)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "InstanceActionPayload": ("1.8", ("fault",)),
    "InstanceCreatePayload": ("1.12", ("fault", "keypairs", "tags",
                                       "trusted_image_certificates", "instance_name")),
    "InstanceActionSnapshotPayload": ("1.9", ("fault", "snapshot_image_id")),
    "InstanceActionRebuildPayload": ("1.9", ("fault", "trusted_image_certificates")),
    "InstanceActionResizePrepPayload": ("1.3", ("fault", "new_flavor")),
    "InstanceExistsPayload": ("2.0", ("audit_period",)),
}  # fmt: skip
INSTANCE_FIELDS = (
    "uuid", "user_id", "tenant_id", "reservation_id", "display_name", "display_description",
    "host_name", "host", "node", "os_type", "architecture", "availability_zone", "image_uuid",
    "key_name", "kernel_id", "ramdisk_id", "created_at", "launched_at", "terminated_at",
    "deleted_at", "updated_at", "state", "power_state", "task_state", "progress",
    "ip_addresses", "block_devices", "flavor", "metadata", "locked", "locked_reason",
    "auto_disk_config", "request_id", "action_initiator_user", "action_initiator_project",
)  # fmt: skip
FLAVOR_FIELDS = ("flavorid", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "name", "swap",
                 "rxtx_factor", "vcpu_weight", "disabled", "is_public", "extra_specs",
                 "projects", "description")  # fmt: skip
IP_FIELDS = ("label", "mac", "meta", "port_uuid", "version", "address", "device_name")
EXCEPTION_FIELDS = ("module_name", "function_name", "exception", "exception_message",
                    "traceback")  # fmt: skip
AUDIT_FIELDS = ("audit_period_beginning", "audit_period_ending")


def event_name(event_type: str) -> str | None:
    """``instance.stop.end`` -> ``instance.power_off.end``; None when Nova sends none."""
    parts = event_type.split(".")
    if len(parts) < 3 or parts[0] != "instance":
        return event_type
    action = parts[1]
    if action in EVENT_NAMES:
        mapped = EVENT_NAMES[action]
        if mapped is None:
            return None
        parts[1] = mapped
    return ".".join(parts)


def kind_of(event_type: str) -> str:
    action = event_type.split(".")[1]
    return {
        "create": "InstanceCreatePayload",
        "snapshot": "InstanceActionSnapshotPayload",
        "rebuild": "InstanceActionRebuildPayload",
        "resize_prep": "InstanceActionResizePrepPayload",
        "exists": "InstanceExistsPayload",
    }.get(action, "InstanceActionPayload")


def envelope(name: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "nova_object.name": name,
        "nova_object.namespace": "nova",
        "nova_object.version": version,
        "nova_object.data": data,
    }


def _time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def flavor_payload(flavor: dict[str, Any] | None) -> dict[str, Any] | None:
    if not flavor:
        return None
    data = {
        "flavorid": str(flavor.get("flavorid", "")),
        "memory_mb": int(flavor.get("memory_mb", 0)),
        "vcpus": int(flavor.get("vcpus", 0)),
        "root_gb": int(flavor.get("root_gb", 0)),
        "ephemeral_gb": int(flavor.get("ephemeral_gb", 0)),
        "name": flavor.get("name"),
        "swap": int(flavor.get("swap", 0) or 0),
        "rxtx_factor": float(flavor.get("rxtx_factor", 1.0)),
        "vcpu_weight": int(flavor.get("vcpu_weight", 0) or 0),
        "disabled": bool(flavor.get("disabled", False)),
        "is_public": bool(flavor.get("is_public", True)),
        "extra_specs": dict(flavor.get("extra_specs") or {}),
        "projects": None,
        "description": flavor.get("description"),
    }
    return envelope("FlavorPayload", "1.4", data)


def ip_payloads(instance: Instance) -> list[dict[str, Any]]:
    """The instance's fixed IPs, from the network info its ports recorded (if any)."""
    out = []
    for vif in (instance.system_metadata or {}).get("network_info") or []:
        for ip in vif.get("fixed_ips") or []:
            address = str(ip.get("address", ""))
            data = {
                "label": vif.get("network_label") or vif.get("network_name"),
                "mac": vif.get("mac_address") or vif.get("mac"),
                "meta": {},
                "port_uuid": vif.get("id") or vif.get("port_id"),
                "version": 6 if ":" in address else 4,
                "address": address,
                "device_name": vif.get("devname") or f"tap{str(vif.get('id', ''))[:11]}",
            }
            out.append(envelope("IpPayload", "1.0", data))
    return out


def exception_payload(fault: Any) -> dict[str, Any] | None:
    """An ExceptionPayload from a fault dict (or message)."""
    if not fault:
        return None
    if isinstance(fault, str):
        fault = {"message": fault}
    data = {
        "module_name": str(fault.get("module_name", "onestack.compute")),
        "function_name": str(fault.get("function_name", "")),
        "exception": str(fault.get("exception", "VirtError")),
        "exception_message": str(fault.get("message", "")),
        "traceback": str(fault.get("details", "")),
    }
    return envelope("ExceptionPayload", "1.1", data)


def instance_payload(
    instance: Instance,
    ctx: RequestContext | None,
    event_type: str,
    *,
    fault: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """The versioned payload of ``event_type`` about ``instance``."""
    kind = kind_of(event_type)
    version, fields = KINDS[kind]
    props = (instance.request_spec or {}).get("image_properties") or {}
    data: dict[str, Any] = {
        "uuid": instance.uuid,
        "user_id": instance.user_id,
        "tenant_id": instance.project_id,
        "reservation_id": instance.reservation_id or "",
        "display_name": instance.name,
        "display_description": instance.description,
        "host_name": instance.hostname or instance.name,
        "host": instance.host,
        "node": instance.node,
        "os_type": props.get("os_type"),
        "architecture": props.get("architecture") or props.get("hw_architecture"),
        "availability_zone": instance.availability_zone,
        "image_uuid": instance.image_ref or "",
        "key_name": instance.key_name,
        "kernel_id": props.get("kernel_id", ""),
        "ramdisk_id": props.get("ramdisk_id", ""),
        "created_at": _time(instance.created_at),
        "launched_at": _time(instance.launched_at),
        "terminated_at": _time(instance.terminated_at),
        "deleted_at": _time(instance.deleted_at),
        "updated_at": _time(instance.updated_at),
        "state": instance.vm_state,
        "power_state": POWER_STATES.get(instance.power_state, "pending"),
        "task_state": instance.task_state,
        "progress": instance.progress or 0,
        "ip_addresses": ip_payloads(instance),
        "block_devices": [],
        "flavor": flavor_payload(instance.flavor),
        "metadata": dict(instance.metadata_ or {}),
        "locked": bool(instance.locked),
        "locked_reason": instance.locked_reason,
        "auto_disk_config": instance.disk_config or "MANUAL",
        "request_id": ctx.request_id if ctx else None,
        "action_initiator_user": ctx.user_id if ctx else None,
        "action_initiator_project": ctx.project_id if ctx else None,
    }
    if "fault" in fields:
        data["fault"] = exception_payload(fault)
    if kind == "InstanceCreatePayload":
        data.update(
            keypairs=[],
            tags=list(instance.tags or []),
            trusted_image_certificates=None,
            instance_name=f"instance-{instance.id:08x}",
        )
    elif kind == "InstanceActionSnapshotPayload":
        data["snapshot_image_id"] = extra.get("image_id")
    elif kind == "InstanceActionRebuildPayload":
        data["trusted_image_certificates"] = None
    elif kind == "InstanceActionResizePrepPayload":
        data["new_flavor"] = flavor_payload(instance.new_flavor)
    elif kind == "InstanceExistsPayload":
        begin, end = extra["audit_period"]
        data["audit_period"] = envelope(
            "AuditPeriodPayload",
            "1.0",
            {"audit_period_beginning": _time(begin), "audit_period_ending": _time(end)},
        )
    return envelope(kind, version, data)
