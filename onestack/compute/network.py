"""Compute's side of the Networking API (Nova's ``nova.network.neutron``).

At the API: :func:`requested_networks` checks a boot request's ``networks`` with the caller's
token (what the caller may see is what the Networking service shows the caller) and turns it
into plain requests kept in the request spec. On the compute host: :meth:`NetworkAPI.allocate`
creates (or binds) the server's ports as the ``nova`` service user, with the server's project
as tenant, ``device_id`` = server, ``device_owner`` = ``compute:<az>`` and ``binding:host_id``
= the host; :meth:`NetworkAPI.deallocate` deletes the ports Compute made and unbinds the ones
the user gave. The result, ``network_info``, is cached on the instance
(``system_metadata["network_info"]``) and rendered as the server's ``addresses``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

from onestack.common.context import RequestContext
from onestack.common.errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    of_status,
)
from onestack.common.microversions import Version

if TYPE_CHECKING:
    from onestack.compute.core import ComputeCore
    from onestack.compute.models import Instance

LOG = logging.getLogger(__name__)
CACHE_KEY = "network_info"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


class NetworkError(ServiceUnavailable):
    """The Networking service refused or failed a call made as the service user; at the API
    it answers as the Networking service's status did (400, 404, 409; else 503)."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        if status in (400, 403, 404, 409):
            self.code = status


# -- the request --------------------------------------------------------------------------------
def parse(value: Any, version: Version) -> list[dict[str, Any]] | str | None:
    """The shape of ``networks``: ``None`` (omitted), ``"auto"``, ``"none"`` or a list of
    ``{"uuid"|"port", "fixed_ip", "tag"}`` (the JSON schema Nova checks)."""
    if value is None:
        if version >= (2, 37):
            raise BadRequest(
                "Invalid input for field/attribute networks: 'networks' is a required property"
            )
        return None
    if isinstance(value, str):
        if version < (2, 37) or value not in ("auto", "none"):
            raise BadRequest(
                f"Invalid input for field/attribute networks. Value: {value}. "
                f"{value!r} is not of type 'array'"
            )
        return value
    if not isinstance(value, list):
        raise BadRequest("Invalid input for field/attribute networks: it must be a list.")
    tags_ok = (2, 32) <= version < (2, 37) or version >= (2, 42)
    allowed = {"uuid", "port", "fixed_ip"} | ({"tag"} if tags_ok else set())
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest("Invalid input for field/attribute networks: items are objects.")
        extra = set(item) - allowed
        if extra:
            raise BadRequest(
                "Invalid input for field/attribute networks. Additional properties are "
                f"not allowed ({', '.join(repr(k) for k in sorted(extra))} were unexpected)"
            )
        net, port, ip, tag = (item.get(k) for k in ("uuid", "port", "fixed_ip", "tag"))
        for text in (net, port):
            if text is not None and (not isinstance(text, str) or not _UUID_RE.match(text)):
                raise BadRequest(
                    f"Bad networks format: network uuid is not in proper format ({text})"
                )
        if tag is not None and (not isinstance(tag, str) or not 0 < len(tag) <= 60 or "/" in tag):
            raise BadRequest(f"Invalid input for field/attribute tag. Value: {tag!r}.")
        if ip is not None:
            try:
                ipaddress.ip_address(ip if isinstance(ip, str) else "")
            except ValueError:
                raise BadRequest(f"Invalid fixed IP address ({ip})") from None
        if not port and not net:
            raise BadRequest(
                "Invalid input for field/attribute networks: each item needs a 'uuid' or a 'port'."
            )
        if port and ip:
            raise BadRequest(
                "Invalid input for field/attribute networks: 'fixed_ip' cannot go with 'port'."
            )
        out.append(
            {"network_id": None if port else net, "port_id": port, "fixed_ip": ip, "tag": tag}
        )
    return out


