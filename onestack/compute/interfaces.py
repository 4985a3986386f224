"""Interfaces attached to and detached from a running server (``os-interface``): the compute
host's half. The API checked the request; here the port is made or bound, handed to the virt
driver, and the info cache refreshed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.compute import instances, network

if TYPE_CHECKING:
    from onestack.compute.manager import HostEndpoint


async def attach(ep: HostEndpoint, instance_uuid: str, request: dict[str, Any]) -> dict[str, Any]:
    """The port's entry of the network info; a port made here is deleted again (a user's
    unbound) when the driver cannot plug it."""
    async with ep.network.guard(instance_uuid):
        return await _attach(ep, instance_uuid, request)


async def _attach(ep: HostEndpoint, instance_uuid: str, request: dict[str, Any]) -> dict[str, Any]:
    async with ep.core.read() as session:
        instance = await instances.load(session, instance_uuid)
    api = ep.network.api
    zone = instance.availability_zone or ep.core.conf.default_availability_zone
    port_id, user_given = await api.bind_port(
        instance, ep.host, f"compute:{zone}", request, {"security_group_ids": []}
    )
    try:
        keep = network.preserved(instance) | ({port_id} if user_given else set())
        tags = {**network.port_tags(instance), port_id: request.get("tag")}
        info = await api.network_info(instance_uuid, keep, tags)
        entry = next(p for p in info if p["id"] == port_id)
        await ep.driver.attach_interface(instance_uuid, entry)
    except Exception:
        await api.release([(port_id, user_given)], instance_uuid)
        raise
    await network.save_cache(ep.core, instance_uuid, info)
    return entry


async def detach(ep: HostEndpoint, instance_uuid: str, port_id: str) -> None:
    async with ep.network.guard(instance_uuid):
        await _detach(ep, instance_uuid, port_id)


async def _detach(ep: HostEndpoint, instance_uuid: str, port_id: str) -> None:
    async with ep.core.read() as session:
        instance = await instances.load(session, instance_uuid)
    entries = {p["id"]: p for p in network.cached(instance)}
    if port_id not in entries:
        raise network.NetworkError(f"Port {port_id} is not attached", 404)
    await ep.driver.detach_interface(instance_uuid, port_id)
    await ep.network.api.release([(port_id, port_id in network.preserved(instance))], instance_uuid)
    await network.save_cache(
        ep.core, instance_uuid, [p for k, p in entries.items() if k != port_id]
    )
