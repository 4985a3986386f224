"""Every server action, the status after it, and 409 when the state forbids it."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.compute.conftest import API, action, boot, mv, show, wait_for, wait_gone


@pytest.fixture
async def server(client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str):
    created = await boot(client, demo_headers, image_id, name="act")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


STEPS = [
    ({"os-stop": None}, "SHUTOFF"),
    ({"os-stop": None}, 409),
    ({"os-start": None}, "ACTIVE"),
    ({"os-start": None}, 409),
    ({"reboot": {"type": "SOFT"}}, "ACTIVE"),
    ({"reboot": {"type": "HARD"}}, "ACTIVE"),
    ({"pause": None}, "PAUSED"),
    ({"suspend": None}, 409),
    ({"unpause": None}, "ACTIVE"),
    ({"suspend": None}, "SUSPENDED"),
    ({"pause": None}, 409),
    ({"resume": None}, "ACTIVE"),
    ({"rescue": None}, "RESCUE"),
    ({"rescue": None}, 409),
    ({"unrescue": None}, "ACTIVE"),
    ({"resize": {"flavorRef": "84"}}, "VERIFY_RESIZE"),
    ({"resize": {"flavorRef": "1"}}, 409),
    ({"revertResize": None}, "ACTIVE"),
    ({"resize": {"flavorRef": "84"}}, "VERIFY_RESIZE"),
    ({"confirmResize": None}, "ACTIVE"),
    ({"confirmResize": None}, 409),
    ({"changePassword": {"adminPass": "s3cret"}}, "ACTIVE"),
    ({"shelve": None}, "SHELVED_OFFLOADED"),
    ({"os-start": None}, 409),
    ({"unshelve": None}, "ACTIVE"),
    ({"unshelve": None}, 409),
]


async def test_state_machine(
    client: httpx.AsyncClient, demo_headers: dict[str, str], server: str
) -> None:
    for body, outcome in STEPS:
        if isinstance(outcome, int):
            r = await action(client, demo_headers, server, body, expect=outcome)
            assert "conflictingRequest" in r.json(), r.text
            continue
        await action(client, demo_headers, server, body, expect=200 if "rescue" in body else 202)
        got = await wait_for(client, demo_headers, server, outcome)
        if "resize" in body and outcome == "VERIFY_RESIZE":
            assert got["flavor"]["original_name"] == "m1.micro"
        if "revertResize" in body:
            assert got["flavor"]["original_name"] == "m1.nano"
    r = await client.get(f"{API}/servers/{server}/os-instance-actions", headers=demo_headers)
    names = [a["action"] for a in r.json()["instanceActions"]]
    assert names[-1] == "create" and "stop" in names and "unshelve" in names


async def test_resize_keeps_allocations_right(
    client: httpx.AsyncClient, cloud, demo_headers: dict[str, str], server: str
) -> None:
    placement = cloud.platform.clients.for_service("placement", user="nova")
    await action(client, demo_headers, server, {"resize": {"flavorRef": "84"}})
    await wait_for(client, demo_headers, server, "VERIFY_RESIZE")
    r = await placement.get(
        f"/allocations/{server}", headers={"OpenStack-API-Version": "placement 1.36"}
    )
    resources = next(iter(r.json()["allocations"].values()))["resources"]
    assert resources["MEMORY_MB"] == 192
    await action(client, demo_headers, server, {"revertResize": None})
    await wait_for(client, demo_headers, server, "ACTIVE")
    r = await placement.get(
        f"/allocations/{server}", headers={"OpenStack-API-Version": "placement 1.36"}
    )
    resources = next(iter(r.json()["allocations"].values()))["resources"]
    assert resources["MEMORY_MB"] == 128


async def test_lock(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_headers: dict[str, str],
    server: str,
) -> None:
    await action(client, demo_headers, server, {"lock": {"locked_reason": "keep"}})
    got = await show(client, demo_headers, server)
    assert got["locked"] is True and got["locked_reason"] == "keep"
    await action(client, demo_headers, server, {"os-stop": None}, expect=409)
    r = await client.delete(f"{API}/servers/{server}", headers=demo_headers)
    assert r.status_code == 409
    await action(
        client, demo_headers, server, {"lock": {"locked_reason": "x"}}, expect=400, version="2.72"
    )
    await action(client, demo_headers, server, {"unlock": None})
    old = await show(client, demo_headers, server, version="2.72")
    assert old["locked"] is False and "locked_reason" not in old
    # an admin's lock is not the owner's to lift
    await action(client, admin_headers, server, {"lock": None})
    await action(client, demo_headers, server, {"unlock": None}, expect=403)
    await action(client, admin_headers, server, {"unlock": None})


async def test_console_rebuild_snapshot(
    client: httpx.AsyncClient, demo_headers: dict[str, str], server: str, image_id: str
) -> None:
    r = await action(
        client, demo_headers, server, {"os-getConsoleOutput": {"length": 5}}, expect=200
    )
    assert "login" in r.json()["output"]
    r = await action(
        client, demo_headers, server, {"rebuild": {"imageRef": image_id, "name": "rebuilt"}}
    )
    assert r.json()["server"]["status"] == "REBUILD"
    got = await wait_for(client, demo_headers, server, "ACTIVE")
    assert got["name"] == "rebuilt"
    r = await action(
        client, demo_headers, server, {"createImage": {"name": "snap", "metadata": {"k": "v"}}}
    )
    snap = r.json()["image_id"]
    await wait_for(client, demo_headers, server, "ACTIVE")
    r = await client.get(f"/image/v2/images/{snap}", headers=demo_headers)
    image = r.json()
    assert image["status"] == "active" and image["instance_uuid"] == server
    assert image["image_type"] == "snapshot" and image["k"] == "v"
    r = await action(client, demo_headers, server, {"createImage": {"name": "old"}}, version="2.44")
    assert r.headers["Location"].endswith(r.headers["Location"].rsplit("/", 1)[-1])
    await wait_for(client, demo_headers, server, "ACTIVE")


async def test_admin_actions(
    client: httpx.AsyncClient,
    demo_headers: dict[str, str],
    admin_headers: dict[str, str],
    server: str,
) -> None:
    await action(client, demo_headers, server, {"os-resetState": {"state": "error"}}, expect=403)
    await action(client, admin_headers, server, {"os-resetState": {"state": "error"}})
    assert (await show(client, demo_headers, server))["status"] == "ERROR"
    await action(client, admin_headers, server, {"os-resetState": {"state": "active"}})
    assert (await show(client, demo_headers, server))["status"] == "ACTIVE"
    await action(client, demo_headers, server, {"migrate": None}, expect=403)
    await action(client, admin_headers, server, {"evacuate": {}}, expect=409)  # host is up
    await action(client, demo_headers, server, {"trigger_crash_dump": None}, version="2.17")
    await action(
        client, demo_headers, server, {"trigger_crash_dump": None}, expect=400, version="2.16"
    )


async def test_bad_actions(
    client: httpx.AsyncClient, demo_headers: dict[str, str], server: str
) -> None:
    await action(client, demo_headers, server, {"fly": None}, expect=400)
    await action(client, demo_headers, server, {"reboot": {"type": "SIDEWAYS"}}, expect=400)
    await action(client, demo_headers, server, {"resize": {"flavorRef": "nope"}}, expect=400)
    await action(client, demo_headers, server, {"resize": {"flavorRef": "42"}}, expect=400)
    r = await client.post(
        f"{API}/servers/{server}/action", headers=mv(demo_headers), content=b"{bad"
    )
    assert r.status_code == 400 and "badRequest" in r.json()
    r = await client.post(
        f"{API}/servers/{server}/os-volume_attachments",
        headers=demo_headers,
        json={"volumeAttachment": {"volumeId": "x"}},
    )
    assert r.status_code == 400 and "volumeId" in r.text


async def test_migrations_are_recorded(client: httpx.AsyncClient, demo_headers: dict[str, str],
                                       admin_headers: dict[str, str], server: str) -> None:
    await action(client, demo_headers, server, {"resize": {"flavorRef": "84"}})
    await wait_for(client, demo_headers, server, "VERIFY_RESIZE")
    r = await client.get(f"{API}/os-migrations?instance_uuid={server}",
                         headers=mv(admin_headers))
    [mig] = r.json()["migrations"]
    assert mig["status"] == "finished" and mig["migration_type"] == "resize"
    assert mig["old_instance_type_id"] == "42" and mig["new_instance_type_id"] == "84"
    await action(client, demo_headers, server, {"revertResize": None})
    await wait_for(client, demo_headers, server, "ACTIVE")
    r = await client.get(f"{API}/os-migrations?instance_uuid={server}",
                         headers=mv(admin_headers, "2.22"))
    [mig] = r.json()["migrations"]
    assert mig["status"] == "reverted" and "migration_type" not in mig
    await action(client, admin_headers, server, {"migrate": None})  # one host: no valid host
    await wait_for(client, demo_headers, server, "ACTIVE")
    r = await client.get(f"{API}/os-migrations?instance_uuid={server}&migration_type=migration",
                         headers=mv(admin_headers))
    assert [m["status"] for m in r.json()["migrations"]] == ["error"]
    r = await client.get(f"{API}/os-migrations", headers=demo_headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/servers/{server}/migrations", headers=mv(admin_headers))
    assert r.json() == {"migrations": []}
