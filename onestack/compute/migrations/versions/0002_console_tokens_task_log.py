"""console auth tokens and the task log (instance usage audit)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onestack.common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compute_console_auth_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("console_type", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("internal_access_path", sa.String(length=255), nullable=True),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("expires", onestack.common.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", onestack.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_console_auth_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_compute_console_auth_token_token_hash")),
    )
    op.create_index(
        op.f("ix_compute_console_auth_token_expires"),
        "compute_console_auth_token",
        ["expires"],
        unique=False,
    )
    op.create_index(
        op.f("ix_compute_console_auth_token_instance_uuid"),
        "compute_console_auth_token",
        ["instance_uuid"],
        unique=False,
    )
    op.create_table(
        "compute_task_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("period_beginning", onestack.common.db.UTCDateTime(), nullable=False),
        sa.Column("period_ending", onestack.common.db.UTCDateTime(), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column("task_items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("created_at", onestack.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", onestack.common.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_task_log")),
        sa.UniqueConstraint(
            "task_name",
            "host",
            "period_beginning",
            "period_ending",
            name=op.f("uq_compute_task_log_task_name_host_period_beginning_period_ending"),
        ),
    )
    op.create_index(
        op.f("ix_compute_task_log_period_beginning"),
        "compute_task_log",
        ["period_beginning"],
        unique=False,
    )
    op.create_index(
        op.f("ix_compute_task_log_period_ending"),
        "compute_task_log",
        ["period_ending"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_compute_task_log_period_ending"), table_name="compute_task_log")
    op.drop_index(op.f("ix_compute_task_log_period_beginning"), table_name="compute_task_log")
    op.drop_table("compute_task_log")
    op.drop_index(
        op.f("ix_compute_console_auth_token_instance_uuid"),
        table_name="compute_console_auth_token",
    )
    op.drop_index(
        op.f("ix_compute_console_auth_token_expires"), table_name="compute_console_auth_token"
    )
    op.drop_table("compute_console_auth_token")
