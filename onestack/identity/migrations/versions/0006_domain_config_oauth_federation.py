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
        "identity_oauth_consumer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_oauth_consumer")),
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

    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consumer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("access_token_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.drop_column("access_token_id")
        batch_op.drop_column("consumer_id")

    with op.batch_alter_table("identity_oauth_request_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_oauth_request_token_consumer_id"))

    op.drop_table("identity_oauth_request_token")
    with op.batch_alter_table("identity_oauth_access_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_oauth_access_token_consumer_id"))
        batch_op.drop_index(batch_op.f("ix_identity_oauth_access_token_authorizing_user_id"))

    op.drop_table("identity_oauth_access_token")
    op.drop_table("identity_domain_config")
    op.drop_table("identity_oauth_consumer")
