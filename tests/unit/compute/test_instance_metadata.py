"""The one builder of a guest's metadata (config drive and metadata API): fields by
version, network_data.json from the network info cache, the EC2 addresses."""

from __future__ import annotations

from onestack.compute import instance_metadata as md
from onestack.compute.virt.driver import GuestSpec
from onestack.compute.virt.qemu import configdrive

PORT = {
    "id": "5f0c1e2a-aaaa-bbbb-cccc-000000000001",
    "mac_address": "fa:16:3e:00:00:01",
    "devname": "tap5f0c1e2a-aa",
    "network": {"id": "net-1", "name": "private", "mtu": 1450},
    "binding:vif_type": "bridge",
    "fixed_ips": [
        {"ip_address": "10.0.0.5", "version": 4, "floating_ips": ["172.24.4.9"],
         "subnet": {"cidr": "10.0.0.0/26", "gateway_ip": "10.0.0.1",
                    "dns_nameservers": ["10.0.0.2"], "enable_dhcp": True}},
        {"ip_address": "fd00::5", "version": 6, "floating_ips": [],
         "subnet": {"cidr": "fd00::/64", "gateway_ip": "fd00::1", "dns_nameservers": [],
                    "enable_dhcp": False}},
    ],
}  # fmt: skip
GUEST = GuestSpec(uuid="u-1", name="web", vcpus=1, memory_mb=64, root_gb=1, project_id="p",
                  admin_password="pw", network_info=(PORT,))  # fmt: skip


def test_fields_appear_from_the_release_that_added_them() -> None:
    folsom = md.meta_data(GUEST, "2012-08-10")
    assert not {"project_id", "random_seed", "devices", "dedicated_cpus"} & set(folsom)
    assert "project_id" in md.meta_data(GUEST, "2013-10-17")
    assert "dedicated_cpus" not in md.meta_data(GUEST, "2018-08-27")
    latest = md.meta_data(GUEST)
    assert {"project_id", "random_seed", "devices", "dedicated_cpus"} <= set(latest)
    assert "admin_pass" not in latest and md.meta_data(GUEST, admin_pass=True)["admin_pass"] == "pw"
    assert md.meta_data(GUEST)["random_seed"] != latest["random_seed"]


def test_network_data_links_dhcp_and_static_networks() -> None:
    net = md.network_data(GUEST)
    assert net["links"] == [{"id": "tap5f0c1e2a-aa", "type": "bridge", "vif_id": PORT["id"],
                             "ethernet_mac_address": "fa:16:3e:00:00:01", "mtu": 1450}]  # fmt: skip
    v4, v6 = net["networks"]
    assert v4 == {"id": "network0", "type": "ipv4_dhcp", "link": "tap5f0c1e2a-aa",
                  "network_id": "net-1"}  # fmt: skip
    assert v6["type"] == "ipv6" and v6["ip_address"] == "fd00::5"
    assert v6["netmask"] == "ffff:ffff:ffff:ffff::"
    assert v6["routes"] == [{"network": "::", "netmask": "::", "gateway": "fd00::1"}]
    assert net["services"] == [{"type": "dns", "address": "10.0.0.2"}]


def test_ec2_addresses_and_the_config_drive_share_the_builder() -> None:
    ec2 = md.ec2_meta_data(GUEST)
    assert ec2["local-ipv4"] == "10.0.0.5" and ec2["public-ipv4"] == "172.24.4.9"
    files = configdrive.files(GUEST)
    assert "openstack/2012-08-10/network_data.json" not in files
    assert "openstack/2015-10-15/network_data.json" in files
    assert b'"admin_pass":"pw"' in files["openstack/latest/meta_data.json"]
