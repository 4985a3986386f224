"""Placement tables (all prefixed ``placement_``), used through SQLAlchemy Core.

Providers, resource classes, traits, aggregates and consumer types have integer ids, so the
hot tables (inventories, allocations, provider traits and aggregates) are narrow integer rows.
Consumers keep their project and user as the Identity ids (strings).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from onestack.common.db import UTCDateTime, new_metadata

metadata = new_metadata()

providers = Table(
    "placement_resource_provider",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("root_provider_id", Integer, index=True),
    Column("parent_provider_id", Integer, ForeignKey("placement_resource_provider.id"), index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

resource_classes = Table(
    "placement_resource_class",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

inventories = Table(
    "placement_inventory",
    metadata,
    Column(
        "resource_provider_id",
        Integer,
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "resource_class_id",
        Integer,
        ForeignKey("placement_resource_class.id"),
        primary_key=True,
        index=True,
    ),
    Column("total", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("min_unit", BigInteger, nullable=False),
    Column("max_unit", BigInteger, nullable=False),
    Column("step_size", BigInteger, nullable=False),
    Column("allocation_ratio", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

consumer_types = Table(
    "placement_consumer_type",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
)

consumers = Table(
    "placement_consumer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", String(255), nullable=False, index=True),
    Column("user_id", String(255), nullable=False),
    Column("generation", Integer, nullable=False, default=0),
    Column("consumer_type_id", Integer, ForeignKey("placement_consumer_type.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_placement_consumer_project_user", "project_id", "user_id"),
)

allocations = Table(
    "placement_allocation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "resource_provider_id",
        Integer,
        ForeignKey("placement_resource_provider.id"),
        nullable=False,
    ),
    Column("consumer_id", String(36), nullable=False, index=True),
    Column("resource_class_id", Integer, ForeignKey("placement_resource_class.id"), nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_placement_allocation_rp_rc", "resource_provider_id", "resource_class_id"),
)

traits = Table(
    "placement_trait",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

provider_traits = Table(
    "placement_provider_trait",
    metadata,
    Column(
        "resource_provider_id",
        Integer,
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("trait_id", Integer, ForeignKey("placement_trait.id"), primary_key=True, index=True),
)

aggregates = Table(
    "placement_aggregate",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
)

provider_aggregates = Table(
    "placement_provider_aggregate",
    metadata,
    Column(
        "resource_provider_id",
        Integer,
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "aggregate_id", Integer, ForeignKey("placement_aggregate.id"), primary_key=True, index=True
    ),
)

__all__ = [
    "aggregates",
    "allocations",
    "consumer_types",
    "consumers",
    "inventories",
    "metadata",
    "provider_aggregates",
    "provider_traits",
    "providers",
    "resource_classes",
    "traits",
]
