"""Default Compute policy: Nova's secure-RBAC defaults (admin, project member, project reader).

Targets carry ``project_id`` (the server's or the resource's project) and, for keypairs,
``user_id``. Any rule can be overridden by a policy.yaml (``[compute] policy_file``).
``[compute] enforce_new_defaults = false`` also lets the rules Nova deprecated in Wallaby
(``admin_or_owner``: any role on the project) allow, as oslo.policy does with deprecated
rules; ``enforce_scope = true`` refuses system-scoped tokens, as Nova's rules are
``scope_types=["project"]``.
"""

from __future__ import annotations

ADMIN = "role:admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
MEMBER_OR_ADMIN = f"rule:context_is_admin or ({PROJECT_MEMBER})"
READER_OR_ADMIN = f"rule:context_is_admin or ({PROJECT_READER})"
ANY = "@"

P = "os_compute_api:"
_SERVER_ACTIONS_MEMBER = [
    "os-admin-password",
    "os-console-output",
    "os-create-backup",
    "os-deferred-delete:restore",
    "os-deferred-delete:force",
    "os-lock-server:lock",
    "os-lock-server:unlock",
    "os-pause-server:pause",
    "os-pause-server:unpause",
    "os-rescue",
    "os-unrescue",
    "os-shelve:shelve",
    "os-shelve:unshelve",
    "os-suspend-server:suspend",
    "os-suspend-server:resume",
    "servers:start",
    "servers:stop",
    "servers:reboot",
    "servers:resize",
    "servers:confirm_resize",
    "servers:revert_resize",
    "servers:rebuild",
    "servers:create_image",
    "servers:trigger_crash_dump",
    "os-remote-consoles",
    "os-security-groups:add",
    "os-security-groups:remove",
    "os-floating-ips:add",
    "os-floating-ips:remove",
    "os-attach-interfaces:create",
    "os-attach-interfaces:delete",
    "os-volumes-attachments:create",
    "os-volumes-attachments:delete",
    "os-volumes-attachments:update",
    "server-metadata:create",
    "server-metadata:update",
    "server-metadata:update_all",
    "server-metadata:delete",
    "os-server-tags:update",
    "os-server-tags:update_all",
    "os-server-tags:delete",
    "os-server-tags:delete_all",
    "os-server-password:clear",
]
_SERVER_READER = [
    "servers:index",
    "servers:detail",
    "servers:show",
    "server-metadata:index",
    "server-metadata:show",
    "os-server-tags:index",
    "os-server-tags:show",
    "ips:index",
    "ips:show",
    "os-instance-actions:list",
    "os-instance-actions:show",
    "os-attach-interfaces:list",
    "os-attach-interfaces:show",
    "os-volumes-attachments:index",
    "os-volumes-attachments:show",
    "os-server-groups:index",
    "os-server-groups:show",
    "os-security-groups:list",
    "servers:show:flavor-extra-specs",
    "servers:topology:index",
    "os-quota-sets:show",
    "os-quota-sets:detail",
    "os-simple-tenant-usage:show",
    "os-server-password:show",
]
_ADMIN_ONLY = [
    "servers:index:get_all_tenants",
    "servers:detail:get_all_tenants",
    "servers:create:forced_host",
    "servers:create:requested_destination",
    "os-extended-server-attributes",
    "os-lock-server:unlock:unlock_override",
    "os-admin-actions:reset_state",
    "os-admin-actions:inject_network_info",
    "os-migrate-server:migrate",
    "os-migrate-server:migrate_live",
    "os-evacuate",
    "os-shelve:shelve_offload",
    "os-shelve:unshelve_to_host",
    "os-flavor-manage:create",
    "os-flavor-manage:update",
    "os-flavor-manage:delete",
    "os-flavor-extra-specs:create",
    "os-flavor-extra-specs:update",
    "os-flavor-extra-specs:delete",
    "os-flavor-access:add_tenant_access",
    "os-flavor-access:remove_tenant_access",
    "os-flavor-access",
    "os-aggregates:index",
    "os-aggregates:create",
    "os-aggregates:show",
    "os-aggregates:update",
    "os-aggregates:delete",
    "os-aggregates:add_host",
    "os-aggregates:remove_host",
    "os-aggregates:set_metadata",
    "os-availability-zone:detail",
    "os-hypervisors:list",
    "os-hypervisors:list-detail",
    "os-hypervisors:show",
    "os-hypervisors:statistics",
    "os-hypervisors:servers",
    "os-hypervisors:search",
    "os-hypervisors:uptime",
    "os-services:list",
    "os-services:update",
    "os-services:delete",
    "os-quota-sets:update",
    "os-quota-sets:delete",
    "os-quota-class-sets:update",
    "os-simple-tenant-usage:list",
    "os-instance-usage-audit-log:list",
    "os-instance-usage-audit-log:show",
    "os-server-external-events:create",
    "os-instance-actions:events",
    "os-instance-actions:events:details",
    "servers:show:host_status",
    "servers:topology:host:index",
    "os-server-diagnostics",
    "servers:migrations:index",
    "servers:migrations:show",
    "servers:migrations:force_complete",
    "servers:migrations:delete",
    "os-migrations:index",
    "os-console-auth-tokens",
    "os-hosts:list",
    "os-server-groups:index:all_projects",
    "os-keypairs:index:all_users",
    "servers:allow_all_filters",
]

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": ADMIN,
    "admin_api": ADMIN,
    "project_member_or_admin": MEMBER_OR_ADMIN,
    "project_reader_or_admin": READER_OR_ADMIN,
    f"{P}servers:create": MEMBER_OR_ADMIN,
    f"{P}servers:create:attach_network": MEMBER_OR_ADMIN,
    f"{P}servers:create:attach_volume": MEMBER_OR_ADMIN,
    f"{P}servers:create:trusted_certs": MEMBER_OR_ADMIN,
    f"{P}servers:update": MEMBER_OR_ADMIN,
    f"{P}servers:delete": MEMBER_OR_ADMIN,
    f"{P}os-server-groups:create": PROJECT_MEMBER,
    f"{P}os-server-groups:delete": MEMBER_OR_ADMIN,
    f"{P}os-flavor-access:list": ANY,
    f"{P}flavors:index": ANY,
    f"{P}flavors:show": ANY,
    f"{P}os-flavor-extra-specs:index": ANY,
    f"{P}os-flavor-extra-specs:show": ANY,
    f"{P}os-keypairs:index": "rule:admin_api or user_id:%(user_id)s",
    f"{P}os-keypairs:show": "rule:admin_api or user_id:%(user_id)s",
    f"{P}os-keypairs:create": "rule:admin_api or user_id:%(user_id)s",
    f"{P}os-keypairs:delete": "rule:admin_api or user_id:%(user_id)s",
    f"{P}os-availability-zone:list": ANY,
    f"{P}limits": ANY,
    f"{P}limits:other_project": ADMIN,
    f"{P}os-quota-sets:defaults": ANY,
    f"{P}os-quota-class-sets:show": ADMIN,
    f"{P}extensions": ANY,
    f"{P}images": ANY,
    f"{P}os-tenant-networks": READER_OR_ADMIN,
    **{f"{P}{name}": MEMBER_OR_ADMIN for name in _SERVER_ACTIONS_MEMBER},
    **{f"{P}{name}": READER_OR_ADMIN for name in _SERVER_READER},
    **{f"{P}{name}": ADMIN for name in _ADMIN_ONLY},
}


#: Nova's rules before secure RBAC, which oslo.policy still honours when
#: ``enforce_new_defaults`` is off
LEGACY_OWNER = "rule:admin_or_owner"


def default_rules(enforce_new_defaults: bool = True) -> dict[str, str]:
    """The defaults; without the new defaults a project's own rule also allows any role of
    the project (Nova's deprecated ``admin_or_owner``)."""
    if enforce_new_defaults:
        return dict(DEFAULT_RULES)
    rules = {
        name: f"({check}) or {LEGACY_OWNER}"
        if check in (MEMBER_OR_ADMIN, READER_OR_ADMIN)
        else check
        for name, check in DEFAULT_RULES.items()
    }
    rules["admin_or_owner"] = "is_admin:True or role:admin or project_id:%(project_id)s"
    return rules
