"""Default Identity policy: Keystone's admin / member / reader personas.

- cloud admin: the admin role on the system scope or on a project the token marks
  ``is_admin_project``: any project under ``[identity] admin_scope = "any-project"`` (the default,
  Keystone's effective default), only the cloud's admin project under ``"admin-project"``;
- domain admin / reader: the admin / reader role on a domain-scoped token, limited to that domain
  (a domain admin of the domain holding the admin project is no admin there: see _domain);
- everyone: their own user, tokens, credentials, application credentials and trusts.

Any rule can be overridden by a policy.yaml (``[identity] policy_file``).
"""

from __future__ import annotations

ADMIN = "rule:cloud_admin"
READER = "rule:admin_or_system_reader"


#: The domain holding the cloud's admin project (bootstrap puts it there). Administering that
#: domain would mean administering the cloud admins themselves, so the domain-admin persona does
#: not apply to it: only cloud admins manage it (its readers still read).
CLOUD_ADMIN_DOMAIN = "default"


def _domain(role: str, attr: str) -> str:
    """``role`` on a domain-scoped token for the target's domain (admin: not the cloud's own)."""
    if role == "admin":
        return f"(role:admin and domain_id:%({attr})s and not domain_id:{CLOUD_ADMIN_DOMAIN})"
    return f"(role:{role} and domain_id:%({attr})s)"


