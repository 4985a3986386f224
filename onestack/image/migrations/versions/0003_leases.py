"""leases on in-flight uploads, stages and imports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onestack.common.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_leases",
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", onestack.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_image_leases")),
    )
    with op.batch_alter_table("image_leases", schema=None) as batch_op:
        batch_op.create_index("ix_image_leases_expires_at", ["expires_at"], unique=False)
        batch_op.create_index("ix_image_leases_holder", ["holder"], unique=False)


def downgrade() -> None:
    op.drop_table("image_leases")
