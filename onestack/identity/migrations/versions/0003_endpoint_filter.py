"""OS-EP-FILTER: project endpoints, endpoint groups and their projects

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_project_endpoint",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["identity_endpoint.id"],
            name=op.f("fk_identity_project_endpoint_endpoint_id_identity_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "endpoint_id", name=op.f("pk_identity_project_endpoint")
        ),
    )
    op.create_table(
        "identity_endpoint_group",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_endpoint_group")),
    )
    op.create_table(
        "identity_project_endpoint_group",
        sa.Column("endpoint_group_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_group_id"],
            ["identity_endpoint_group.id"],
            name=op.f(
                "fk_identity_project_endpoint_group_endpoint_group_id_identity_endpoint_group"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "endpoint_group_id", "project_id", name=op.f("pk_identity_project_endpoint_group")
        ),
    )


def downgrade() -> None:
    op.drop_table("identity_project_endpoint_group")
    op.drop_table("identity_endpoint_group")
    op.drop_table("identity_project_endpoint")
