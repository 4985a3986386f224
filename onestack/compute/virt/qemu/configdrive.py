"""The config drive: an ISO 9660 image labelled ``config-2`` as Nova writes it.

``openstack/{latest,2012-08-10}/`` holds ``meta_data.json``, ``network_data.json``,
``vendor_data.json``, ``vendor_data2.json`` and ``user_data``; ``ec2/{latest,2009-04-04}/``
the EC2 view of the same facts (``meta-data.json``, ``user-data``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pycdlib

from onestack.compute.virt.driver import GuestSpec

OPENSTACK_VERSIONS = ("2012-08-10", "latest")
EC2_VERSIONS = ("2009-04-04", "latest")


def meta_data(guest: GuestSpec) -> dict[str, Any]:
    """``openstack/latest/meta_data.json``."""
    data: dict[str, Any] = {
        "uuid": guest.uuid,
        "name": guest.name,
        "hostname": guest.name,
        "launch_index": 0,
        "availability_zone": guest.availability_zone,
        "project_id": guest.project_id,
        "meta": {str(k): str(v) for k, v in guest.metadata.items()},
        "devices": [],
    }
    if guest.key_data:
        name = guest.key_name or "key"
        data["public_keys"] = {name: guest.key_data.strip() + "\n"}
        data["keys"] = [{"name": name, "type": "ssh", "data": guest.key_data.strip() + "\n"}]
    if guest.admin_password:
        data["admin_pass"] = guest.admin_password
    return data


def network_data(guest: GuestSpec) -> dict[str, Any]:
    """``network_data.json``: a link per port, DHCP on each (the Networking service's)."""
    links, networks = [], []
    for i, port in enumerate(guest.network_info):
        link = f"tap{str(port.get('id', i))[:11]}"
        links.append(
            {
                "id": link,
                "type": "ovs" if port.get("binding:vif_type") == "ovs" else "bridge",
                "ethernet_mac_address": port.get("mac_address", ""),
                "mtu": port.get("mtu") or 1500,
                "vif_id": port.get("id", ""),
            }
        )
        networks.append(
            {
                "id": f"network{i}",
                "type": "ipv4_dhcp",
                "link": link,
                "network_id": port.get("network_id", ""),
            }
        )
    return {"links": links, "networks": networks, "services": []}


def ec2_meta_data(guest: GuestSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ami-id": guest.image_ref,
        "ami-launch-index": 0,
        "hostname": guest.name,
        "local-hostname": guest.name,
        "instance-id": guest.uuid,
        "instance-type": guest.flavor_name,
        "placement": {"availability-zone": guest.availability_zone},
        "reservation-id": guest.reservation_id,
        "security-groups": [],
    }
    if guest.key_data:
        data["public-keys"] = {"0": {"openssh-key": guest.key_data.strip() + "\n"}}
    return data


def files(guest: GuestSpec) -> dict[str, bytes]:
    """The drive's files by path."""
    out: dict[str, bytes] = {}
    meta = orjson.dumps(meta_data(guest))
    net = orjson.dumps(network_data(guest))
    for version in OPENSTACK_VERSIONS:
        base = f"openstack/{version}"
        out[f"{base}/meta_data.json"] = meta
        out[f"{base}/network_data.json"] = net
        out[f"{base}/vendor_data.json"] = b"{}"
        out[f"{base}/vendor_data2.json"] = b"{}"
        if guest.user_data is not None:
            out[f"{base}/user_data"] = _user_data(guest.user_data)
    ec2 = orjson.dumps(ec2_meta_data(guest))
    for version in EC2_VERSIONS:
        out[f"ec2/{version}/meta-data.json"] = ec2
        if guest.user_data is not None:
            out[f"ec2/{version}/user-data"] = _user_data(guest.user_data)
    return out


def _user_data(value: str) -> bytes:
    """The API keeps user data base64-encoded; the guest reads it decoded."""
    import base64
    import binascii

    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


def write(guest: GuestSpec, path: Path) -> None:
    """The ISO (Joliet and Rock Ridge names, so long and lower-case names survive)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    made: set[str] = set()
    for name, data in sorted(files(guest).items()):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in made:
                made.add(folder)
                iso.add_directory(
                    _iso_name(folder, directory=True),
                    rr_name=parts[depth - 1],
                    joliet_path="/" + folder,
                )
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            _iso_name(name),
            rr_name=parts[-1],
            joliet_path="/" + name,
        )
    tmp = path.with_suffix(".tmp")
    iso.write(str(tmp))
    iso.close()
    tmp.replace(path)


def _iso_name(path: str, directory: bool = False) -> str:
    """An ISO 9660 level 3 name for ``path`` (upper case, [A-Z0-9_], ``;1`` on files)."""
    parts = []
    for i, part in enumerate(path.split("/")):
        last = i == len(path.split("/")) - 1
        clean = "".join(c if c.isalnum() else "_" for c in part.upper())
        if last and not directory:
            stem, _, ext = clean.rpartition("_") if "." in part else (clean, "", "")
            clean = f"{stem}.{ext};1" if stem else f"{clean};1"
        parts.append(clean[:30])
    return "/" + "/".join(parts)
