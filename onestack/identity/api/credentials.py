"""/v3/credentials (to be written)."""

from __future__ import annotations

from onestack.identity.api import protected_router

router = protected_router()
