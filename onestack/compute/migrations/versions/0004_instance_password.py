"""the password a guest posts to the metadata API

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onestack.common.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compute_instance_password",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("password", sa.Text(), nullable=False),
        sa.Column("created_at", onestack.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instance_uuid", name=op.f("pk_compute_instance_password")),
    )


def downgrade() -> None:
    op.drop_table("compute_instance_password")
