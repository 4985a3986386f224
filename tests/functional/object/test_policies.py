"""Storage policies: one object ring per policy, chosen per container."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.object.daemons import run_one
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS, password_of
from tests.functional.object.conftest import account_for


@pytest.fixture(scope="module")
async def policy_cloud(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("policies"), port=8996,
                             services=["identity", "object"],
                             identity={"password_hash_rounds": TEST_ROUNDS},
                             object={"storage_policies": ["gold", "silver"],
                                     "run_daemons": False})
    cloud = Cloud(settings)
    await cloud.start()
    yield cloud
    await cloud.stop()


async def test_containers_choose_their_policy(policy_cloud: Cloud) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=policy_cloud.app),
                                 base_url="http://testserver") as client:
        user = await account_for(client, "demo", password_of(policy_cloud, "demo"), "demo")
        info = (await client.get("/object-store/info")).json()
        assert [p["name"] for p in info["swift"]["policies"]] == ["gold", "silver"]
        plain = await user.container()
        silver = await user.container(**{"X-Storage-Policy": "silver"})
        assert (await user.request("HEAD", f"/{plain}")).headers["x-storage-policy"] == "gold"
        assert (await user.request("HEAD", f"/{silver}")).headers["x-storage-policy"] == \
            "silver"
        r = await user.request("PUT", f"/{silver}", headers={"X-Storage-Policy": "gold"})
        assert r.status_code == 409
        assert (await user.request("PUT", "/bad", headers={"X-Storage-Policy": "bronze"})
                ).status_code == 400
        for name in (plain, silver):
            assert (await user.request("PUT", f"/{name}/o", content=name.encode())
                    ).status_code == 201
            assert (await user.request("GET", f"/{name}/o")).content == name.encode()
        devices = policy_cloud.settings.data_dir / "object" / "devices" / "d1"
        assert len(list((devices / "objects").rglob("*.data"))) == 1
        assert len(list((devices / "objects-1").rglob("*.data"))) == 1
        account = (await user.request("HEAD")).headers
        assert account["x-account-storage-policy-silver-object-count"] == "1"
        assert account["x-account-storage-policy-gold-container-count"] == "1"
        report = run_one(next(s for s in policy_cloud.services if s.spec.name == "object"),
                         "auditor")
        assert report["checked"] == 2 and report["quarantined"] == 0


async def test_reconciler_moves_misplaced_objects(policy_cloud: Cloud) -> None:
    from onestack.object import timestamps
    from onestack.object.daemons import reconciler
    from onestack.object.servers import object as disk

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=policy_cloud.app),
                                 base_url="http://testserver") as client:
        user = await account_for(client, "demo", password_of(policy_cloud, "demo"), "demo")
        silver = await user.container(**{"X-Storage-Policy": "silver"})
        storage = next(s for s in policy_cloud.services if s.spec.name == "object").storage
        account = f"AUTH_{user.project_id}"
        # an object whose bytes landed in the default policy's ring (gold): misplaced
        h = storage.hash(account, silver, "stray")
        part, nodes, _ = storage.write_nodes("object", account, silver, "stray")
        ts = timestamps.now()
        for node in nodes:
            writer = disk.DiskWriter(storage.devices, node, part, h, "objects")
            writer.write(b"misplaced bytes")
            writer.commit(ts, {"name": f"/{account}/{silver}/stray", "X-Timestamp": ts,
                               "Content-Length": "15", "Content-Type": "text/plain",
                               "ETag": "0" * 32, "X-Object-Meta-Kept": "yes"})
        assert (await user.request("GET", f"/{silver}/stray")).status_code == 404
        assert reconciler.run_once(storage) == {"moved": 1, "removed": 1}
        r = await user.request("GET", f"/{silver}/stray")
        assert r.status_code == 200 and r.content == b"misplaced bytes"
        assert r.headers["x-object-meta-kept"] == "yes" and r.headers["x-timestamp"] == ts
        assert not list((storage.devices).glob(f"*/objects/{part}/{h[-3:]}/{h}/*.data"))
        assert reconciler.run_once(storage) == {"moved": 0, "removed": 0}
