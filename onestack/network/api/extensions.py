"""/v2.0/extensions: exactly the extensions this service implements, by Neutron's aliases."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.network.api import Caller, protected_router
from onestack.network.errors import not_found

router = protected_router()
UPDATED = "2026-12-01T00:00:00-00:00"

EXTENSIONS: dict[str, tuple[str, str]] = {
    "address-group": ("Address group", "Address groups as remotes of security group rules"),
    "address-scope": ("Address scope", "Address scopes grouping subnet pools"),
    "agent": ("agent", "The agents API"),
    "allowed-address-pairs": ("Allowed Address Pairs", "Extra addresses a port may send from"),
    "auto-allocated-topology": (
        "Auto Allocated Topology Services",
        "Get me a network: a project's network, subnet and router",
    ),
    "availability_zone": ("Availability Zone", "The availability zone resource"),
    "network_availability_zone": (
        "Network Availability Zone",
        "availability_zone_hints on networks",
    ),
    "router_availability_zone": ("Router Availability Zone", "availability_zone_hints on routers"),
    "binding": (
        "Port Binding",
        "binding:host_id, binding:vif_type, binding:vif_details, "
        "binding:vnic_type and binding:profile",
    ),
    "default-subnetpools": ("Default Subnetpools", "Default subnet pools for subnets"),
    "dhcp_agent_scheduler": ("DHCP Agent Scheduler", "Schedule networks among dhcp agents"),
    "dns-integration": ("DNS Integration", "dns_name and dns_assignment on ports"),
    "dvr": ("Distributed Virtual Router", "distributed on routers (admins)"),
    "empty-string-filtering": ("Empty String Filtering", "An empty filter value matches null"),
    "external-net": ("Neutron external network", "router:external on networks"),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "enable_snat"),
    "extra_dhcp_opt": ("Neutron Extra DHCP options", "extra_dhcp_opts on ports"),
    "extraroute": ("Neutron Extra Route", "Static routes on routers"),
    "extraroute-atomic": (
        "Atomically add/remove extra routes",
        "add_extraroutes and remove_extraroutes",
    ),
    "fip-port-details": ("Floating IP Port Details Extension", "port_details on floating IPs"),
    "floating-ip-port-forwarding": (
        "Floating IP Port Forwarding",
        "Port forwardings of floating IPs",
    ),
    "ip-substring-filtering": (
        "IP address substring filtering",
        "fixed_ips=ip_address_substr= filters on ports",
    ),
    "l3_agent_scheduler": ("L3 Agent Scheduler", "Schedule routers among l3 agents"),
    "l3-ha": ("HA Router extension", "ha on routers (admins)"),
    "multi-provider": ("Multi Provider Network", "segments on networks"),
    "net-mtu": ("Network MTU", "mtu on networks"),
    "net-mtu-writable": ("Network MTU (writable)", "mtu may be updated"),
    "network-ip-availability": ("Network IP Availability", "Used and total addresses"),
    "pagination": ("Pagination support", "limit and marker with links"),
    "port-security": ("Port Security", "port_security_enabled on networks and ports"),
    "project-id": ("project_id field enabled", "project_id beside tenant_id"),
    "provider": ("Provider Network", "provider:* attributes on networks"),
    "qos": (
        "Quality of Service",
        "QoS policies with bandwidth limit, DSCP marking and minimum bandwidth rules",
    ),
    "qos-bw-limit-direction": ("Direction for QoS bandwidth limit rule", "ingress or egress"),
    "qos-default": ("QoS default policy", "is_default on QoS policies"),
    "qos-rule-type-details": ("Details of QoS rule types", "/qos/rule-types/{type}"),
    "rbac-qos": ("Add qos_policy type to RBAC", "QoS policies in RBAC"),
    "quotas": ("Quota management support", "The quotas API"),
    "quota_details": ("Quota details management support", "Used and limit per resource"),
    "rbac-policies": ("RBAC Policies", "Sharing networks by policy"),
    "rbac-address-group": ("Add address_group type to RBAC", "address groups in RBAC"),
    "rbac-address-scope": ("Add address_scope type to RBAC", "address scopes in RBAC"),
    "rbac-security-groups": ("Add security_group type to network RBAC", "security groups in RBAC"),
    "rbac-subnetpool": ("Add subnetpool type to RBAC", "subnet pools in RBAC"),
    "revision-if-match": (
        "If-Match constraints based on revision_number",
        "If-Match: revision_number=N on updates and deletes",
    ),
    "router": ("Neutron L3 Router", "Routers and floating IPs"),
    "security-group": ("security-group", "Security groups and rules"),
    "security-groups-normalized-cidr": (
        "Normalized CIDR field for security group rules",
        "normalized_cidr on rules",
    ),
    "security-groups-remote-address-group": (
        "Remote address group id field for security group rules",
        "remote_address_group_id",
    ),
    "security-groups-rules-belongs-to-default-sg": (
        "Security group rule belongs to the project's default security group",
        "belongs_to_default_sg on rules",
    ),
    "segment": ("Segment", "Segments of networks"),
    "sorting": ("Sorting support", "sort_key and sort_dir"),
    "standard-attr-description": ("standard-attr-description", "description everywhere"),
    "standard-attr-revisions": ("Resource revision numbers", "revision_number everywhere"),
    "standard-attr-tag": ("Tag support for resources", "tags and tag filters"),
    "standard-attr-timestamp": ("Resource timestamps", "created_at and updated_at"),
    "stateful-security-group": ("Stateful security group", "stateful on security groups"),
    "subnet_allocation": ("Subnet Allocation", "Subnets carved from subnet pools"),
    "subnet-dns-publish-fixed-ip": ("Subnet DNS publish fixed IP", "dns_publish_fixed_ip"),
    "subnet-service-types": ("Subnet service types", "service_types on subnets"),
    "trunk": ("Trunk Extension", "Trunks of a parent port and VLAN sub-ports"),
    "trunk-details": ("Trunk port details", "trunk_details on trunk parent ports"),
    "uplink-status-propagation": ("Uplink status propagation", "propagate_uplink_status"),
}


def _view(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


@router.get("/extensions")
async def list_extensions(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"extensions": [_view(a) for a in sorted(EXTENSIONS)]})


@router.get("/extensions/{alias}")
async def show_extension(request: Request, alias: str, ctx: RequestContext = Caller) -> Response:
    if alias not in EXTENSIONS:
        raise not_found("ExtensionNotFound", "Extension", alias)
    return json({"extension": _view(alias)})
