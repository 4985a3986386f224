"""Identity tables (all prefixed ``identity_``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from onestack.common.db import UTCDateTime, new_metadata, utcnow

#: Stored in ``identity_role.domain_id`` for global roles, so (name, domain) stays unique.
GLOBAL_ROLE_DOMAIN = "<<null>>"
#: The target id of system role assignments.
SYSTEM_TARGET = "system"


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


def _id() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True)


class Domain(Base):
    __tablename__ = "identity_domain"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Project(Base):
    __tablename__ = "identity_project"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    #: None for a top-level project (rendered as the domain id, as Keystone does).
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("identity_project.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProjectTag(Base):
    __tablename__ = "identity_project_tag"
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class User(Base):
    __tablename__ = "identity_user"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_created_at: Mapped[dt.datetime | None]
    password_expires_at: Mapped[dt.datetime | None]
    failed_auth_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_auth_at: Mapped[dt.datetime | None]
    last_active_at: Mapped[dt.datetime | None]
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PasswordHistory(Base):
    __tablename__ = "identity_password_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Group(Base):
    __tablename__ = "identity_group"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class GroupMembership(Base):
    __tablename__ = "identity_group_membership"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(Base):
    __tablename__ = "identity_role"
    __table_args__ = (UniqueConstraint("name", "domain_id"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255))
    #: GLOBAL_ROLE_DOMAIN for global roles.
    domain_id: Mapped[str] = mapped_column(String(64), default=GLOBAL_ROLE_DOMAIN)
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ImpliedRole(Base):
    __tablename__ = "identity_implied_role"
    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )


class Assignment(Base):
    """A role granted to a user or group on a project, a domain or the system.

    ``type`` is one of UserProject, GroupProject, UserDomain, GroupDomain, UserSystem,
    GroupSystem; ``target_id`` is SYSTEM_TARGET for system grants.
    """

    __tablename__ = "identity_assignment"
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "identity_region"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    parent_region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Service(Base):
    __tablename__ = "identity_service"
    id: Mapped[str] = _id()
    type: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Endpoint(Base):
    __tablename__ = "identity_endpoint"
    id: Mapped[str] = _id()
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_service.id", ondelete="CASCADE"), index=True
    )
    interface: Mapped[str] = mapped_column(String(8))
    region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"))
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Credential(Base):
    __tablename__ = "identity_credential"
    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(255))
    encrypted_blob: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64))
    #: ec2 only: sha256 of the access key the blob holds now (the id keeps the first one's)
    access_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApplicationCredential(Base):
    __tablename__ = "identity_application_credential"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None]
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    access_rules: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AccessRule(Base):
    """A user's access rule; it outlives the application credentials that name it (as in
    Keystone) until it is deleted itself, which only an unused rule may be."""

    __tablename__ = "identity_access_rule"
    __table_args__ = (UniqueConstraint("user_id", "service", "path", "method"),)
    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))


class ApplicationCredentialRole(Base):
    __tablename__ = "identity_application_credential_role"
    application_credential_id: Mapped[str] = mapped_column(
        ForeignKey("identity_application_credential.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Trust(Base):
    __tablename__ = "identity_trust"
    id: Mapped[str] = _id()
    trustor_user_id: Mapped[str] = mapped_column(String(64), index=True)
    trustee_user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    impersonation: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[dt.datetime | None]
    remaining_uses: Mapped[int | None] = mapped_column(Integer)
    allow_redelegation: Mapped[bool] = mapped_column(Boolean, default=False)
    redelegation_count: Mapped[int | None] = mapped_column(Integer)
    redelegated_trust_id: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[dt.datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TrustRole(Base):
    __tablename__ = "identity_trust_role"
    trust_id: Mapped[str] = mapped_column(
        ForeignKey("identity_trust.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class RevocationEvent(Base):
    """Revokes tokens matching every non-null field, issued at or before ``issued_before``."""

    __tablename__ = "identity_revocation_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    domain_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    role_id: Mapped[str | None] = mapped_column(String(64))
    trust_id: Mapped[str | None] = mapped_column(String(64))
    audit_id: Mapped[str | None] = mapped_column(String(32))
    audit_chain_id: Mapped[str | None] = mapped_column(String(32))
    #: OS-OAUTH1: tokens of this consumer or of this access token.
    consumer_id: Mapped[str | None] = mapped_column(String(64))
    access_token_id: Mapped[str | None] = mapped_column(String(64))
    issued_before: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Revision(Base):
    """One row counting committed identity writes; processes sharing the database poll it to
    drop their caches (token validations, scopes) when another process wrote."""

    __tablename__ = "identity_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PolicyBlob(Base):
    """An opaque policy document of the deprecated ``/v3/policies`` API."""

    __tablename__ = "identity_policy"
    id: Mapped[str] = _id()
    type: Mapped[str] = mapped_column(String(255))
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProjectEndpoint(Base):
    """OS-EP-FILTER: an endpoint associated directly with a project."""

    __tablename__ = "identity_project_endpoint"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("identity_endpoint.id", ondelete="CASCADE"), primary_key=True
    )


class EndpointGroup(Base):
    """OS-EP-FILTER: the endpoints matching ``filters`` (interface, service_id, region_id)."""

    __tablename__ = "identity_endpoint_group"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProjectEndpointGroup(Base):
    """OS-EP-FILTER: an endpoint group associated with a project."""

    __tablename__ = "identity_project_endpoint_group"
    endpoint_group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_endpoint_group.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class RegisteredLimit(Base):
    """Unified limits: a service's resource and its default limit for every project."""

    __tablename__ = "identity_registered_limit"
    __table_args__ = (UniqueConstraint("service_id", "region_id", "resource_name"),)
    id: Mapped[str] = _id()
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_service.id", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_region.id", ondelete="CASCADE")
    )
    resource_name: Mapped[str] = mapped_column(String(255))
    default_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Limit(Base):
    """Unified limits: a project's (or domain's) own limit of a registered resource."""

    __tablename__ = "identity_limit"
    __table_args__ = (
        UniqueConstraint("registered_limit_id", "project_id"),
        UniqueConstraint("registered_limit_id", "domain_id"),
    )
    id: Mapped[str] = _id()
    registered_limit_id: Mapped[str] = mapped_column(
        ForeignKey("identity_registered_limit.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), index=True
    )
    domain_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_domain.id", ondelete="CASCADE"), index=True
    )
    resource_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    #: The service, region and resource name come from here (always loaded with the limit).
    registered: Mapped[RegisteredLimit] = relationship(lazy="joined", innerjoin=True)


