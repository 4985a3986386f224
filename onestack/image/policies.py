"""Default Image policy: Glance's secure-RBAC defaults.

Targets carry ``project_id`` (the image owner), ``owner``, ``visibility`` and, when the caller's
project is a member of the image, ``member_id``. As in Glance, the admin role on any project is
an image admin (``context_is_admin``). Any rule can be overridden by a policy.yaml
(``[image] policy_file``).
"""

from __future__ import annotations

PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
_VISIBLE = (
    "project_id:%(project_id)s or project_id:%(member_id)s"
    ' or "community":%(visibility)s or "public":%(visibility)s or "shared":%(visibility)s'
)
ADMIN_OR_MEMBER = f"role:admin or ({PROJECT_MEMBER})"
ADMIN_OR_READER = f"role:admin or ({PROJECT_READER})"
ADMIN = "role:admin"
ADMIN_OR_READER_NAMESPACE = (
    'role:admin or (role:reader and (project_id:%(project_id)s or "public":%(visibility)s))'
)
ADMIN_OR_SHARED_MEMBER = "role:admin or (role:member and project_id:%(member_id)s)"
ADMIN_OR_READER_OR_SHARED_MEMBER = (
    "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))"
)

DEFAULT_RULES: dict[str, str] = {
    "default": "",
    "context_is_admin": ADMIN,
    # images
    "add_image": ADMIN_OR_MEMBER,
    "delete_image": ADMIN_OR_MEMBER,
    "get_image": f"role:admin or (role:reader and ({_VISIBLE}))",
    "get_images": ADMIN_OR_READER,
    "modify_image": ADMIN_OR_MEMBER,
    "publicize_image": ADMIN,
    "communitize_image": ADMIN_OR_MEMBER,
    "download_image": f"role:admin or (role:member and ({_VISIBLE}))",
    "upload_image": ADMIN_OR_MEMBER,
    "delete_image_location": ADMIN,
    "get_image_location": ADMIN_OR_READER,
    "set_image_location": ADMIN_OR_MEMBER,
    # the location API (2.17): services register and read locations
    "add_image_location": f"role:service or ({PROJECT_MEMBER})",
    "fetch_image_location": "role:service",
    "deactivate": ADMIN_OR_MEMBER,
    "reactivate": ADMIN_OR_MEMBER,
    "copy_image": ADMIN,
    "manage_image_cache": ADMIN,
    # members
    "add_member": ADMIN_OR_MEMBER,
    "delete_member": ADMIN_OR_MEMBER,
    "get_member": ADMIN_OR_READER_OR_SHARED_MEMBER,
    "get_members": ADMIN_OR_READER_OR_SHARED_MEMBER,
    "modify_member": ADMIN_OR_SHARED_MEMBER,
    # tasks (admin-only since the import API replaced them)
    "tasks_api_access": ADMIN,
    "get_task": "rule:tasks_api_access",
    "get_tasks": "rule:tasks_api_access",
    "add_task": "rule:tasks_api_access",
    "modify_task": "rule:tasks_api_access",
    # discovery
    "stores_info_detail": ADMIN,
    # metadata definitions: everyone reads public namespaces and their own, admins write
    "metadef_admin": ADMIN,
    "metadef_reader": ADMIN_OR_READER_NAMESPACE,
    "get_metadef_namespace": "rule:metadef_reader",
    "get_metadef_namespaces": ADMIN_OR_READER,
    "add_metadef_namespace": "rule:metadef_admin",
    "modify_metadef_namespace": "rule:metadef_admin",
    "delete_metadef_namespace": "rule:metadef_admin",
    "get_metadef_object": "rule:metadef_reader",
    "get_metadef_objects": "rule:metadef_reader",
    "add_metadef_object": "rule:metadef_admin",
    "modify_metadef_object": "rule:metadef_admin",
    "delete_metadef_object": "rule:metadef_admin",
    "get_metadef_property": "rule:metadef_reader",
    "get_metadef_properties": "rule:metadef_reader",
    "add_metadef_property": "rule:metadef_admin",
    "modify_metadef_property": "rule:metadef_admin",
    "remove_metadef_property": "rule:metadef_admin",
    "get_metadef_tag": "rule:metadef_reader",
    "get_metadef_tags": "rule:metadef_reader",
    "add_metadef_tag": "rule:metadef_admin",
    "add_metadef_tags": "rule:metadef_admin",
    "modify_metadef_tag": "rule:metadef_admin",
    "delete_metadef_tag": "rule:metadef_admin",
    "delete_metadef_tags": "rule:metadef_admin",
    "list_metadef_resource_types": ADMIN_OR_READER,
    "get_metadef_resource_type": "rule:metadef_reader",
    "add_metadef_resource_type_association": "rule:metadef_admin",
    "remove_metadef_resource_type_association": "rule:metadef_admin",
}
