"""The wire shape of servers, flavors and keypairs, by negotiated microversion."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from onestack.common.microversions import Version
from onestack.compute import network, states
from onestack.compute.models import Flavor, Instance, KeyPair


def _plain(version: Version | tuple[int, int]) -> Any:
    """The version as a plain tuple: views compare it many times per server."""
    return version.as_tuple() if isinstance(version, Version) else tuple(version)


def iso(value: Any) -> str | None:
    """``%Y-%m-%dT%H:%M:%SZ`` (for a naive UTC datetime, isoformat: a third of strftime's cost)."""
    if value is None:
        return None
    if type(value) is dt.datetime and value.tzinfo is None:
        return value.isoformat(timespec="seconds") + "Z"
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def iso_usec(value: Any) -> str | None:
    """``%Y-%m-%dT%H:%M:%S.%f``."""
    if value is None:
        return None
    if type(value) is dt.datetime and value.tzinfo is None:
        return value.isoformat(timespec="microseconds")
    return str(value.strftime("%Y-%m-%dT%H:%M:%S.%f"))


def links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"},
    ]


def host_id(instance: Instance) -> str:
    if not instance.host:
        return ""
    return hashlib.sha224((instance.project_id + instance.host).encode()).hexdigest()


def server_brief(base: str, instance: Instance) -> dict[str, Any]:
    return {
        "id": instance.uuid,
        "name": instance.name,
        "links": links(base, "servers", instance.uuid),
    }


def _flavor(
    base: str, instance: Instance, version: tuple[int, int], show_specs: bool
) -> dict[str, Any]:
    flavor = instance.flavor or {}
    if version >= (2, 47):
        body: dict[str, Any] = {
            "vcpus": flavor.get("vcpus"),
            "ram": flavor.get("memory_mb"),
            "disk": flavor.get("root_gb"),
            "ephemeral": flavor.get("ephemeral_gb", 0),
            "swap": flavor.get("swap", 0),
            "original_name": flavor.get("name"),
        }
        if show_specs:
            body["extra_specs"] = dict(flavor.get("extra_specs") or {})
        return body
    fid = flavor.get("flavorid", "")
    return {"id": fid, "links": [{"rel": "bookmark", "href": f"{base}/flavors/{fid}"}]}


def server_detail(
    base: str,
    instance: Instance,
    version: Any,
    *,
    admin: bool,
    show_specs: bool = True,
    host_status: str | None = None,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    version = _plain(version)
    status = states.status(instance.vm_state, instance.task_state)
    image: Any = ""
    if instance.image_ref:
        image = {
            "id": instance.image_ref,
            "links": [{"rel": "bookmark", "href": f"{base}/images/{instance.image_ref}"}],
        }
    body: dict[str, Any] = {
        "id": instance.uuid,
        "name": instance.name,
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata_ or {}),
        "hostId": host_id(instance),
        "image": image,
        "flavor": _flavor(base, instance, version, show_specs),
        "created": iso(instance.created_at),
        "updated": iso(instance.updated_at or instance.created_at),
        "addresses": network.addresses(network.cached(instance)),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": links(base, "servers", instance.uuid),
        "OS-DCF:diskConfig": instance.disk_config,
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "",
        "config_drive": instance.config_drive or "",
        "key_name": instance.key_name,
        "OS-SRV-USG:launched_at": iso_usec(instance.launched_at),
        "OS-SRV-USG:terminated_at": iso_usec(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "os-extended-volumes:volumes_attached": [],
    }
    if status in ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"):
        body["progress"] = instance.progress if status != "ACTIVE" else 100
    if instance.security_groups:
        body["security_groups"] = [{"name": n} for n in instance.security_groups]
    if instance.fault and status in ("ERROR", "DELETED"):
        fault = {
            "code": instance.fault.get("code", 500),
            "created": instance.fault.get("created"),
            "message": instance.fault.get("message", ""),
        }
        if admin or fault["code"] != 500:
            fault["details"] = instance.fault.get("details", "")
        body["fault"] = fault
    if admin:
        body["OS-EXT-SRV-ATTR:host"] = instance.host
        body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
        body["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{instance.id:08x}"
    if version >= (2, 3) and admin:
        body.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": instance.user_data,
            }
        )
    if version >= (2, 90) and not admin:
        body["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
    if version >= (2, 9):
        body["locked"] = instance.locked
    if version >= (2, 16) and host_status is not None:
        body["host_status"] = host_status
    if version >= (2, 19):
        body["description"] = instance.description
    if version >= (2, 26):
        body["tags"] = list(instance.tags or [])
    if version >= (2, 63):
        body["trusted_image_certificates"] = None
    if version >= (2, 71) and groups is not None:
        body["server_groups"] = groups
    if version >= (2, 73):
        body["locked_reason"] = instance.locked_reason
    if version >= (2, 96):
        body["pinned_availability_zone"] = instance.requested_zone
    return body


def flavor_view(
    base: str, flavor: Flavor, version: Any, *, brief: bool = False, show_specs: bool = False
) -> dict[str, Any]:
    version = _plain(version)
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(base, "flavors", flavor.flavorid),
    }
    if version >= (2, 55):
        body["description"] = flavor.description
    if brief:
        return body
    body.update(
        {
            "ram": flavor.memory_mb,
            "disk": flavor.root_gb,
            "vcpus": flavor.vcpus,
            "swap": flavor.swap or "",
            "rxtx_factor": flavor.rxtx_factor,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": flavor.disabled,
            "os-flavor-access:is_public": flavor.is_public,
        }
    )
    if version >= (2, 75) and not flavor.swap:
        body["swap"] = 0
    if version >= (2, 61) and show_specs:
        body["extra_specs"] = dict(flavor.extra_specs or {})
    return body


def keypair_view(pair: KeyPair, version: Any, *, detail: bool) -> dict[str, Any]:
    version = _plain(version)
    body: dict[str, Any] = {
        "name": pair.name,
        "public_key": pair.public_key,
        "fingerprint": pair.fingerprint,
    }
    if version >= (2, 2):
        body["type"] = pair.type
    if detail:
        body.update(
            {
                "user_id": pair.user_id,
                "created_at": iso_usec(pair.created_at),
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
                "id": pair.id,
            }
        )
    return body
