"""Alembic environment of the network schema."""

from onestack.common.db import run_migrations_online
from onestack.network.models import Base

run_migrations_online(Base.metadata)
