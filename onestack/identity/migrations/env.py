"""Alembic environment of the identity schema."""

from onestack.common.db import run_migrations_online
from onestack.identity.models import Base

run_migrations_online(Base.metadata)
