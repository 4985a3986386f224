"""domain configuration, OAuth 1.0a consumers and tokens, federation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consumer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("access_token_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_revocation_event", schema=None) as batch_op:
        batch_op.drop_column("access_token_id")
        batch_op.drop_column("consumer_id")

    op.drop_table("identity_domain_config")
