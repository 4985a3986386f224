"""What the in-process benchmarks share: the admin's token from a cloud served over httpx's
ASGI transport."""

from __future__ import annotations

from pathlib import Path

import httpx


async def admin_token(client: httpx.AsyncClient, data_dir: Path) -> str:
    """A project-scoped token of ``admin`` (its password from the data dir)."""
    password = (data_dir / "admin-password").read_text().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = await client.post("/identity/v3/auth/tokens", json=body)
    r.raise_for_status()
    return r.headers["X-Subject-Token"]
