"""Compute's networking parts without a cloud: the ``networks`` schema by microversion, the
vif-plugged waiter and the ``addresses`` view."""

from __future__ import annotations

import asyncio

import pytest

from onestack.common.errors import BadRequest
from onestack.common.microversions import Version
from onestack.compute import network
from onestack.compute.vifs import VifEvents, VifPlugTimeout

NET = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_networks_by_microversion() -> None:
    assert network.parse(None, Version(2, 36)) is None
    with pytest.raises(BadRequest, match="required"):
        network.parse(None, Version(2, 37))
    assert network.parse("auto", Version(2, 37)) == "auto"
    with pytest.raises(BadRequest):
        network.parse("auto", Version(2, 36))
    tagged = [{"uuid": NET, "tag": "a"}]
    assert network.parse(tagged, Version(2, 32))[0]["tag"] == "a"  # type: ignore[index]
    with pytest.raises(BadRequest, match="Additional properties"):
        network.parse(tagged, Version(2, 37))  # tags were dropped in 2.37..2.41
    assert network.parse(tagged, Version(2, 42))[0]["network_id"] == NET  # type: ignore[index]
    for bad in ([{"uuid": "x"}], [{"port": NET, "fixed_ip": "10.0.0.1"}], [{"uuid": NET,
                "fixed_ip": "300.1.1.1"}], [{}], {"uuid": NET}):
        with pytest.raises(BadRequest):
            network.parse(bad, Version(2, 96))


async def test_waiter_keeps_early_events_and_times_out() -> None:
    events = VifEvents()
    waiter = events.prepare("vm")
    assert events.deliver({"server_uuid": "vm", "tag": "p1", "status": "completed"})
    assert not events.deliver({"server_uuid": "other", "tag": "p1"})
    await waiter.wait(["p1"], 0.1)  # arrived before the wait began
    with pytest.raises(VifPlugTimeout, match="p2"):
        await waiter.wait(["p1", "p2"], 0.05)
    later = asyncio.get_running_loop().call_later(
        0.02, events.deliver, {"server_uuid": "vm", "tag": "p2"}
    )
    await waiter.wait(["p1", "p2"], 1.0)
    later.cancel()
    events.deliver({"server_uuid": "vm", "tag": "p3", "status": "failed"})
    with pytest.raises(VifPlugTimeout, match="failed"):
        await waiter.wait(["p3"], 1.0)


def test_addresses_view() -> None:
    info = [
        {
            "mac_address": "fa:16:3e:00:00:01",
            "network": {"name": "private"},
            "fixed_ips": [
                {"ip_address": "10.0.0.5", "version": 4, "floating_ips": ["172.24.4.9"]},
                {"ip_address": "fd00::5", "version": 6, "floating_ips": []},
            ],
        }
    ]
    mac = {"OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}
    assert network.addresses(info) == {
        "private": [
            {"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", **mac},
            {"version": 4, "addr": "172.24.4.9", "OS-EXT-IPS:type": "floating", **mac},
            {"version": 6, "addr": "fd00::5", "OS-EXT-IPS:type": "fixed", **mac},
        ]
    }
