"""Two identity processes on one database: a revocation in one reaches the other's caches."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from onestack.common.config import load_settings
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS, fresh_database, issue, password_auth, password_of


async def test_a_revocation_in_one_process_reaches_the_others_cache(tmp_path: Path) -> None:
    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        def settings(port: int):
            return load_settings(
                data_dir=tmp_path, port=port, database_url=url, services=["identity"],
                identity={"password_hash_rounds": TEST_ROUNDS, "cache_sync_interval": 0.05},
            )

        first, second = Cloud(settings(8801)), Cloud(settings(8802))
        await first.start()
        await second.start()
        try:
            a = httpx.AsyncClient(transport=httpx.ASGITransport(app=first.app), base_url="http://a")
            b = httpx.AsyncClient(transport=httpx.ASGITransport(app=second.app),
                                  base_url="http://b")
            admin = {"X-Auth-Token": await issue(a, password_auth(
                "admin", password_of(first, "admin"), project="admin"))}
            token = await issue(a, password_auth("demo", password_of(first, "demo"),
                                                 project="demo"))
            check = {**admin, "X-Subject-Token": token}
            # process b validates (and caches) the token
            for _ in range(3):
                assert (await b.get("/identity/v3/auth/tokens", headers=check)).status_code == 200
            # process a revokes it
            r = await a.delete("/identity/v3/auth/tokens", headers=check)
            assert r.status_code == 204
            for _ in range(250):  # the revision is polled every second: 5 s and more
                if (await b.get("/identity/v3/auth/tokens", headers=check)).status_code == 404:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("process b still accepts the token process a revoked")
            await a.aclose()
            await b.aclose()
        finally:
            await second.stop()
            await first.stop()
