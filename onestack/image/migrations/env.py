"""Alembic environment of the image schema."""

from onestack.common.db import run_migrations_online
from onestack.image.models import Base

run_migrations_online(Base.metadata)