async def requested_networks(
    core: ComputeCore,
    ctx: RequestContext,
    value: Any,
    version: Version,
    groups: list[str],
    max_count: int,
    min_count: int = 1,
) -> dict[str, Any]:
    """Check ``networks`` and ``security_groups`` against what the caller may use; what the
    compute host needs to allocate the ports (kept in the request spec)."""
    shape = parse(value, version)
    if shape == "none":
        return {"requests": [], "security_group_ids": []}
    api = NetworkAPI(core)
    if not api.available():
        if shape is None or shape == "auto":
            return {"requests": [], "security_group_ids": []}
        raise BadRequest("Networks cannot be used: this cloud has no Networking service.")
    auto = False
    if shape is None or shape == "auto":
        nets = await api.available_networks(ctx)
        if len(nets) > 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        if nets:
            requests = [{"network_id": nets[0]["id"], "port_id": None, "fixed_ip": None}]
        elif shape == "auto":
            await api.can_auto_allocate(ctx)
            requests, auto = [], True
        else:
            requests = []
    else:
        assert isinstance(shape, list)
        requests = [await api.check_request(ctx, r, max_count) for r in shape]
        ports = [r["port_id"] for r in requests if r["port_id"]]
        if len(set(ports)) != len(ports):
            raise BadRequest("Duplicate port in the networks of the request.")
    group_ids = await api.security_group_ids(ctx, groups) if (requests or auto) else []
    per_server = sum(1 for r in requests if not r["port_id"]) + int(auto)
    await api.check_port_quota(ctx, per_server * min_count)
    return {"requests": requests, "auto_allocate": auto, "security_group_ids": group_ids}


