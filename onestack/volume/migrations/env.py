"""Alembic environment of the volume schema."""

from onestack.common.db import run_migrations_online
from onestack.volume.models import metadata

run_migrations_online(metadata)
