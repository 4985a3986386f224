"""The account reaper: a deleted account's containers (the hidden versions container too) and
objects are removed; an account that is not deleted is left alone."""

from __future__ import annotations

import httpx

from onestack.object import timestamps
from onestack.server import Cloud
from tests.conftest import make_user
from tests.functional.object.conftest import Account, account_for


async def test_reaper_empties_a_deleted_account(cloud: Cloud, client: httpx.AsyncClient,
                                                admin_headers: dict[str, str],
                                                demo: Account) -> None:
    from onestack.object.daemons import reaper

    r = await client.post("/identity/v3/projects", headers=admin_headers,
                          json={"project": {"name": "objreap", "domain_id": "default"}})
    assert r.status_code == 201, r.text
    await make_user(cloud, "objreap-user", "objreap-pass-1", project="objreap")
    doomed = await account_for(client, "objreap-user", "objreap-pass-1", "objreap")
    for container in ("a", "b"):
        await doomed.request("PUT", f"/{container}")
        for i in range(3):
            await doomed.request("PUT", f"/{container}/o{i}", content=b"x" * i)
    await doomed.request("PUT", "/v", headers={"X-Versions-Enabled": "true"})
    await doomed.request("PUT", "/v/doc", content=b"1")
    await doomed.request("PUT", "/v/doc", content=b"2")
    kept = await demo.container("kept")
    await demo.request("PUT", f"/{kept}/stays", content=b"here")
    storage = next(s for s in cloud.services if s.spec.name == "object").storage
    account = f"AUTH_{doomed.project_id}"
    assert reaper.run_once(storage)["accounts"] == 0  # nothing deleted yet
    assert storage.delete_account(account, timestamps.now()) >= 1  # a reseller's DELETE
    report = reaper.run_once(storage)
    assert report["accounts"] == 1
    assert report["objects_deleted"] == 8 and report["containers_deleted"] == 4
    assert [c for c in storage.account_broker(account).list_containers(limit=100)] == []
    for name in ("a/o0", "b/o2", "v/doc"):
        container, obj = name.split("/")
        assert storage.object_state(account, container, obj)[0].exists is False
    assert (await demo.request("GET", f"/{kept}/stays")).content == b"here"
    assert reaper.run_once(storage)["objects_deleted"] == 0  # done once