# -- the client ---------------------------------------------------------------------------------
class NetworkAPI:
    """Calls to the Networking API: as the caller (checks at the API) or as the ``nova``
    service user (the compute host's allocations)."""

    def __init__(self, core: ComputeCore):
        self.core = core
        self.clients = core.platform.clients

    def available(self) -> bool:
        settings = self.core.settings
        return "network" in set(settings.services) | set(settings.remote_services)

    async def _send(
        self, ctx: RequestContext | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        client = self.clients.for_service("network", user="nova")
        try:
            if ctx is None or not ctx.auth_token:
                return await client.request(method, path, **kwargs)
            url = await client.endpoint() + path
            headers = {"X-Auth-Token": ctx.auth_token}
            return await self.clients.http.request(method, url, headers=headers, **kwargs)
        except Exception as exc:
            raise ServiceUnavailable(f"The Networking service is unreachable: {exc}") from exc

    async def as_user(self, ctx: RequestContext, method: str, path: str, **kw: Any) -> Any:
        """The caller's call; an error answer of the Networking service raised as its status
        with its message (so a 404 of a port the caller may not see stays that)."""
        resp = await self._send(ctx, method, path, **kw)
        if resp.status_code >= 400:
            raise _api_error(resp)
        return resp.json() if resp.content else None

    async def as_service(self, method: str, path: str, **kw: Any) -> Any:
        resp = await self._send(None, method, path, **kw)
        if resp.status_code >= 400:
            raise NetworkError(
                f"The Networking service refused {method} {path}: {_message(resp)}",
                resp.status_code,
            )
        return resp.json() if resp.content else None

    # -- checks at the API -------------------------------------------------------------------
    async def available_networks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """The caller's project's networks and the shared ones (not external ones), as Nova
        chooses from when no network is named."""
        own = await self.as_user(
            ctx, "GET", "/v2.0/networks", params={"project_id": ctx.project_id, "shared": "False"}
        )
        shared = await self.as_user(ctx, "GET", "/v2.0/networks", params={"shared": "True"})
        nets = {n["id"]: n for n in own["networks"] + shared["networks"]}
        return [n for n in nets.values() if not n.get("router:external") or n.get("shared")]

    async def can_auto_allocate(self, ctx: RequestContext) -> None:
        resp = await self._send(
            ctx,
            "GET",
            f"/v2.0/auto-allocated-topology/{ctx.project_id}",
            params={"fields": "dry-run"},
        )
        if resp.status_code != 200:
            raise BadRequest(
                f"Unable to automatically allocate a network for project {ctx.project_id}"
            )

    async def check_request(
        self, ctx: RequestContext, req: dict[str, Any], max_count: int
    ) -> dict[str, Any]:
        if req["port_id"]:
            if max_count > 1:
                raise BadRequest(
                    "Unable to launch multiple instances with a single configured port ID. "
                    "Please launch your instance one by one with different ports."
                )
            port = await self._visible(
                ctx, "ports", req["port_id"], "Port id {} could not be found."
            )
            if port.get("device_id"):
                raise Conflict(f"Port {req['port_id']} is still in use.")
            if not port.get("fixed_ips"):
                raise BadRequest(f"Port {req['port_id']} requires a FixedIP in order to be used.")
            return {**req, "network_id": port["network_id"]}
        net = await self._visible(
            ctx, "networks", req["network_id"], "Network {} could not be found."
        )
        if not net.get("subnets"):
            raise BadRequest(
                f"Network {net['id']} requires a subnet in order to boot instances on."
            )
        if req["fixed_ip"]:
            if max_count > 1:
                raise BadRequest(
                    "Failed to launch instances: multiple instances with one fixed IP."
                )
            await self._check_fixed_ip(ctx, net, req["fixed_ip"])
        return {**req, "network_id": net["id"]}

    async def _visible(self, ctx: RequestContext, kind: str, ident: str, missing: str) -> Any:
        resp = await self._send(ctx, "GET", f"/v2.0/{kind}/{ident}")
        if resp.status_code in (400, 404):
            raise BadRequest(missing.format(ident))
        if resp.status_code >= 400:
            raise _api_error(resp)
        return resp.json()[kind[:-1]]

    async def _check_fixed_ip(self, ctx: RequestContext, net: dict[str, Any], ip: str) -> None:
        subnets = (
            await self.as_user(ctx, "GET", "/v2.0/subnets", params={"network_id": net["id"]})
        )["subnets"]
        address = ipaddress.ip_address(ip)
        if not any(address in ipaddress.ip_network(s["cidr"]) for s in subnets):
            raise BadRequest(f"Fixed IP address {ip} is not valid for network {net['id']}.")
        used = await self.as_service(
            "GET",
            "/v2.0/ports",
            params={"network_id": net["id"], "fixed_ips": f"ip_address={ip}", "fields": "id"},
        )
        if used["ports"]:
            raise BadRequest(f"Fixed IP address {ip} is already in use on instance.")

    async def security_group_ids(self, ctx: RequestContext, names: list[str]) -> list[str]:
        """Names (in the caller's project) or ids of security groups; 400 for unknown ones."""
        found = (
            await self.as_user(
                ctx, "GET", "/v2.0/security-groups", params={"fields": ["id", "name", "project_id"]}
            )
        )["security_groups"]
        out = []
        for name in names:
            ids = [g["id"] for g in found if g["id"] == name]
            if not ids:
                ids = [
                    g["id"]
                    for g in found
                    if g["name"] == name and g.get("project_id") == ctx.project_id
                ]
            if not ids:
                raise BadRequest(f"Security group {name} not found.")
            if len(ids) > 1:
                raise Conflict(
                    f"Multiple security groups found matching '{name}'. Use an ID to be "
                    "more specific."
                )
            out.append(ids[0])
        return list(dict.fromkeys(out))

    async def check_port_quota(self, ctx: RequestContext, wanted: int) -> None:
        """Over the Networking service's port quota: 403, as Nova answers."""
        if not wanted:
            return
        detail = await self.as_service("GET", f"/v2.0/quotas/{ctx.project_id}/details.json")
        port = (detail or {}).get("quota", {}).get("port") or {}
        limit = int(port.get("limit", -1))
        if limit >= 0 and int(port.get("used", 0)) + int(port.get("reserved", 0)) + wanted > limit:
            raise Forbidden("Maximum number of ports exceeded")

    # -- the compute host's side ---------------------------------------------------------------
    async def allocate(self, instance: Instance, host: str) -> list[dict[str, Any]]:
        """The instance's ports, made or bound on ``host``; on a failure the ports made so
        far are deleted again (and user ports unbound) before :class:`NetworkError`."""
        wanted = dict((instance.request_spec or {}).get("networks") or {})
        requests = list(wanted.get("requests") or [])
        if wanted.get("auto_allocate"):
            topo = await self.as_service(
                "GET", f"/v2.0/auto-allocated-topology/{instance.project_id}"
            )
            requests = [{"network_id": topo["auto_allocated_topology"]["id"], "port_id": None}]
        owner = f"compute:{instance.availability_zone or self.core.conf.default_availability_zone}"
        done: list[tuple[str, bool]] = []
        tags: dict[str | None, str | None] = {}
        try:
            for req in requests:
                done.append(await self.bind_port(instance, host, owner, req, wanted))
                tags[done[-1][0]] = req.get("tag")
        except Exception as exc:
            await self.release(done, instance.uuid)
            if isinstance(exc, NetworkError):
                raise
            raise NetworkError(str(exc)) from exc
        return await self.network_info(instance.uuid, {p for p, user in done if user}, tags)

    async def bind_port(
        self,
        instance: Instance,
        host: str,
        owner: str,
        req: dict[str, Any],
        wanted: dict[str, Any],
    ) -> tuple[str, bool]:
        binding = {"device_id": instance.uuid, "device_owner": owner, "binding:host_id": host}
        if req.get("port_id"):
            port = (await self.as_service("GET", f"/v2.0/ports/{req['port_id']}"))["port"]
            if port.get("device_id") not in ("", None, instance.uuid):
                raise NetworkError(f"Port {req['port_id']} is still in use.", 409)
            await self.as_service("PUT", f"/v2.0/ports/{port['id']}", json={"port": binding})
            return port["id"], True
        body: dict[str, Any] = {
            "network_id": req["network_id"],
            "project_id": instance.project_id,
            "name": "",
            **binding,
        }
        if req.get("fixed_ip"):
            body["fixed_ips"] = [{"ip_address": req["fixed_ip"]}]
        groups = wanted.get("security_group_ids")
        if groups:
            body["security_groups"] = list(groups)
        port = (await self.as_service("POST", "/v2.0/ports", json={"port": body}))["port"]
        return port["id"], False

    async def release(self, ports: list[tuple[str, bool]], instance_uuid: str) -> None:
        for port_id, user_given in ports:
            try:
                if user_given:
                    await self.unbind(port_id)
                else:
                    await self._delete_port(port_id)
            except Exception:
                LOG.warning(
                    "could not release port %s of %s", port_id, instance_uuid, exc_info=True
                )

    async def unbind(self, port_id: str) -> None:
        await self.as_service(
            "PUT",
            f"/v2.0/ports/{port_id}",
            json={"port": {"device_id": "", "device_owner": "", "binding:host_id": ""}},
        )

    async def _delete_port(self, port_id: str) -> None:
        resp = await self._send(None, "DELETE", f"/v2.0/ports/{port_id}")
        if resp.status_code not in (204, 404):
            raise NetworkError(
                f"The Networking service refused to delete port {port_id}: {_message(resp)}",
                resp.status_code,
            )

    async def deallocate(self, instance: Instance) -> None:
        """Delete the ports Compute made for the instance; unbind the ones the user gave."""
        keep = preserved(instance)
        ports = (
            await self.as_service(
                "GET", "/v2.0/ports", params={"device_id": instance.uuid, "fields": "id"}
            )
        )["ports"]
        await self.release([(p["id"], p["id"] in keep) for p in ports], instance.uuid)

    async def network_info(
        self,
        instance_uuid: str,
        user_ports: set[str],
        tags: dict[str | None, str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """The instance's ports as the virt driver and the views need them."""
        ports = (await self.as_service("GET", "/v2.0/ports", params={"device_id": instance_uuid}))[
            "ports"
        ]
        if not ports:
            return []
        net_ids = sorted({p["network_id"] for p in ports})
        subnet_ids = sorted({ip["subnet_id"] for p in ports for ip in p.get("fixed_ips", [])})
        nets, subnets, fips = await asyncio.gather(
            self.as_service("GET", "/v2.0/networks", params={"id": net_ids}),
            self.as_service("GET", "/v2.0/subnets", params={"id": subnet_ids})
            if subnet_ids
            else _empty("subnets"),
            self.as_service(
                "GET", "/v2.0/floatingips", params={"port_id": [p["id"] for p in ports]}
            ),
        )
        by_net = {n["id"]: n for n in nets["networks"]}
        by_subnet = {s["id"]: s for s in subnets["subnets"]}
        floating: dict[str, list[str]] = {}
        for fip in fips["floatingips"]:
            floating.setdefault(f"{fip['port_id']}|{fip['fixed_ip_address']}", []).append(
                fip["floating_ip_address"]
            )
        out = []
        for port in sorted(ports, key=lambda p: p.get("created_at") or ""):
            net = by_net.get(port["network_id"], {"id": port["network_id"]})
            fixed = []
            for ip in port.get("fixed_ips", []):
                subnet = by_subnet.get(ip["subnet_id"], {})
                fixed.append(
                    {
                        "ip_address": ip["ip_address"],
                        "subnet_id": ip["subnet_id"],
                        "version": ipaddress.ip_address(ip["ip_address"]).version,
                        "subnet": {
                            "cidr": subnet.get("cidr"),
                            "gateway_ip": subnet.get("gateway_ip"),
                            "dns_nameservers": list(subnet.get("dns_nameservers") or []),
                            "enable_dhcp": subnet.get("enable_dhcp", True),
                        },
                        "floating_ips": floating.get(f"{port['id']}|{ip['ip_address']}", []),
                    }
                )
            out.append(
                {
                    "id": port["id"],
                    "mac_address": port["mac_address"],
                    "devname": ("tap" + port["id"])[:14],
                    "status": port.get("status"),
                    "network": {
                        "id": net["id"],
                        "name": net.get("name") or net["id"],
                        "mtu": net.get("mtu"),
                    },
                    "fixed_ips": fixed,
                    "binding:vif_type": port.get("binding:vif_type"),
                    "binding:vif_details": dict(port.get("binding:vif_details") or {}),
                    "security_groups": list(port.get("security_groups") or []),
                    "preserve_on_delete": port["id"] in user_ports,
                    "tag": (tags or {}).get(port["id"]),
                }
            )
        return out


async def _empty(kind: str) -> dict[str, list[Any]]:
    return {kind: []}


def cached(instance: Instance) -> list[dict[str, Any]]:
    return list((instance.system_metadata or {}).get(CACHE_KEY) or [])


def preserved(instance: Instance) -> set[str]:
    """Ports the user gave (kept on delete): named at boot or attached as ``port_id``."""
    wanted = (instance.request_spec or {}).get("networks") or {}
    keep = {r["port_id"] for r in wanted.get("requests") or [] if r.get("port_id")}
    return keep | {p["id"] for p in cached(instance) if p.get("preserve_on_delete")}


def addresses(network_info: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The ``addresses`` of a server: by network name, fixed then floating IPs."""
    out: dict[str, list[dict[str, Any]]] = {}
    for port in network_info:
        items = out.setdefault(port["network"]["name"], [])
        for ip in port["fixed_ips"]:
            entry = {"version": ip["version"], "addr": ip["ip_address"]}
            items.append(
                {
                    **entry,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                }
            )
            for fip in ip.get("floating_ips", []):
                items.append(
                    {
                        "version": ipaddress.ip_address(fip).version,
                        "addr": fip,
                        "OS-EXT-IPS:type": "floating",
                        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    }
                )
    return out


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict) and isinstance(body.get("NeutronError"), dict):
        return str(body["NeutronError"].get("message", ""))
    return str(body)[:200]


def _api_error(resp: httpx.Response) -> APIError:
    """The Networking service's answer as Compute's error of the same kind."""
    return of_status(resp.status_code, _message(resp))


# -- the compute host's flow -------------------------------------------------------------------
class HostNetworking:
    """A compute host's networking: ports of a build (and the wait for them to plug),
    interfaces attached later, release on delete, the info cache kept fresh on events."""

    def __init__(self, core: ComputeCore, host: str):
        from onestack.compute.vifs import VifEvents

        self.core = core
        self.host = host
        self.api = NetworkAPI(core)
        self.events = VifEvents()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # lock and its users

    @contextlib.asynccontextmanager
    async def guard(self, instance_uuid: str) -> AsyncIterator[None]:
        """One change of an instance's ports and info cache at a time on this host: a refresh
        that read the ports before a detach must not write them back after it."""
        lock, users = self._locks.get(instance_uuid, (asyncio.Lock(), 0))
        self._locks[instance_uuid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            # dropped only when no one holds or waits for it: a released lock is not "locked"
            # before its next waiter runs, and a new lock then would let a third change in
            lock, users = self._locks[instance_uuid]
            if users == 1:
                del self._locks[instance_uuid]
            else:
                self._locks[instance_uuid] = (lock, users - 1)

    def _wanted(self, instance: Instance) -> bool:
        wanted = (instance.request_spec or {}).get("networks") or {}
        return bool(wanted.get("requests") or wanted.get("auto_allocate"))

    async def allocate(self, instance: Instance) -> tuple[list[dict[str, Any]], list[str]]:
        """Bind the instance's ports here; (network_info, ports to wait for). The waiter
        exists before any port is bound."""
        if not self._wanted(instance) or not self.api.available():
            return [], []
        self.events.prepare(instance.uuid)
        await self.api.deallocate(instance)  # what an interrupted attempt left (idempotent)
        active_before = await self._active_user_ports(instance)
        try:
            async with self.guard(instance.uuid):
                info = await self.api.allocate(instance, self.host)
                await save_cache(self.core, instance.uuid, info)
        except Exception:
            self.events.done(instance.uuid)
            raise
        return info, [p["id"] for p in info if p["id"] not in active_before]

    async def _active_user_ports(self, instance: Instance) -> set[str]:
        """User ports already up before this host bound them (no event comes for those)."""
        out = set()
        for port_id in preserved(instance):
            try:
                port = (await self.api.as_service("GET", f"/v2.0/ports/{port_id}"))["port"]
            except NetworkError:
                continue
            if port.get("status") == "ACTIVE" and port.get("binding:host_id") == self.host:
                out.add(port_id)
        return out

    async def wait_plugged(self, instance_uuid: str, ports: list[str]) -> None:
        """Wait for ``network-vif-plugged`` of ``ports``; a timeout fails the build when
        ``vif_plugging_is_fatal``, else it is logged and the build goes on."""
        from onestack.compute.vifs import VifPlugTimeout

        conf = self.core.conf
        try:
            if ports and conf.vif_plugging_timeout > 0:
                await self.events.prepare(instance_uuid).wait(ports, conf.vif_plugging_timeout)
        except VifPlugTimeout:
            if conf.vif_plugging_is_fatal:
                raise
            LOG.warning("instance %s: ports did not report plugged; going on", instance_uuid)
        finally:
            self.events.done(instance_uuid)

    async def deallocate(self, instance: Instance) -> None:
        """Ports made by Compute deleted, the user's unbound; a failure is logged (the
        ports stay visible in the Networking API for an operator)."""
        self.events.done(instance.uuid, abort=f"the ports of {instance.uuid} were released")
        if not self.api.available() or not (self._wanted(instance) or cached(instance)):
            return  # never had a port: no call to the Networking service
        async with self.guard(instance.uuid):
            try:
                await self.api.deallocate(instance)
            except Exception:
                LOG.warning("could not release the ports of %s", instance.uuid, exc_info=True)
            await save_cache(self.core, instance.uuid, [])

    async def rebind(self, instance: Instance, host: str | None = None) -> list[dict[str, Any]]:
        """After a move to this host: the instance's ports bound here (``host=""``: unbound,
        as a shelve offload leaves them); the new cache."""
        if not cached(instance) or not self.api.available():
            return cached(instance)
        try:
            for port in cached(instance):
                await self.api.as_service(
                    "PUT",
                    f"/v2.0/ports/{port['id']}",
                    json={"port": {"binding:host_id": self.host if host is None else host}},
                )
            return await self.refresh(instance.uuid)
        except Exception:
            LOG.warning("could not bind the ports of %s here", instance.uuid, exc_info=True)
            return cached(instance)

    async def refresh(self, instance_uuid: str) -> list[dict[str, Any]]:
        """Read the instance's ports again into its info cache (``network-changed``)."""
        from onestack.compute import instances

        async with self.guard(instance_uuid):
            async with self.core.read() as session:
                instance = await instances.load(session, instance_uuid)
            info = await self.api.network_info(
                instance_uuid, preserved(instance), port_tags(instance)
            )
            await save_cache(self.core, instance_uuid, info)
        return info

    async def external_events(self, events: list[dict[str, Any]]) -> None:
        refresh = set()
        for event in events:
            if event.get("name") == "network-vif-plugged":
                self.events.deliver(event)
            elif event.get("name") in ("network-changed", "network-vif-deleted"):
                refresh.add(str(event["server_uuid"]))
        for uuid in refresh:
            try:
                await self.refresh(uuid)
            except Exception:
                LOG.warning("could not refresh the network info of %s", uuid, exc_info=True)


def port_tags(instance: Instance) -> dict[str | None, str | None]:
    tags: dict[str | None, str | None] = {p["id"]: p.get("tag") for p in cached(instance)}
    wanted = (instance.request_spec or {}).get("networks") or {}
    tags.update(
        {r["port_id"]: r.get("tag") for r in wanted.get("requests") or [] if r.get("port_id")}
    )
    return tags


async def save_cache(core: ComputeCore, instance_uuid: str, info: list[dict[str, Any]]) -> None:
    """Write the instance's network info cache."""
    from sqlalchemy import select

    from onestack.compute.models import Instance

    async with core.write() as session:
        row = (
            await session.execute(
                select(Instance).where(Instance.uuid == instance_uuid).with_for_update()
            )
        ).scalar()
        if row is not None:
            row.system_metadata = {**(row.system_metadata or {}), CACHE_KEY: info}


# -- actions on a server's ports ---------------------------------------------------------------
async def change_security_group(
    core: ComputeCore, ctx: RequestContext, instance: Instance, name: str, *, add: bool
) -> bool:
    """Add (or remove) a security group on every port of the server with port security;
    whether the group was on any port (before a removal)."""
    api = NetworkAPI(core)
    if not api.available():
        return False
    group = (await api.security_group_ids(ctx, [name]))[0]
    ports = (await api.as_service("GET", "/v2.0/ports", params={"device_id": instance.uuid}))[
        "ports"
    ]
    found = False
    for port in ports:
        groups = list(port.get("security_groups") or [])
        found = found or group in groups
        if add and group not in groups and port.get("port_security_enabled", True):
            groups.append(group)
        elif not add and group in groups:
            groups.remove(group)
        else:
            continue
        await api.as_service(
            "PUT", f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": groups}}
        )
    if ports and add and not any(p.get("port_security_enabled", True) for p in ports):
        raise BadRequest(
            "Unable to add security group to the server: its ports have port security disabled."
        )
    await save_cache(
        core,
        instance.uuid,
        await api.network_info(instance.uuid, preserved(instance), port_tags(instance)),
    )
    return found


async def associate_floating_ip(
    core: ComputeCore,
    ctx: RequestContext,
    instance: Instance,
    address: str,
    fixed_address: str | None,
    *,
    remove: bool = False,
) -> None:
    """The ``addFloatingIp`` / ``removeFloatingIp`` proxies, as the caller."""
    api = NetworkAPI(core)
    found = (
        await api.as_user(ctx, "GET", "/v2.0/floatingips", params={"floating_ip_address": address})
    )["floatingips"]
    if not found:
        raise NotFound(f"floating IP not found for address {address}")
    fip = found[0]
    info = cached(instance)
    if remove:
        if fip.get("port_id") not in {p["id"] for p in info}:
            raise Conflict(
                f"Floating IP {address} is not associated with instance {instance.uuid}."
            )
        body: dict[str, Any] = {"port_id": None}
    else:
        choice = [
            (p["id"], ip["ip_address"])
            for p in info
            for ip in p["fixed_ips"]
            if ip["version"] == 4 and (fixed_address is None or ip["ip_address"] == fixed_address)
        ]
        if not choice:
            raise BadRequest(
                f"Instance {instance.uuid} has no fixed IPv4 address"
                + (f" {fixed_address}" if fixed_address else "")
                + " to associate a floating IP with."
            )
        body = {"port_id": choice[0][0], "fixed_ip_address": choice[0][1]}
    await api.as_user(ctx, "PUT", f"/v2.0/floatingips/{fip['id']}", json={"floatingip": body})
    await save_cache(
        core,
        instance.uuid,
        await api.network_info(instance.uuid, preserved(instance), port_tags(instance)),
    )
