"""Versioned notifications: every instance action's start/end (and error) on
``versioned_notifications`` with Nova's payloads, checked against Nova's documented field
lists (written out here from the notification samples, not taken from the code); and the
instance usage audit (off by default) that sends ``instance.exists`` and fills the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from onestack.common.notifications import NotificationListener
from onestack.compute.core import SharedCore
from tests.functional.compute.conftest import API, action, boot, mv, wait_for, wait_gone

#: Nova's InstancePayload 1.8 (doc/notification_samples/common_payloads/InstancePayload.json
#: plus locked_reason)
INSTANCE = {
    "architecture", "availability_zone", "block_devices", "created_at", "deleted_at",
    "display_name", "display_description", "host", "host_name", "ip_addresses", "kernel_id",
    "key_name", "launched_at", "image_uuid", "metadata", "locked", "locked_reason", "node",
    "os_type", "progress", "ramdisk_id", "reservation_id", "state", "task_state", "power_state",
    "tenant_id", "terminated_at", "auto_disk_config", "flavor", "updated_at", "user_id", "uuid",
    "request_id", "action_initiator_user", "action_initiator_project",
}  # fmt: skip
EXTRA = {
    "InstanceActionPayload": {"fault"},
    "InstanceCreatePayload": {"fault", "keypairs", "tags", "trusted_image_certificates",
                              "instance_name"},
    "InstanceActionSnapshotPayload": {"fault", "snapshot_image_id"},
    "InstanceActionRebuildPayload": {"fault", "trusted_image_certificates"},
    "InstanceExistsPayload": {"audit_period"},
}  # fmt: skip
FLAVOR = {"flavorid", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "name", "swap",
          "rxtx_factor", "vcpu_weight", "disabled", "is_public", "extra_specs", "projects",
          "description"}  # fmt: skip
EXCEPTION = {"module_name", "function_name", "exception", "exception_message", "traceback"}
STATES = {"active", "building", "paused", "suspended", "stopped", "rescued", "resized",
          "soft-delete", "deleted", "error", "shelved", "shelved_offloaded"}  # fmt: skip
POWER = {"pending", "running", "paused", "shutdown", "crashed", "suspended"}


def check_payload(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["nova_object.namespace"] == "nova"
    name = payload["nova_object.name"]
    assert name in EXTRA and payload["nova_object.version"].count(".") == 1
    data = payload["nova_object.data"]
    assert set(data) == INSTANCE | EXTRA[name], set(data) ^ (INSTANCE | EXTRA[name])
    assert data["state"] in STATES and data["power_state"] in POWER
    flavor = data["flavor"]
    assert flavor["nova_object.name"] == "FlavorPayload" and set(flavor["nova_object.data"]) \
        == FLAVOR
    if data.get("fault") is not None:
        assert data["fault"]["nova_object.name"] == "ExceptionPayload"
        assert set(data["fault"]["nova_object.data"]) == EXCEPTION
    return dict(data)


@pytest.fixture
async def bus(cloud):
    seen: list[tuple[str, str, dict]] = []

    async def handler(note) -> None:
        seen.append((note.event_type, note.priority, note.payload))

    listener = NotificationListener(cloud.platform.transport, handler,
                                    topics=("versioned_notifications",), pool="compute-notes")
    await listener.start()
    yield seen
    await listener.stop()


async def _until(seen, event: str, uuid: str) -> dict:
    for _ in range(250):
        for e, _, p in seen:
            if e == event and p["nova_object.data"]["uuid"] == uuid:
                return p
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {event}: {sorted({e for e, _, _ in seen})}")


STEPS = [
    ({"os-stop": None}, "SHUTOFF", "power_off"),
    ({"os-start": None}, "ACTIVE", "power_on"),
    ({"reboot": {"type": "SOFT"}}, "ACTIVE", "reboot"),
    ({"pause": None}, "PAUSED", "pause"),
    ({"unpause": None}, "ACTIVE", "unpause"),
    ({"suspend": None}, "SUSPENDED", "suspend"),
    ({"resume": None}, "ACTIVE", "resume"),
    ({"rescue": None}, "RESCUE", "rescue"),
    ({"unrescue": None}, "ACTIVE", "unrescue"),
    ({"resize": {"flavorRef": "84"}}, "VERIFY_RESIZE", "resize_finish"),
    ({"confirmResize": None}, "ACTIVE", "resize_confirm"),
    ({"createImage": {"name": "noted-snap"}}, "ACTIVE", "snapshot"),
    ({"rebuild": {"imageRef": "{image}"}}, "ACTIVE", "rebuild"),
    ({"shelve": None}, "SHELVED_OFFLOADED", "shelve"),
    ({"unshelve": None}, "ACTIVE", "unshelve"),
]


async def test_every_action_notifies(client: httpx.AsyncClient, cloud, bus, image_id: str,
                                     demo_headers: dict[str, str]) -> None:
    created = await boot(client, demo_headers, image_id, name="noted", key_name=None)
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    start = check_payload(await _until(bus, "instance.create.start", sid))
    end = check_payload(await _until(bus, "instance.create.end", sid))
    assert start["state"] == "building" and end["state"] == "active"
    assert end["host"] == cloud.platform.host and end["power_state"] == "running"
    assert end["flavor"]["nova_object.data"]["flavorid"] == "42"
    assert end["image_uuid"] == image_id and end["tenant_id"] and end["user_id"]
    assert end["action_initiator_user"] == end["user_id"]
    for body, status, event in STEPS:
        if "rebuild" in body:
            body = {"rebuild": {"imageRef": image_id}}
        r = await action(client, demo_headers, sid, body,
                         expect=200 if "rescue" in body else 202)
        await wait_for(client, demo_headers, sid, status)
        before = check_payload(await _until(bus, f"instance.{event}.start", sid))
        after = check_payload(await _until(bus, f"instance.{event}.end", sid))
        assert before["uuid"] == after["uuid"] == sid
        if event == "power_off":
            assert after["state"] == "stopped" and after["power_state"] == "shutdown"
        if event == "shelve":
            check_payload(await _until(bus, "instance.shelve_offload.end", sid))
        if event == "snapshot":
            assert after["snapshot_image_id"] == r.json()["image_id"]
            await client.delete(f"/image/v2/images/{r.json()['image_id']}",
                                headers=demo_headers)
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)
    for event in ("delete.start", "shutdown.start", "shutdown.end", "delete.end"):
        check_payload(await _until(bus, f"instance.{event}", sid))
    deleted = (await _until(bus, "instance.delete.end", sid))["nova_object.data"]
    assert deleted["state"] == "deleted" and deleted["deleted_at"]


async def test_a_failed_action_notifies_error(client: httpx.AsyncClient, cloud, bus,
                                              image_id: str, demo_headers: dict[str, str]) -> None:
    created = await boot(client, demo_headers, image_id, name="noted-err")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    agent = next(a for a in cloud.agents if cloud.platform.host in getattr(a, "drivers", {}))
    guest = agent.drivers[cloud.platform.host].guests.pop(sid)  # the hypervisor lost it
    try:
        await action(client, demo_headers, sid, {"pause": None})
        error = await _until(bus, "instance.pause.error", sid)
        data = check_payload(error)
        fault = data["fault"]["nova_object.data"]
        assert fault["exception"] == "VirtError" and sid in fault["exception_message"]
        assert next(p for e, p, _ in bus if e == "instance.pause.error") == "ERROR"
    finally:
        agent.drivers[cloud.platform.host].guests[sid] = guest
    await wait_for(client, demo_headers, sid, "ACTIVE")
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


async def test_usage_audit(client: httpx.AsyncClient, cloud, bus, image_id: str,
                           admin_headers: dict[str, str], demo_headers: dict[str, str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from onestack.compute import instances, usage_audit

    core = SharedCore.get(cloud.platform)
    host = cloud.platform.host
    assert core.conf.instance_usage_audit is False  # off by default, as in Nova
    assert await usage_audit.run(core, host) is None
    r = await client.get(f"{API}/os-instance-usage-audit-log", headers=mv(admin_headers))
    log = r.json()["instance_usage_audit_logs"]
    assert log["num_hosts_done"] == 0 and host in log["hosts_not_run"]
    created = await boot(client, demo_headers, image_id, name="audited")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    begin, end = usage_audit.last_completed_period("hour")
    async with core.write() as session:  # as if it had run through the last hour
        await instances.set_state(session, sid, launched_at=begin - dt.timedelta(minutes=5))
    monkeypatch.setattr(core.conf, "instance_usage_audit", True)
    monkeypatch.setattr(core.conf, "instance_usage_audit_period", "hour")
    counted = await usage_audit.run(core, host)
    assert counted is not None and counted >= 1
    assert await usage_audit.run(core, host) is None  # once per period
    exists = check_payload(await _until(bus, "instance.exists", sid))
    period = exists["audit_period"]["nova_object.data"]
    assert period["audit_period_beginning"] == begin.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert period["audit_period_ending"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await client.get(f"{API}/os-instance-usage-audit-log", headers=mv(admin_headers))
    log = r.json()["instance_usage_audit_logs"]
    assert log["period_beginning"] == begin.strftime("%Y-%m-%d %H:%M:%S")
    assert log["log"][host]["state"] == "DONE" and log["log"][host]["instances"] == counted
    assert log["total_instances"] >= counted and log["num_hosts_done"] >= 1
    assert host not in log["hosts_not_run"]
    assert log["overall_status"].endswith("0 errors.")
    # show: the period before a time; a period without runs; a bad time
    stamp = end.strftime("%Y-%m-%d %H:%M:%S")
    r = await client.get(f"{API}/os-instance-usage-audit-log/{stamp}", headers=mv(admin_headers))
    shown = r.json()["instance_usage_audit_log"]
    assert shown["period_ending"] == stamp and shown["log"][host]["state"] == "DONE"
    r = await client.get(f"{API}/os-instance-usage-audit-log/2001-01-01 10:30:00",
                         headers=mv(admin_headers))
    old = r.json()["instance_usage_audit_log"]
    assert old["period_beginning"] == "2001-01-01 09:00:00" and old["log"] == {}
    r = await client.get(f"{API}/os-instance-usage-audit-log/yesterday",
                         headers=mv(admin_headers))
    assert r.status_code == 400 and "badRequest" in r.json()
    r = await client.get(f"{API}/os-instance-usage-audit-log", headers=mv(demo_headers))
    assert r.status_code == 403
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


def test_audit_periods() -> None:
    import datetime as dt

    from onestack.compute.usage_audit import last_completed_period

    at = dt.datetime(2026, 1, 15, 10, 30)
    assert last_completed_period("month", at) == (dt.datetime(2025, 12, 1),
                                                  dt.datetime(2026, 1, 1))
    assert last_completed_period("day", at) == (dt.datetime(2026, 1, 14),
                                                dt.datetime(2026, 1, 15))
    assert last_completed_period("hour", at) == (dt.datetime(2026, 1, 15, 9),
                                                 dt.datetime(2026, 1, 15, 10))
    assert last_completed_period("year", at) == (dt.datetime(2025, 1, 1),
                                                 dt.datetime(2026, 1, 1))
    assert last_completed_period("month", dt.datetime(2026, 7, 1)) == (
        dt.datetime(2026, 6, 1), dt.datetime(2026, 7, 1))
