"""Default Networking policy: Neutron's secure-RBAC defaults (admin, project member, project
reader), with its visibility rules for shared and external networks.

Targets carry ``project_id`` of the resource, ``shared`` / ``external`` (visible to every
project, or to the caller's through RBAC); a port or subnet target also carries
``network:project_id``. Attribute rules (``create_network:shared``,
``get_port:binding:host_id``, ...) guard what only admins may set or see. Any rule can be
overridden by a policy.yaml (``[network] policy_file``).
"""

from __future__ import annotations

ADMIN = "role:admin"
MEMBER = "role:member and project_id:%(project_id)s"
READER = "role:reader and project_id:%(project_id)s"
NET_OWNER_MEMBER = "role:member and project_id:%(network:project_id)s"
NET_OWNER_READER = "role:reader and project_id:%(network:project_id)s"
ADMIN_OR_MEMBER = f"rule:admin_only or ({MEMBER})"
ADMIN_OR_READER = f"rule:admin_only or ({READER})"
SHARED = "'True':%(shared)s"
EXTERNAL = "'True':%(external)s"

#: Resources with the plain owner rules: create/update/delete by a member, get by a reader.
_PLAIN = (
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "address_group",
    "address_scope",
    "subnetpool",
    "rbac_policy",
    "floatingip_port_forwarding",
    "trunk",
)

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": ADMIN,
    "admin_only": "rule:context_is_admin",
    "default": "rule:admin_only",
    "shared": SHARED,
    "external": EXTERNAL,
    # networks
    "create_network": ADMIN_OR_MEMBER,
    "get_network": f"{ADMIN_OR_READER} or (role:reader and (rule:shared or rule:external))",
    "update_network": ADMIN_OR_MEMBER,
    "delete_network": ADMIN_OR_MEMBER,
    # subnets: on one's own network or a shared one
    "create_subnet": f"rule:admin_only or ({NET_OWNER_MEMBER})",
    "get_subnet": f"{ADMIN_OR_READER} or ({NET_OWNER_READER}) or "
    "(role:reader and (rule:shared or rule:external))",
    "update_subnet": f"rule:admin_only or ({NET_OWNER_MEMBER})",
    "delete_subnet": f"rule:admin_only or ({NET_OWNER_MEMBER})",
    # ports: one's own, or on one's own network
    "create_port": f"rule:admin_only or ({MEMBER})",
    "get_port": f"{ADMIN_OR_READER} or ({NET_OWNER_READER})",
    "update_port": f"{ADMIN_OR_MEMBER} or ({NET_OWNER_MEMBER})",
    "delete_port": f"{ADMIN_OR_MEMBER} or ({NET_OWNER_MEMBER})",
    # quotas, agents, availability zones, IP availability, segments: admins (zones: readers)
    "get_quota": f"{ADMIN_OR_READER}",
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
    "get_agent": ADMIN,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
    "get_l3-routers": ADMIN,
    "create_l3-router": ADMIN,
    "delete_l3-router": ADMIN,
    "get_l3-agents": ADMIN,
    "get_dhcp-networks": ADMIN,
    "create_dhcp-network": ADMIN,
    "delete_dhcp-network": ADMIN,
    "get_dhcp-agents": ADMIN,
    "get_availability_zone": "role:reader",
    "get_network_ip_availability": ADMIN,
    "create_segment": ADMIN,
    "get_segment": ADMIN,
    "update_segment": ADMIN,
    "delete_segment": ADMIN,
    "get_auto_allocated_topology": ADMIN_OR_READER,
    "create_auto_allocated_topology": ADMIN_OR_MEMBER,
    "delete_auto_allocated_topology": ADMIN_OR_MEMBER,
    "get_extension": "",
    "add_router_interface": ADMIN_OR_MEMBER,
    "remove_router_interface": ADMIN_OR_MEMBER,
    "get_tags": ADMIN_OR_READER,
    "update_tags": ADMIN_OR_MEMBER,
}
for _name in _PLAIN:
    DEFAULT_RULES[f"create_{_name}"] = ADMIN_OR_MEMBER
    DEFAULT_RULES[f"get_{_name}"] = ADMIN_OR_READER
    DEFAULT_RULES[f"update_{_name}"] = ADMIN_OR_MEMBER
    DEFAULT_RULES[f"delete_{_name}"] = ADMIN_OR_MEMBER

#: Attributes only admins may set (``create_x:attr`` / ``update_x:attr``) or see
#: (``get_x:attr``); the rule names are Neutron's.
ADMIN_SET: dict[str, tuple[str, ...]] = {
    "network": (
        "shared",
        "router:external",
        "is_default",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "segments",
    ),
    "port": (
        "binding:host_id",
        "binding:profile",
        "mac_address",
        "device_owner",
        "port_security_enabled",
    ),
    "router": ("distributed", "ha", "external_gateway_info:external_fixed_ips"),
    "subnetpool": ("shared", "is_default"),
    "address_scope": ("shared",),
    "security_group": ("shared",),
}
ADMIN_GET: dict[str, tuple[str, ...]] = {
    "network": (
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "segments",
    ),
    "port": ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"),
    "router": ("distributed", "ha"),
}
for _member, _attrs in ADMIN_SET.items():
    for _attr in _attrs:
        DEFAULT_RULES[f"create_{_member}:{_attr}"] = ADMIN
        DEFAULT_RULES[f"update_{_member}:{_attr}"] = ADMIN
for _member, _attrs in ADMIN_GET.items():
    for _attr in _attrs:
        DEFAULT_RULES[f"get_{_member}:{_attr}"] = ADMIN
# a network's owner may set its own port's security (Neutron: admin or network owner)
DEFAULT_RULES["create_port:port_security_enabled"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["update_port:port_security_enabled"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
# fixed addresses on one's own network, or the router's and DHCP's owners
DEFAULT_RULES["create_port:fixed_ips:ip_address"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["update_port:fixed_ips:ip_address"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["create_port:mac_address"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["update_port:mac_address"] = ADMIN
#: checked only for the ``network:*`` owners (router interfaces, DHCP, gateways)
DEFAULT_RULES["create_port:device_owner"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["update_port:device_owner"] = f"rule:admin_only or ({NET_OWNER_MEMBER})"
DEFAULT_RULES["create_floatingip:floating_ip_address"] = ADMIN
DEFAULT_RULES["create_router:external_gateway_info:enable_snat"] = ADMIN
DEFAULT_RULES["update_router:external_gateway_info:enable_snat"] = ADMIN
# QoS policies: admins make them, readers of the project (or anyone, when shared) read them
for _action in ("create", "update", "delete"):
    DEFAULT_RULES[f"{_action}_policy"] = ADMIN
DEFAULT_RULES["create_policy:shared"] = ADMIN
DEFAULT_RULES["update_policy:shared"] = ADMIN
DEFAULT_RULES["get_policy"] = f"{ADMIN_OR_READER} or (role:reader and rule:shared)"
