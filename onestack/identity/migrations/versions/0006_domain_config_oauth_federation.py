"""domain configuration, OAuth 1.0a consumers and tokens, federation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onestack.common.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_mapping",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("schema_version", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_mapping")),
    )
    op.create_table(
        "identity_oauth_consumer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_oauth_consumer")),
    )
    op.create_table(
        "identity_service_provider",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("auth_url", sa.String(length=256), nullable=False),
        sa.Column("sp_url", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("relay_state_prefix", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_service_provider")),
    )
    op.create_table(
        "identity_domain_config",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("option_name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
            name=op.f("fk_identity_domain_config_domain_id_identity_domain"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "group_name", "option_name", name=op.f("pk_identity_domain_config")
        ),
    )
    op.create_table(
        "identity_idp",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("authorization_ttl", sa.Integer(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
            name=op.f("fk_identity_idp_domain_id_identity_domain"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_idp")),
    )
    with op.batch_alter_table("identity_idp", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_idp_domain_id"), ["domain_id"], unique=False)

    op.create_table(
        "identity_oauth_access_token",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("expires_at", onestack.common.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["identity_oauth_consumer.id"],
            name=op.f("fk_identity_oauth_access_token_consumer_id_identity_oauth_consumer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_oauth_access_token")),
    )
    with op.batch_alter_table("identity_oauth_access_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_oauth_access_token_authorizing_user_id"),
            ["authorizing_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_identity_oauth_access_token_consumer_id"), ["consumer_id"], unique=False
        )

    op.create_table(
        "identity_oauth_request_token",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("requested_project_id", sa.String(length=64), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=True),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=True),
        sa.Column("verifier", sa.String(length=64), nullable=True),
        sa.Column("expires_at", onestack.common.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["identity_oauth_consumer.id"],
            name=op.f("fk_identity_oauth_request_token_consumer_id_identity_oauth_consumer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_oauth_request_token")),
    )
    with op.batch_alter_table("identity_oauth_request_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_oauth_request_token_consumer_id"), ["consumer_id"], unique=False
        )

    op.create_table(
        "identity_federated_group_membership",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("idp_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", onestack.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["identity_group.id"],
            name=op.f("fk_identity_federated_group_membership_group_id_identity_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["identity_idp.id"],
            name=op.f("fk_identity_federated_group_membership_idp_id_identity_idp"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_identity_federated_group_membership_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "group_id", "idp_id", name=op.f("pk_identity_federated_group_membership")
        ),
    )
    with op.batch_alter_table("identity_federated_group_membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_federated_group_membership_expires_at"),
            ["expires_at"],
            unique=False,
        )

    op.create_table(
        "identity_federated_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("idp_id", sa.String(length=64), nullable=False),
        sa.Column("protocol_id", sa.String(length=64), nullable=False),
        sa.Column("unique_id", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["identity_idp.id"],
            name=op.f("fk_identity_federated_user_idp_id_identity_idp"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_identity_federated_user_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_federated_user")),
        sa.UniqueConstraint(
            "idp_id",
            "protocol_id",
            "unique_id",
            name=op.f("uq_identity_federated_user_idp_id_protocol_id_unique_id"),
        ),
    )
    with op.batch_alter_table("identity_federated_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_federated_user_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "identity_federation_protocol",
        sa.Column("idp_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mapping_id", sa.String(length=64), nullable=False),
        sa.Column("remote_id_attribute", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["identity_idp.id"],
            name=op.f("fk_identity_federation_protocol_idp_id_identity_idp"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("idp_id", "id", name=op.f("pk_identity_federation_protocol")),
    )
    op.create_table(
        "identity_idp_remote_id",
        sa.Column("remote_id", sa.String(length=255), nullable=False),
        sa.Column("idp_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["identity_idp.id"],
            name=op.f("fk_identity_idp_remote_id_idp_id_identity_idp"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("remote_id", name=op.f("pk_identity_idp_remote_id")),
    )
    with op.batch_alter_table("identity_idp_remote_id", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_idp_remote_id_idp_id"), ["idp_id"], unique=False
        )

    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consumer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("access_token_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.drop_column("access_token_id")
        batch_op.drop_column("consumer_id")

    with op.batch_alter_table("identity_idp_remote_id", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_idp_remote_id_idp_id"))

    op.drop_table("identity_idp_remote_id")
    op.drop_table("identity_federation_protocol")
    with op.batch_alter_table("identity_federated_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_federated_user_user_id"))

    op.drop_table("identity_federated_user")
    with op.batch_alter_table("identity_federated_group_membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_federated_group_membership_expires_at"))

    op.drop_table("identity_federated_group_membership")
    with op.batch_alter_table("identity_oauth_request_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_oauth_request_token_consumer_id"))

    op.drop_table("identity_oauth_request_token")
    with op.batch_alter_table("identity_oauth_access_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_oauth_access_token_consumer_id"))
        batch_op.drop_index(batch_op.f("ix_identity_oauth_access_token_authorizing_user_id"))

    op.drop_table("identity_oauth_access_token")
    with op.batch_alter_table("identity_idp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_idp_domain_id"))

    op.drop_table("identity_idp")
    op.drop_table("identity_domain_config")
    op.drop_table("identity_service_provider")
    op.drop_table("identity_oauth_consumer")
    op.drop_table("identity_mapping")
