"""A server's networking on the wire: ``/ips``, ``/os-interface`` (attach and detach ports)
and ``/os-security-groups``; the ports themselves live in the Networking service."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import network, servers, states
from onestack.compute.api import protected_router
from onestack.compute.api.common import Caller, Ver, body_of
from onestack.compute.core import ComputeCore, core_of
from onestack.compute.models import Instance

router = protected_router()


async def _server(core: ComputeCore, ctx: RequestContext, server_id: str, rule: str) -> Instance:
    async with core.read() as session:
        return await servers.get(session, core, ctx, server_id, rule)


def _plain(addresses: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{"version": a["version"], "addr": a["addr"]} for a in items]
        for name, items in addresses.items()
    }


@router.get("/servers/{server_id}/ips")
async def list_ips(request: Request, server_id: str, ctx: RequestContext = Caller) -> Response:
    instance = await _server(core_of(request), ctx, server_id, "ips:index")
    return json({"addresses": _plain(network.addresses(network.cached(instance)))})


@router.get("/servers/{server_id}/ips/{network_label}")
async def show_ips(
    request: Request, server_id: str, network_label: str, ctx: RequestContext = Caller
) -> Response:
    instance = await _server(core_of(request), ctx, server_id, "ips:show")
    found = _plain(network.addresses(network.cached(instance)))
    if network_label not in found:
        raise NotFound("Instance is not a member of specified network")
    return json({network_label: found[network_label]})


def _attachment(port: dict[str, Any], version: Version, tag: str | None = None) -> dict[str, Any]:
    body = {
        "net_id": port["network_id"],
        "port_id": port["id"],
        "mac_addr": port["mac_address"],
        "port_state": port.get("status"),
        "fixed_ips": [
            {"ip_address": ip["ip_address"], "subnet_id": ip["subnet_id"]}
            for ip in port.get("fixed_ips", [])
        ],
    }
    if version >= (2, 70):
        body["tag"] = tag
    return body


async def _ports(core: ComputeCore, instance: Instance) -> list[dict[str, Any]]:
    api = network.NetworkAPI(core)
    if not api.available():
        return []
    found = await api.as_service("GET", "/v2.0/ports", params={"device_id": instance.uuid})
    return list(found["ports"])


def _tag(instance: Instance, port_id: str) -> str | None:
    return network.port_tags(instance).get(port_id)


@router.get("/servers/{server_id}/os-interface")
async def list_interfaces(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    instance = await _server(core, ctx, server_id, "os-attach-interfaces:list")
    ports = await _ports(core, instance)
    items = [_attachment(p, version, _tag(instance, p["id"])) for p in ports]
    return json({"interfaceAttachments": items})


@router.get("/servers/{server_id}/os-interface/{port_id}")
async def show_interface(
    request: Request,
    server_id: str,
    port_id: str,
    ctx: RequestContext = Caller,
    version: Version = Ver,
) -> Response:
    core = core_of(request)
    instance = await _server(core, ctx, server_id, "os-attach-interfaces:show")
    for port in await _ports(core, instance):
        if port["id"] == port_id:
            return json(
                {"interfaceAttachment": _attachment(port, version, _tag(instance, port_id))}
            )
    raise NotFound(f"Port {port_id} is not attached")


def _attach_request(body: dict[str, Any], version: Version) -> dict[str, Any]:
    allowed = {"port_id", "net_id", "fixed_ips"} | ({"tag"} if version >= (2, 49) else set())
    extra = set(body) - allowed
    if extra:
        raise BadRequest(
            "Invalid input for field/attribute interfaceAttachment. Additional properties are "
            f"not allowed ({', '.join(repr(k) for k in sorted(extra))} were unexpected)"
        )
    port, net = body.get("port_id"), body.get("net_id")
    if port and net:
        raise BadRequest("Must not input both network_id and port_id")
    ips = body.get("fixed_ips")
    fixed = None
    if ips is not None:
        if (
            not isinstance(ips, list)
            or len(ips) != 1
            or not isinstance(ips[0], dict)
            or not isinstance(ips[0].get("ip_address"), str)
        ):
            raise BadRequest("Invalid input for field/attribute fixed_ips: one {ip_address}.")
        if port:
            raise BadRequest("fixed_ips cannot be given with port_id.")
        fixed = ips[0]["ip_address"]
    item: dict[str, Any] = {"uuid": net} if net else {"port": port} if port else {}
    if fixed:
        item["fixed_ip"] = fixed
    if body.get("tag") is not None:
        item["tag"] = body["tag"]
    if not item.get("uuid") and not item.get("port"):
        return {}
    parsed = network.parse([item], Version(2, 96))
    assert isinstance(parsed, list)
    return parsed[0]


@router.post("/servers/{server_id}/os-interface")
async def attach_interface(
    request: Request, server_id: str, ctx: RequestContext = Caller, version: Version = Ver
) -> Response:
    core = core_of(request)
    body = await body_of(request, "interfaceAttachment")
    req = _attach_request(body, version)
    instance = await _server(core, ctx, server_id, "os-attach-interfaces:create")
    servers.check_lock(core, ctx, instance)
    states.check(
        "attach_interface",
        instance.vm_state,
        instance.task_state,
        vm_states=states.ATTACHABLE,
        uuid=server_id,
    )
    api = network.NetworkAPI(core)
    if not api.available():
        raise BadRequest("Interfaces cannot be attached: this cloud has no Networking service.")
    if not req:
        nets = await api.available_networks(ctx)
        if len(nets) != 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
                if nets
                else "No network is available to attach an interface to."
            )
        req = {"network_id": nets[0]["id"], "port_id": None, "fixed_ip": None, "tag": None}
    req = await api.check_request(ctx, req, 1)
    if not req["port_id"]:
        await api.check_port_quota(ctx, 1)
    try:
        entry = await core.agents.attach_interface(ctx, instance.host, server_id, req)
    except Exception as exc:
        raise Conflict(f"Failed to attach network adapter device to {server_id}: {exc}") from None
    port = {
        "id": entry["id"],
        "network_id": entry["network"]["id"],
        "mac_address": entry["mac_address"],
        "status": entry.get("status"),
        "fixed_ips": entry["fixed_ips"],
    }
    return json({"interfaceAttachment": _attachment(port, version, entry.get("tag"))})


@router.delete("/servers/{server_id}/os-interface/{port_id}")
async def detach_interface(
    request: Request, server_id: str, port_id: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    instance = await _server(core, ctx, server_id, "os-attach-interfaces:delete")
    servers.check_lock(core, ctx, instance)
    if port_id not in {p["id"] for p in network.cached(instance)}:
        raise NotFound(f"Port {port_id} is not attached")
    states.check(
        "detach_interface",
        instance.vm_state,
        instance.task_state,
        vm_states=states.ATTACHABLE,
        uuid=server_id,
    )
    try:
        await core.agents.detach_interface(ctx, instance.host, server_id, port_id)
    except Exception as exc:
        raise Conflict(f"Failed to detach network adapter device from {server_id}: {exc}") from None
    return Response(status_code=202)


# -- security groups of a server ------------------------------------------------------------------
def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    prefix = rule.get("remote_ip_prefix")
    return {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "ip_protocol": rule.get("protocol"),
        "from_port": rule.get("port_range_min"),
        "to_port": rule.get("port_range_max"),
        "ip_range": {"cidr": prefix} if prefix else {},
        "group": {"name": rule["remote_group_id"]} if rule.get("remote_group_id") else {},
    }


@router.get("/servers/{server_id}/os-security-groups")
async def server_security_groups(
    request: Request, server_id: str, ctx: RequestContext = Caller
) -> Response:
    core = core_of(request)
    instance = await _server(core, ctx, server_id, "os-security-groups:list")
    ids = sorted({g for p in await _ports(core, instance) for g in p.get("security_groups", [])})
    if not ids:
        return json({"security_groups": []})
    api = network.NetworkAPI(core)
    groups = (await api.as_service("GET", "/v2.0/security-groups", params={"id": ids}))[
        "security_groups"
    ]
    out = [
        {
            "id": g["id"],
            "name": g["name"],
            "description": g.get("description", ""),
            "tenant_id": g.get("project_id"),
            "rules": [_rule(r) for r in g.get("security_group_rules", [])],
        }
        for g in groups
    ]
    return json({"security_groups": out})
