"""unified limits: registered limits and project/domain limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_registered_limit",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=255), nullable=True),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("default_limit", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["identity_region.id"],
            name=op.f("fk_identity_registered_limit_region_id_identity_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["identity_service.id"],
            name=op.f("fk_identity_registered_limit_service_id_identity_service"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_registered_limit")),
        sa.UniqueConstraint(
            "service_id",
            "region_id",
            "resource_name",
            name=op.f("uq_identity_registered_limit_service_id_region_id_resource_name"),
        ),
    )
    with op.batch_alter_table("identity_registered_limit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_registered_limit_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "identity_limit",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("registered_limit_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("domain_id", sa.String(length=64), nullable=True),
        sa.Column("resource_limit", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
            name=op.f("fk_identity_limit_domain_id_identity_domain"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["identity_project.id"],
            name=op.f("fk_identity_limit_project_id_identity_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registered_limit_id"],
            ["identity_registered_limit.id"],
            name=op.f("fk_identity_limit_registered_limit_id_identity_registered_limit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_limit")),
        sa.UniqueConstraint(
            "registered_limit_id",
            "domain_id",
            name=op.f("uq_identity_limit_registered_limit_id_domain_id"),
        ),
        sa.UniqueConstraint(
            "registered_limit_id",
            "project_id",
            name=op.f("uq_identity_limit_registered_limit_id_project_id"),
        ),
    )
    with op.batch_alter_table("identity_limit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_limit_domain_id"), ["domain_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_limit_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_limit_registered_limit_id"),
            ["registered_limit_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("identity_limit")
    op.drop_table("identity_registered_limit")