DEFAULT_RULES: dict[str, str] = {
    "cloud_admin": "role:admin and (system_scope:all or is_admin_project:True)",
    "system_reader": "role:reader and system_scope:all",
    "admin_or_system_reader": "rule:cloud_admin or rule:system_reader",
    "service_role": "role:service",
    "service_or_admin": "rule:cloud_admin or rule:service_role",
    "token_subject": "user_id:%(target.token.user_id)s",
    # tokens
    "identity:validate_token": f"{READER} or rule:service_role or rule:token_subject",
    "identity:check_token": f"{READER} or rule:service_role or rule:token_subject",
    "identity:revoke_token": f"{ADMIN} or rule:service_role or rule:token_subject",
    "identity:get_auth_catalog": "",
    "identity:get_auth_projects": "",
    "identity:get_auth_domains": "",
    "identity:get_auth_system": "",
    "identity:list_revoke_events": "rule:service_or_admin",
    # domains
    "identity:get_domain": f"{READER} or domain_id:%(target.domain.id)s"
    " or project_domain_id:%(target.domain.id)s",
    "identity:list_domains": READER,
    "identity:create_domain": ADMIN,
    "identity:update_domain": ADMIN,
    "identity:delete_domain": ADMIN,
    # domain configuration
    "identity:create_domain_config": ADMIN,
    "identity:get_domain_config": READER,
    "identity:get_domain_config_default": READER,
    "identity:update_domain_config": ADMIN,
    "identity:delete_domain_config": ADMIN,
    "identity:get_security_compliance_domain_config": "",
    # projects
    "identity:get_project": f"{READER} or {_domain('reader', 'target.project.domain_id')}"
    " or project_id:%(target.project.id)s",
    "identity:list_projects": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:list_user_projects": f"{READER} or {_domain('reader', 'target.user.domain_id')}"
    " or user_id:%(target.user.id)s",
    "identity:create_project": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:update_project": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:delete_project": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:list_project_tags": f"{READER} or {_domain('reader', 'target.project.domain_id')}"
    " or project_id:%(target.project.id)s",
    "identity:get_project_tag": f"{READER} or {_domain('reader', 'target.project.domain_id')}"
    " or project_id:%(target.project.id)s",
    "identity:update_project_tags": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:create_project_tag": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:delete_project_tag": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    "identity:delete_project_tags": f"{ADMIN} or {_domain('admin', 'target.project.domain_id')}",
    # users
    "identity:get_user": f"{READER} or {_domain('reader', 'target.user.domain_id')}"
    " or user_id:%(target.user.id)s",
    "identity:list_users": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:create_user": f"{ADMIN} or {_domain('admin', 'target.user.domain_id')}",
    "identity:update_user": f"{ADMIN} or {_domain('admin', 'target.user.domain_id')}",
    "identity:delete_user": f"{ADMIN} or {_domain('admin', 'target.user.domain_id')}",
    "identity:list_groups_for_user": f"{READER} or {_domain('reader', 'target.user.domain_id')}"
    " or user_id:%(target.user.id)s",
    # groups
    "identity:get_group": f"{READER} or {_domain('reader', 'target.group.domain_id')}",
    "identity:list_groups": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:create_group": f"{ADMIN} or {_domain('admin', 'target.group.domain_id')}",
    "identity:update_group": f"{ADMIN} or {_domain('admin', 'target.group.domain_id')}",
    "identity:delete_group": f"{ADMIN} or {_domain('admin', 'target.group.domain_id')}",
    "identity:list_users_in_group": f"{READER} or {_domain('reader', 'target.group.domain_id')}",
    "identity:check_user_in_group": f"{READER} or {_domain('reader', 'target.group.domain_id')}",
    "identity:add_user_to_group": f"{ADMIN} or ({_domain('admin', 'target.group.domain_id')}"
    " and domain_id:%(target.user.domain_id)s)",
    "identity:remove_user_from_group": f"{ADMIN} or ({_domain('admin', 'target.group.domain_id')}"
    " and domain_id:%(target.user.domain_id)s)",
    # roles
    "identity:get_role": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:list_roles": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:create_role": ADMIN,
    "identity:update_role": ADMIN,
    "identity:delete_role": ADMIN,
    "identity:get_domain_role": READER,
    "identity:list_domain_roles": READER,
    "identity:create_domain_role": ADMIN,
    "identity:update_domain_role": ADMIN,
    "identity:delete_domain_role": ADMIN,
    "identity:get_implied_role": READER,
    "identity:list_implied_roles": READER,
    "identity:list_role_inference_rules": READER,
    "identity:check_implied_role": READER,
    "identity:create_implied_role": ADMIN,
    "identity:delete_implied_role": ADMIN,
    # grants and assignments
    "identity:check_grant": f"{READER} or {_domain('reader', 'target.domain.id')}"
    f" or {_domain('reader', 'target.project.domain_id')}",
    "identity:list_grants": f"{READER} or {_domain('reader', 'target.domain.id')}"
    f" or {_domain('reader', 'target.project.domain_id')}",
    "identity:create_grant": f"{ADMIN} or ({_domain('admin', 'target.actor.domain_id')} and"
    " (domain_id:%(target.domain.id)s or domain_id:%(target.project.domain_id)s))",
    "identity:revoke_grant": f"{ADMIN} or ({_domain('admin', 'target.actor.domain_id')} and"
    " (domain_id:%(target.domain.id)s or domain_id:%(target.project.domain_id)s))",
    "identity:list_system_grants_for_user": READER,
    "identity:check_system_grant_for_user": READER,
    "identity:create_system_grant_for_user": ADMIN,
    "identity:revoke_system_grant_for_user": ADMIN,
    "identity:list_system_grants_for_group": READER,
    "identity:check_system_grant_for_group": READER,
    "identity:create_system_grant_for_group": ADMIN,
    "identity:revoke_system_grant_for_group": ADMIN,
    "identity:list_role_assignments": f"{READER} or {_domain('reader', 'target.domain_id')}",
    "identity:list_role_assignments_for_tree": f"{READER} or "
    f"{_domain('reader', 'target.project.domain_id')} or "
    "(role:admin and project_id:%(target.project.id)s)",
    # catalog
    "identity:get_region": "",
    "identity:list_regions": "",
    "identity:create_region": ADMIN,
    "identity:update_region": ADMIN,
    "identity:delete_region": ADMIN,
    "identity:get_service": READER,
    "identity:list_services": READER,
    "identity:create_service": ADMIN,
    "identity:update_service": ADMIN,
    "identity:delete_service": ADMIN,
    "identity:get_endpoint": READER,
    "identity:list_endpoints": READER,
    "identity:create_endpoint": ADMIN,
    "identity:update_endpoint": ADMIN,
    "identity:delete_endpoint": ADMIN,
    # credentials
    "identity:get_credential": f"{READER} or user_id:%(target.credential.user_id)s",
    "identity:list_credentials": f"{READER} or user_id:%(target.credential.user_id)s",
    "identity:create_credential": f"{ADMIN} or user_id:%(target.credential.user_id)s",
    "identity:update_credential": f"{ADMIN} or user_id:%(target.credential.user_id)s",
    "identity:delete_credential": f"{ADMIN} or user_id:%(target.credential.user_id)s",
    "identity:ec2_get_credential": f"{READER} or user_id:%(target.credential.user_id)s",
    "identity:ec2_list_credentials": f"{READER} or user_id:%(target.credential.user_id)s",
    "identity:ec2_create_credential": f"{ADMIN} or user_id:%(target.credential.user_id)s",
    "identity:ec2_delete_credential": f"{ADMIN} or user_id:%(target.credential.user_id)s",
    # policy blobs (the deprecated /v3/policies API)
    "identity:get_policy": READER,
    "identity:list_policies": READER,
    "identity:create_policy": ADMIN,
    "identity:update_policy": ADMIN,
    "identity:delete_policy": ADMIN,
    # application credentials
    "identity:get_application_credential": f"{READER} or user_id:%(target.user.id)s",
    "identity:list_application_credentials": f"{READER} or user_id:%(target.user.id)s",
    "identity:create_application_credential": "user_id:%(target.user.id)s",
    "identity:delete_application_credential": f"{ADMIN} or user_id:%(target.user.id)s",
    "identity:get_access_rule": f"{READER} or user_id:%(target.user.id)s",
    "identity:list_access_rules": f"{READER} or user_id:%(target.user.id)s",
    "identity:delete_access_rule": f"{ADMIN} or user_id:%(target.user.id)s",
    # trusts
    "identity:create_trust": "user_id:%(target.trust.trustor_user_id)s",
    "identity:list_trusts": READER,
    "identity:list_trusts_for_trustor": f"{READER} or user_id:%(target.trust.trustor_user_id)s",
    "identity:list_trusts_for_trustee": f"{READER} or user_id:%(target.trust.trustee_user_id)s",
    "identity:get_trust": f"{READER} or user_id:%(target.trust.trustor_user_id)s"
    " or user_id:%(target.trust.trustee_user_id)s",
    "identity:list_roles_for_trust": f"{READER} or user_id:%(target.trust.trustor_user_id)s"
    " or user_id:%(target.trust.trustee_user_id)s",
    "identity:get_role_for_trust": f"{READER} or user_id:%(target.trust.trustor_user_id)s"
    " or user_id:%(target.trust.trustee_user_id)s",
    "identity:delete_trust": f"{ADMIN} or user_id:%(target.trust.trustor_user_id)s",
    # OS-OAUTH1: consumers are the cloud's; a user delegates their own roles and manages the
    # access tokens they authorized
    "identity:create_consumer": ADMIN,
    "identity:get_consumer": READER,
    "identity:list_consumers": READER,
    "identity:update_consumer": ADMIN,
    "identity:delete_consumer": ADMIN,
    "identity:authorize_request_token": "",
    "identity:list_access_tokens": f"{READER} or user_id:%(target.user.id)s",
    "identity:get_access_token": f"{READER} or user_id:%(target.user.id)s",
    "identity:list_access_token_roles": f"{READER} or user_id:%(target.user.id)s",
    "identity:get_access_token_role": f"{READER} or user_id:%(target.user.id)s",
    "identity:delete_access_token": f"{ADMIN} or user_id:%(target.user.id)s",
    # OS-FEDERATION
    "identity:create_identity_provider": ADMIN,
    "identity:get_identity_provider": READER,
    "identity:list_identity_providers": READER,
    "identity:update_identity_provider": ADMIN,
    "identity:delete_identity_provider": ADMIN,
    "identity:create_protocol": ADMIN,
    "identity:get_protocol": READER,
    "identity:list_protocols": READER,
    "identity:update_protocol": ADMIN,
    "identity:delete_protocol": ADMIN,
    "identity:create_mapping": ADMIN,
    "identity:get_mapping": READER,
    "identity:list_mappings": READER,
    "identity:update_mapping": ADMIN,
    "identity:delete_mapping": ADMIN,
    "identity:create_service_provider": ADMIN,
    "identity:get_service_provider": READER,
    "identity:list_service_providers": READER,
    "identity:update_service_provider": ADMIN,
    "identity:delete_service_provider": ADMIN,
    # OS-EP-FILTER: endpoints and endpoint groups of projects
    "identity:add_endpoint_to_project": ADMIN,
    "identity:check_endpoint_in_project": READER,
    "identity:list_endpoints_for_project": READER,
    "identity:list_projects_for_endpoint": READER,
    "identity:remove_endpoint_from_project": ADMIN,
    "identity:create_endpoint_group": ADMIN,
    "identity:get_endpoint_group": READER,
    "identity:list_endpoint_groups": READER,
    "identity:update_endpoint_group": ADMIN,
    "identity:delete_endpoint_group": ADMIN,
    "identity:list_projects_associated_with_endpoint_group": READER,
    "identity:list_endpoints_associated_with_endpoint_group": READER,
    "identity:get_endpoint_group_in_project": READER,
    "identity:list_endpoint_groups_for_project": READER,
    "identity:add_endpoint_group_to_project": ADMIN,
    "identity:remove_endpoint_group_from_project": ADMIN,
    # unified limits: everyone reads registered limits and the model; limits are read by the
    # cloud's readers and service users (all), a domain's users (the domain's and its
    # projects'), a project's users (the project's); GET /v3/limits lists what one may read
    "limits_reader": f"{READER} or rule:service_role or system_scope:all",
    "identity:get_limit_model": "",
    "identity:get_registered_limit": "",
    "identity:list_registered_limits": "",
    "identity:create_registered_limits": ADMIN,
    "identity:update_registered_limit": ADMIN,
    "identity:delete_registered_limit": ADMIN,
    "identity:get_limit": "rule:limits_reader or domain_id:%(target.limit.domain.id)s"
    " or domain_id:%(target.limit.project.domain_id)s or project_id:%(target.limit.project_id)s",
    "identity:list_limits": "",
    "identity:create_limits": ADMIN,
    "identity:update_limit": ADMIN,
    "identity:delete_limit": ADMIN,
}
