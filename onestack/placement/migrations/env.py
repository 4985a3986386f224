"""Alembic environment of the placement schema."""

from onestack.common.db import run_migrations_online
from onestack.placement.models import metadata

run_migrations_online(metadata)
