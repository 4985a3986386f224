"""What a guest learns about itself, as Nova's ``InstanceMetadata`` says it: the OpenStack
tree (``meta_data.json``, ``network_data.json``, ``vendor_data*.json``, ``user_data``) and
the EC2 view of the same facts. One builder for the config drive and the metadata API.

Content follows the version asked for (``/openstack/<version>/``): a field appears from the
release that added it, ``latest`` has them all.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from typing import Any

from onestack.compute.virt.driver import GuestSpec

#: Nova's OpenStack metadata versions (Folsom ... Victoria), oldest first
OPENSTACK_VERSIONS = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "2020-10-14",
)
#: the EC2 metadata versions Nova answers
EC2_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)
LATEST = "latest"
#: the release that added each path or field (absent: there from the first version)
SINCE = {
    "random_seed": "2013-04-04",
    "password": "2013-04-04",
    "project_id": "2013-10-17",
    "vendor_data.json": "2013-10-17",
    "network_data.json": "2015-10-15",
    "devices": "2016-06-30",
    "vendor_data2.json": "2016-10-06",
    "dedicated_cpus": "2020-10-14",
}


def has(version: str, item: str) -> bool:
    """Whether ``item`` exists in OpenStack metadata ``version`` (ISO dates sort as text)."""
    return version == LATEST or version >= SINCE.get(item, OPENSTACK_VERSIONS[0])


def meta_data(
    guest: GuestSpec,
    version: str = LATEST,
    *,
    launch_index: int = 0,
    admin_pass: bool = False,
    random_seed: bool = True,
) -> dict[str, Any]:
    """``openstack/<version>/meta_data.json``. ``admin_pass`` only on a config drive (the
    metadata API never serves it, as Nova); ``random_seed`` fresh on every call."""
    data: dict[str, Any] = {
        "uuid": guest.uuid,
        "name": guest.name,
        "hostname": guest.name,
        "launch_index": launch_index,
        "availability_zone": guest.availability_zone,
        "meta": {str(k): str(v) for k, v in guest.metadata.items()},
    }
    if has(version, "project_id"):
        data["project_id"] = guest.project_id
    if has(version, "devices"):
        data["devices"] = []
    if has(version, "dedicated_cpus"):
        data["dedicated_cpus"] = []
    if random_seed and has(version, "random_seed"):
        data["random_seed"] = base64.b64encode(os.urandom(512)).decode()
    if guest.key_data:
        name = guest.key_name or "key"
        key = guest.key_data.strip() + "\n"
        data["public_keys"] = {name: key}
        data["keys"] = [{"name": name, "type": "ssh", "data": key}]
    if admin_pass and guest.admin_password:
        data["admin_pass"] = guest.admin_password
    return data


def network_data(guest: GuestSpec) -> dict[str, Any]:
    """``network_data.json`` from the instance's network info cache: a link per port, a
    network per fixed IP (DHCP where its subnet has it, else the static address and its
    default route), the subnets' DNS servers as services."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    dns: list[str] = []
    for i, port in enumerate(guest.network_info):
        net = port.get("network") or {}
        link = str(port.get("devname") or f"tap{str(port.get('id', i))[:11]}")
        links.append(
            {
                "id": link,
                "type": port.get("binding:vif_type") or "bridge",
                "ethernet_mac_address": port.get("mac_address", ""),
                "mtu": net.get("mtu") or port.get("mtu") or 1500,
                "vif_id": port.get("id", ""),
            }
        )
        network_id = net.get("id") or port.get("network_id", "")
        ips = port.get("fixed_ips") or []
        if not ips:
            networks.append(
                {
                    "id": f"network{len(networks)}",
                    "type": "ipv4_dhcp",
                    "link": link,
                    "network_id": network_id,
                }
            )
        for ip in ips:
            subnet = ip.get("subnet") or {}
            servers = [str(s) for s in subnet.get("dns_nameservers") or []]
            dns += [s for s in servers if s not in dns]
            networks.append(_network(f"network{len(networks)}", link, network_id, ip, subnet))
    services = [{"type": "dns", "address": address} for address in dns]
    return {"links": links, "networks": networks, "services": services}


def _network(
    ident: str, link: str, network_id: str, ip: dict[str, Any], subnet: dict[str, Any]
) -> dict[str, Any]:
    version = int(ip.get("version") or 4)
    if subnet.get("enable_dhcp", True) and version == 4:
        return {"id": ident, "type": "ipv4_dhcp", "link": link, "network_id": network_id}
    out: dict[str, Any] = {
        "id": ident,
        "type": f"ipv{version}",
        "link": link,
        "ip_address": ip.get("ip_address", ""),
        "network_id": network_id,
        "routes": [],
    }
    if subnet.get("cidr"):
        out["netmask"] = str(ipaddress.ip_network(subnet["cidr"], strict=False).netmask)
    if subnet.get("gateway_ip"):
        default = "0.0.0.0" if version == 4 else "::"
        mask = "0.0.0.0" if version == 4 else "::"
        out["routes"] = [{"network": default, "netmask": mask, "gateway": subnet["gateway_ip"]}]
    servers = subnet.get("dns_nameservers") or []
    if servers:
        out["services"] = [{"type": "dns", "address": str(s)} for s in servers]
    return out


def fixed_ipv4(guest: GuestSpec) -> str:
    """The first fixed IPv4 address (EC2's ``local-ipv4``), or ""."""
    return next((ip for ip, _ in _addresses(guest) if ":" not in ip), "")


def floating_ipv4(guest: GuestSpec) -> str:
    """The first floating IPv4 address (EC2's ``public-ipv4``), or ""."""
    for _, floating in _addresses(guest):
        for address in floating:
            if ":" not in address:
                return address
    return ""


def _addresses(guest: GuestSpec) -> list[tuple[str, list[str]]]:
    return [
        (str(ip.get("ip_address", "")), list(ip.get("floating_ips") or []))
        for port in guest.network_info
        for ip in port.get("fixed_ips") or []
    ]


def ec2_meta_data(guest: GuestSpec, *, launch_index: int = 0) -> dict[str, Any]:
    """EC2's ``meta-data`` tree (a nested dict: leaves are strings or lists of lines)."""
    local, public = fixed_ipv4(guest), floating_ipv4(guest)
    data: dict[str, Any] = {
        "ami-id": guest.image_ref,
        "ami-launch-index": launch_index,
        "ami-manifest-path": "FIXME",
        "block-device-mapping": {"ami": "vda", "root": "/dev/vda"},
        "hostname": guest.name,
        "instance-action": "none",
        "instance-id": guest.uuid,
        "instance-type": guest.flavor_name,
        "local-hostname": guest.name,
        "local-ipv4": local,
        "placement": {"availability-zone": guest.availability_zone},
        "public-hostname": guest.name,
        "public-ipv4": public,
        "reservation-id": guest.reservation_id,
        "security-groups": [],
    }
    if guest.key_data:
        data["public-keys"] = {"0": {"openssh-key": guest.key_data.strip() + "\n"}}
    return data


def vendor_data(guest: GuestSpec) -> dict[str, Any]:
    """``vendor_data.json`` and ``vendor_data2.json``: none configured."""
    return {}


def user_data(guest: GuestSpec) -> bytes | None:
    """The user data as the guest reads it (the API keeps it base64-encoded), or None."""
    if guest.user_data is None:
        return None
    try:
        return base64.b64decode(guest.user_data, validate=True)
    except (binascii.Error, ValueError):
        return guest.user_data.encode()
