"""routers hosted by L3 agents, networks served by DHCP agents

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    ("network_router_l3_agents", "router_id", "network_routers"),
    ("network_network_dhcp_agents", "network_id", "network_networks"),
)


def upgrade() -> None:
    for table, column, target in TABLES:
        op.create_table(
            table,
            sa.Column(column, sa.String(length=36), nullable=False),
            sa.Column("agent_id", sa.String(length=36), nullable=False),
            sa.ForeignKeyConstraint(
                ["agent_id"],
                ["network_agents.id"],
                name=op.f(f"fk_{table}_agent_id_network_agents"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.id"],
                name=op.f(f"fk_{table}_{column}_{target}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(column, "agent_id", name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_agent_id"), ["agent_id"], unique=False)


def downgrade() -> None:
    for table, _, _ in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_agent_id"))
        op.drop_table(table)
