"""Default Block Storage policy: Cinder's secure-RBAC defaults (admin, project member, reader).

Targets carry ``project_id`` (the owner of the volume, snapshot, backup, ...). The admin is the
cloud admin as Identity marks it (the admin role on the system or on an admin project); any
rule can be overridden by a policy.yaml (``[volume] policy_file``).
"""

from __future__ import annotations

ADMIN = "(role:admin and (system_scope:all or is_admin_project:True))"
MEMBER = f"{ADMIN} or (role:member and project_id:%(project_id)s)"
READER = f"{ADMIN} or (role:reader and project_id:%(project_id)s)"

_MEMBER_RULES = (
    "volume:create",
    "volume:create_from_image",
    "volume:update",
    "volume:delete",
    "volume:extend",
    "volume:extend_attached_volume",
    "volume:update_readonly_flag",
    "volume:create_volume_metadata",
    "volume:update_volume_metadata",
    "volume:delete_volume_metadata",
    "volume_extension:volume_actions:upload_image",
    "volume_extension:volume_actions:attach",
    "volume_extension:volume_actions:detach",
    "volume_extension:volume_actions:reserve",
    "volume_extension:volume_actions:unreserve",
    "volume_extension:volume_actions:begin_detaching",
    "volume_extension:volume_actions:roll_detaching",
    "volume_extension:volume_actions:initialize_connection",
    "volume_extension:volume_actions:terminate_connection",
    "volume_extension:volume_image_metadata:set",
    "volume_extension:volume_image_metadata:remove",
    "volume:create_snapshot",
    "volume:update_snapshot",
    "volume:delete_snapshot",
    "volume:update_snapshot_metadata",
    "volume:delete_snapshot_metadata",
    "backup:create",
    "backup:update",
    "backup:delete",
    "backup:restore",
    "volume:create_transfer",
    "volume:accept_transfer",
    "volume:delete_transfer",
    "volume:attachment_create",
    "volume:attachment_update",
    "volume:attachment_complete",
    "volume:attachment_delete",
    "volume_extension:quotas:show",
)
_READER_RULES = (
    "volume:get",
    "volume:get_all",
    "volume:get_volume_metadata",
    "volume_extension:volume_image_metadata:show",
    "volume:get_snapshot",
    "volume:get_all_snapshots",
    "volume:get_snapshot_metadata",
    "backup:get",
    "backup:get_all",
    "volume:get_transfer",
    "volume:get_all_transfers",
    "volume:attachment_get",
    "volume:attachment_get_all",
    "volume_extension:type_get",
    "volume_extension:type_get_all",
    "volume_extension:access_types_extra_specs",
    "limits_extension:used_limits",
)
_ADMIN_RULES = (
    "volume:force_delete",
    "volume_extension:volume_admin_actions:reset_status",
    "volume_extension:volume_admin_actions:force_delete",
    "volume_extension:volume_admin_actions:force_detach",
    "volume_extension:snapshot_admin_actions:reset_status",
    "volume_extension:snapshot_admin_actions:force_delete",
    "volume_extension:backup_admin_actions:reset_status",
    "volume_extension:backup_admin_actions:force_delete",
    "backup:backup-export",
    "backup:backup-import",
    "volume_extension:types_manage",
    "volume_extension:types_extra_specs:create",
    "volume_extension:types_extra_specs:update",
    "volume_extension:types_extra_specs:delete",
    "volume_extension:types_extra_specs:read_sensitive",
    "volume_extension:volume_type_access",
    "volume_extension:volume_type_access:addProjectAccess",
    "volume_extension:volume_type_access:removeProjectAccess",
    "volume_extension:qos_specs_manage:create",
    "volume_extension:qos_specs_manage:get",
    "volume_extension:qos_specs_manage:get_all",
    "volume_extension:qos_specs_manage:update",
    "volume_extension:qos_specs_manage:delete",
    "volume_extension:quotas:update",
    "volume_extension:quotas:delete",
    "volume_extension:quota_classes",
    "volume_extension:services:index",
    "volume_extension:services:update",
    "volume_extension:capabilities",
    "scheduler_extension:scheduler_stats:get_pools",
    "volume_extension:volume_host_attribute",
    "volume_extension:volume_mig_status_attribute",
    "volume_extension:extended_snapshot_attributes",
    "volume:get_all_admin",
)

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": ADMIN,
    "admin_api": ADMIN,
    **dict.fromkeys(_MEMBER_RULES, MEMBER),
    **dict.fromkeys(_READER_RULES, READER),
    **dict.fromkeys(_ADMIN_RULES, ADMIN),
    # anyone authenticated may list the availability zones and see the public types
    "volume_extension:availability_zone_list": "",
    "volume_extension:volume_type_list": "",
}