class DomainConfigOption(Base):
    """One option of a domain's own identity configuration (the domain configuration API);
    ``sensitive`` options (the LDAP password) are stored but never shown."""

    __tablename__ = "identity_domain_config"
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("identity_domain.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    option_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class OAuthConsumer(Base):
    """OS-OAUTH1: an application that may act for users who delegate roles to it."""

    __tablename__ = "identity_oauth_consumer"
    id: Mapped[str] = _id()
    description: Mapped[str | None] = mapped_column(Text)
    #: The shared HMAC secret, encrypted with the credential keys.
    secret: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OAuthRequestToken(Base):
    """OS-OAUTH1: a consumer's request for a project; a user authorizes it with roles."""

    __tablename__ = "identity_oauth_request_token"
    id: Mapped[str] = _id()
    secret: Mapped[str] = mapped_column(Text)
    consumer_id: Mapped[str] = mapped_column(
        ForeignKey("identity_oauth_consumer.id", ondelete="CASCADE"), index=True
    )
    requested_project_id: Mapped[str] = mapped_column(String(64))
    role_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    authorizing_user_id: Mapped[str | None] = mapped_column(String(64))
    verifier: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None]


class OAuthAccessToken(Base):
    """OS-OAUTH1: what a consumer trades an authorized request token for; it gets tokens
    with the delegated roles on the project."""

    __tablename__ = "identity_oauth_access_token"
    id: Mapped[str] = _id()
    secret: Mapped[str] = mapped_column(Text)
    consumer_id: Mapped[str] = mapped_column(
        ForeignKey("identity_oauth_consumer.id", ondelete="CASCADE"), index=True
    )
    authorizing_user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    role_ids: Mapped[list[Any]] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime | None]


class IdentityProvider(Base):
    """OS-FEDERATION: a trusted source of identities; its users land in ``domain_id``."""

    __tablename__ = "identity_idp"
    id: Mapped[str] = _id()
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    authorization_ttl: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IdPRemoteId(Base):
    """OS-FEDERATION: an entity id a front end reports for an identity provider (unique)."""

    __tablename__ = "identity_idp_remote_id"
    remote_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    idp_id: Mapped[str] = mapped_column(
        ForeignKey("identity_idp.id", ondelete="CASCADE"), index=True
    )


class FederationMapping(Base):
    """OS-FEDERATION: rules turning an assertion into a user, groups and projects."""

    __tablename__ = "identity_mapping"
    id: Mapped[str] = _id()
    rules: Mapped[list[Any]] = mapped_column(JSON)
    schema_version: Mapped[str] = mapped_column(String(16), default="1.0")


class FederationProtocol(Base):
    """OS-FEDERATION: how an identity provider's assertions arrive, and their mapping."""

    __tablename__ = "identity_federation_protocol"
    idp_id: Mapped[str] = mapped_column(
        ForeignKey("identity_idp.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mapping_id: Mapped[str] = mapped_column(String(64))
    remote_id_attribute: Mapped[str | None] = mapped_column(String(64))


class ServiceProvider(Base):
    """OS-FEDERATION: another cloud this one's users may reach (listed in tokens)."""

    __tablename__ = "identity_service_provider"
    id: Mapped[str] = _id()
    auth_url: Mapped[str] = mapped_column(String(256))
    sp_url: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    relay_state_prefix: Mapped[str] = mapped_column(String(256))


class FederatedUser(Base):
    """OS-FEDERATION: the shadow user a federated identity (idp, protocol, unique id) is."""

    __tablename__ = "identity_federated_user"
    __table_args__ = (UniqueConstraint("idp_id", "protocol_id", "unique_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    idp_id: Mapped[str] = mapped_column(ForeignKey("identity_idp.id", ondelete="CASCADE"))
    protocol_id: Mapped[str] = mapped_column(String(64))
    unique_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))


class FederatedGroupMembership(Base):
    """OS-FEDERATION: a group a federated login mapped its user into, kept until
    ``expires_at`` (the provider's ``authorization_ttl``) so the user's application
    credentials and trusts hold the group's roles between logins."""

    __tablename__ = "identity_federated_group_membership"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_group.id", ondelete="CASCADE"), primary_key=True
    )
    idp_id: Mapped[str] = mapped_column(
        ForeignKey("identity_idp.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
