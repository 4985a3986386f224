"""identity_access_rule: access rules of their own, outliving their application credentials;
identity_credential.access_hash: an ec2 credential found by the access key it holds now

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "identity_access_rule",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_access_rule")),
        sa.UniqueConstraint(
            "user_id",
            "service",
            "path",
            "method",
            name=op.f("uq_identity_access_rule_user_id_service_path_method"),
        ),
    )
    op.create_index(op.f("ix_identity_access_rule_user_id"), "identity_access_rule", ["user_id"])
    # the rules stored so far on application credentials become rules of their own
    creds = sa.table(
        "identity_application_credential",
        sa.column("user_id", sa.String),
        sa.column("access_rules", sa.JSON),
    )
    rows = op.get_bind().execute(sa.select(creds.c.user_id, creds.c.access_rules))
    seen: dict[str, dict[str, str]] = {}
    for user_id, rules in rows:
        for rule in rules or ():
            seen.setdefault(rule["id"], {**rule, "user_id": user_id})
    if seen:
        op.bulk_insert(table, list(seen.values()))

    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_identity_credential_access_hash"), ["access_hash"], unique=False
        )
    # until now an ec2 credential's access key could not change: its id is the key's sha256
    credentials = sa.table(
        "identity_credential",
        sa.column("id", sa.String),
        sa.column("type", sa.String),
        sa.column("access_hash", sa.String),
    )
    op.execute(
        credentials.update().where(credentials.c.type == "ec2").values(access_hash=credentials.c.id)
    )


def downgrade() -> None:
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_credential_access_hash"))
        batch_op.drop_column("access_hash")
    op.drop_index(op.f("ix_identity_access_rule_user_id"), table_name="identity_access_rule")
    op.drop_table("identity_access_rule")
