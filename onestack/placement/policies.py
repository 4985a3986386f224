"""Default Placement policy, as upstream Placement's secure-RBAC defaults.

Placement is an admin and service API: the admin role or the service role (the service users
Compute and Networking call it with) may do everything; a reader on the system may read. The
one project-facing read is ``/usages`` of the caller's own project. Any rule can be overridden
by a policy.yaml (``[placement] policy_file``).
"""

from __future__ import annotations

ADMIN_OR_SERVICE = "role:admin or role:service"
READER = f"{ADMIN_OR_SERVICE} or (role:reader and system_scope:all)"
PROJECT_READER = f"{READER} or (role:reader and project_id:%(project_id)s)"

_AREAS = {
    "resource_providers": ("list", "create", "show", "update", "delete"),
    "resource_classes": ("list", "create", "show", "update", "delete"),
    "resource_providers:inventories": ("list", "create", "show", "update", "delete"),
    "resource_providers:aggregates": ("list", "update"),
    "resource_providers:usages": ("list",),
    "resource_providers:allocations": ("list",),
    "resource_providers:traits": ("list", "update", "delete"),
    "traits": ("list", "show", "update", "delete"),
    "allocations": ("list", "manage", "update", "delete"),
    "allocation_candidates": ("list",),
    "reshaper": ("reshape",),
}
_READS = {"list", "show"}

DEFAULT_RULES: dict[str, str] = {
    "admin_api": "role:admin",
    "service_api": "role:service",
    "context_is_admin": "role:admin",
    **{
        f"placement:{area}:{action}": READER if action in _READS else ADMIN_OR_SERVICE
        for area, actions in _AREAS.items()
        for action in actions
    },
    "placement:usages": PROJECT_READER,
}
