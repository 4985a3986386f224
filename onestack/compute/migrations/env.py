"""Alembic environment of the compute schema."""

from onestack.common.db import run_migrations_online
from onestack.compute.models import Base

run_migrations_online(Base.metadata)
