"""The compute agent (topic ``compute``, one server per host): builds and changes instances
through its virt driver, registers its hosts (service record, compute node, resource provider
with inventory and traits), heartbeats, and reconciles on start.

One process may run many hosts (``onestack agent compute --fake --hosts 1000``): each has its
own driver, service record, provider and RPC server ``compute.<host>``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select, update

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.platform import Platform
from onestack.common.rpc import RPCServer
from onestack.compute import instances, live_migration, network, states, usage_audit, volumes
from onestack.compute.core import ComputeCore, SharedCore
from onestack.compute.models import (
    ComputeNode,
    ComputeService,
    ConsoleAuthToken,
    Instance,
    ServerGroup,
)
from onestack.compute.rpcapi import COMPUTE_TOPIC
from onestack.compute.vifs import VifPlugTimeout
from onestack.compute.virt import driver as virt
from onestack.compute.virt import virt_driver_of
from onestack.compute.virt.driver import GuestSpec, VirtDriver, VirtError
from onestack.compute.virt.fake import FakeDriver

LOG = logging.getLogger(__name__)
_NS = uuidlib.UUID("5a3c1c5e-5f0b-4c55-9a55-6f6e65737461")


#: the notifications Nova sends for the destination's half of a move
MOVE_EVENTS = {
    "resize": "resize_finish",
    "migrate": "resize_finish",
    "live-migration": "live_migration_post_dest",
}


def stable_uuid(kind: str, name: str) -> str:
    """The same uuid for the same host on every start (service record, node, provider)."""
    return str(uuidlib.uuid5(_NS, f"{kind}:{name}"))


def host_names(platform: Platform, count: int | None = None) -> list[str]:
    conf = platform.settings.compute
    count = count or conf.fake_hosts
    if count == 1:
        return [platform.host]
    return [f"{platform.host}-{i:04d}" for i in range(1, count + 1)]


def guest_of(
    instance: Instance,
    flavor: dict[str, Any] | None = None,
    network_info: list[dict[str, Any]] | None = None,
) -> GuestSpec:
    flavor = flavor or instance.flavor
    if network_info is None:
        network_info = network.cached(instance)
    return GuestSpec(
        uuid=instance.uuid,
        name=instance.hostname or instance.name,
        vcpus=int(flavor.get("vcpus", 0)),
        memory_mb=int(flavor.get("memory_mb", 0)),
        root_gb=int(flavor.get("root_gb", 0)),
        image_ref=instance.image_ref,
        image_properties=dict((instance.request_spec or {}).get("image_properties") or {}),
        key_data=instance.key_data,
        user_data=instance.user_data,
        admin_password=instance.admin_password,
        metadata=dict(instance.metadata_ or {}),
        config_drive=bool(instance.config_drive),
        network_info=tuple(network_info),
        project_id=instance.project_id,
        key_name=instance.key_name,
        availability_zone=instance.availability_zone or "",
        flavor_name=str(flavor.get("name", "")),
        reservation_id=instance.reservation_id,
    )


class ComputeAgent:
    """Every compute host of this process."""

    def __init__(
        self,
        platform: Platform,
        hosts: list[str] | None = None,
        drivers: dict[str, VirtDriver] | None = None,
    ):
        self.platform = platform
        self.core: ComputeCore = SharedCore.get(platform)
        conf = self.core.conf
        names = hosts or host_names(platform)
        if drivers is None and virt_driver_of(conf) == "qemu":
            drivers = {platform.host: self._qemu_driver(platform.host)}
        self.drivers: dict[str, VirtDriver] = drivers or {
            name: FakeDriver(
                name,
                vcpus=conf.fake_vcpus,
                memory_mb=conf.fake_memory_mb,
                local_gb=conf.fake_local_gb,
                delay=conf.fake_delay,
                fail_spawn=name in conf.fake_fail_hosts,
                migration_time=conf.fake_live_migration_time,
            )
            for name in names
        }
        self.endpoints = {name: HostEndpoint(self, name, d) for name, d in self.drivers.items()}
        self.servers = [
            RPCServer(platform.transport, COMPUTE_TOPIC, name, [ep])
            for name, ep in self.endpoints.items()
        ]
        self._tasks: list[asyncio.Task[Any]] = []

    def _qemu_driver(self, name: str) -> VirtDriver:
        from onestack.compute.guest import registry
        from onestack.compute.virt.qemu.driver import QemuDriver

        settings, conf = self.platform.settings, self.core.conf
        return QemuDriver(
            name,
            conf.instances_path or settings.data_dir / "instances",
            fetch_image=self._fetch_image,
            accel_mode=conf.accel,
            shutdown_timeout=conf.shutdown_timeout,
            force_config_drive=conf.force_config_drive,
            probe_image=registry.probe_image(settings.data_dir),
        )

    async def _fetch_image(self, image_id: str) -> tuple[dict[str, Any], bytes]:
        """An image's record and bytes, as the ``nova`` service user (for the driver's cache)."""
        meta = await self.core.image_request(None, "GET", f"/v2/images/{image_id}")
        if meta.status_code != 200:
            raise VirtError(f"image {image_id}: the Image service answered {meta.status_code}")
        data = await self.core.image_request(None, "GET", f"/v2/images/{image_id}/file")
        if data.status_code != 200:
            raise VirtError(f"image {image_id} data: the Image service answered {data.status_code}")
        return dict(meta.json()), data.content

    async def start(self) -> None:
        """Register every host and start serving. On a first start the hosts' providers are
        made in Placement before this returns (nothing could be scheduled before); on later
        starts they exist already, so Placement is brought up to date and the hosts are
        reconciled in the background, and the process is ready at once."""
        await SharedCore.start(self.platform)
        known = await self._known_nodes()
        for ep in self.endpoints.values():
            await ep.register_local()
        await self.heartbeat()
        warm = all(ep.node_uuid in known for ep in self.endpoints.values())
        if warm:
            for server in self.servers:
                await server.start()
            self._tasks.append(asyncio.create_task(self._settle(), name="compute-settle"))
        else:
            await self._settle()
            for server in self.servers:
                await server.start()
        self._tasks.append(asyncio.create_task(self._beat(), name="compute-heartbeat"))

    async def _known_nodes(self) -> set[str]:
        async with self.core.read() as session:
            return set((await session.execute(select(ComputeNode.uuid))).scalars())

    async def _settle(self) -> None:
        """Providers, inventories and traits in Placement, then each host's reconcile."""
        limit = asyncio.Semaphore(20)

        async def one(ep: HostEndpoint) -> None:
            async with limit:
                await ep.register_placement()

        try:
            await asyncio.gather(*(one(ep) for ep in self.endpoints.values()))
            for ep in self.endpoints.values():
                await ep.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:
            if not self._tasks:  # a first start: the caller must know
                raise
            LOG.exception("registering hosts in Placement failed; the next beat tries again")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop taking work; builds still running after ``timeout`` s are cancelled (as a
        crash would leave them: the next start reconciles)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await asyncio.gather(*(server.stop(timeout=timeout) for server in self.servers))
        await SharedCore.stop(self.platform)

    async def heartbeat(self) -> None:
        names = list(self.drivers)
        async with self.core.write() as session:
            for i in range(0, len(names), 500):
                await session.execute(
                    update(ComputeService)
                    .where(
                        ComputeService.host.in_(names[i : i + 500]),
                        ComputeService.binary == "nova-compute",
                    )
                    .values(last_seen_up=utcnow())
                )

    async def _beat(self) -> None:
        """Heartbeat every ``report_interval``; every sixth beat also syncs power states and
        reclaims soft-deleted instances whose interval passed."""
        beats = 0
        while True:
            await asyncio.sleep(self.core.conf.report_interval)
            beats += 1
            try:
                await self.heartbeat()
                if beats % 6 == 0:
                    for endpoint in self.endpoints.values():
                        await endpoint.report_resources()
                        await endpoint.sync_power_states()
                        await endpoint.reclaim_soft_deleted()
                        await usage_audit.run(self.core, endpoint.host)
                        prune = getattr(endpoint.driver, "prune_images", None)
                        if prune is not None:
                            await prune(self.core.conf.remove_unused_original_minimum_age_seconds)
            except Exception:
                LOG.exception("compute heartbeat failed; trying again")


class HostEndpoint:
    """The RPC methods of one compute host."""

    RPC_API_VERSION = "1.0"

    def __init__(self, agent: ComputeAgent, host: str, driver: VirtDriver):
        self.agent = agent
        self.core = agent.core
        self.host = host
        self.driver = driver
        self.node_uuid = stable_uuid("node", driver.nodename)
        self._building: set[str] = set()
        self.network = network.HostNetworking(self.core, host)

    # -- registration ---------------------------------------------------------------------
    async def report_resources(self) -> None:
        """Tell Placement what the host offers now (a no-op when nothing changed); the
        provider is made again if it went missing."""
        await self.register_placement()

    async def register(self) -> None:
        await self.register_local()
        await self.register_placement()

    async def register_placement(self) -> None:
        res = self.driver.host_resources()
        await self.core.placement.ensure_provider(self.node_uuid, res.hypervisor_hostname)
        await self._report(res)

    async def register_local(self) -> None:
        """The service record and the compute node row, in this service's database."""
        conf = self.core.conf
        await self.driver.init_host()
        res = self.driver.host_resources()
        async with self.core.write() as session:
            service = (
                await session.execute(
                    select(ComputeService).where(
                        ComputeService.host == self.host, ComputeService.binary == "nova-compute"
                    )
                )
            ).scalar()
            if service is None:
                session.add(
                    ComputeService(
                        uuid=stable_uuid("service", self.host),
                        host=self.host,
                        binary="nova-compute",
                        topic=COMPUTE_TOPIC,
                        last_seen_up=utcnow(),
                    )
                )
            node = (
                await session.execute(
                    select(ComputeNode).where(
                        ComputeNode.hypervisor_hostname == res.hypervisor_hostname
                    )
                )
            ).scalar()
            if node is None:
                node = ComputeNode(
                    uuid=self.node_uuid, host=self.host, hypervisor_hostname=res.hypervisor_hostname
                )
                session.add(node)
            self.node_uuid = node.uuid
            node.host = self.host
            node.vcpus, node.memory_mb, node.local_gb = res.vcpus, res.memory_mb, res.local_gb
            node.hypervisor_type = res.hypervisor_type
            node.hypervisor_version = res.hypervisor_version
            node.cpu_info, node.traits = dict(res.cpu_info), list(res.traits)
            node.cpu_allocation_ratio = conf.cpu_allocation_ratio
            node.ram_allocation_ratio = conf.ram_allocation_ratio
            node.disk_allocation_ratio = conf.disk_allocation_ratio

    async def _report(self, res: Any) -> None:
        conf = self.core.conf
        placement = self.core.placement
        await placement.set_inventory(
            self.node_uuid,
            {
                "VCPU": {
                    "total": res.vcpus,
                    "reserved": min(conf.reserved_host_cpus, res.vcpus),
                    "min_unit": 1,
                    "max_unit": res.vcpus,
                    "step_size": 1,
                    "allocation_ratio": conf.cpu_allocation_ratio,
                },
                "MEMORY_MB": {
                    "total": res.memory_mb,
                    "reserved": min(conf.reserved_host_memory_mb, res.memory_mb),
                    "min_unit": 1,
                    "max_unit": res.memory_mb,
                    "step_size": 1,
                    "allocation_ratio": conf.ram_allocation_ratio,
                },
                "DISK_GB": {
                    "total": res.local_gb,
                    "reserved": min(math.ceil(conf.reserved_host_disk_mb / 1024), res.local_gb),
                    "min_unit": 1,
                    "max_unit": res.local_gb,
                    "step_size": 1,
                    "allocation_ratio": conf.disk_allocation_ratio,
                },
            },
        )
        await placement.set_traits(self.node_uuid, sorted(res.traits))

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Bring this host's instances and allocations back to a consistent state after a
        crash: adopt guests the database records, finish or roll back interrupted work,
        re-run interrupted builds, destroy guests nothing records, drop orphan allocations."""
        async with self.core.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(Instance).where(
                            Instance.host == self.host, Instance.deleted.is_(False)
                        )
                    )
                ).scalars()
            )
        known = {i.uuid for i in rows}
        adopt = getattr(self.driver, "adopt", None)
        for instance in rows:
            if instance.vm_state == states.BUILDING:
                LOG.warning(
                    "instance %s was left in BUILD on %s; building it again",
                    instance.uuid,
                    self.host,
                )
                self.core.spawn(
                    self._build(None, instance.uuid, [], 1, retry=False), f"rebuild-{instance.uuid}"
                )
                continue
            if instance.task_state == states.DELETING:
                self.core.spawn(
                    self.terminate_instance(None, instance.uuid), f"terminate-{instance.uuid}"
                )
                continue
            if adopt is not None and instance.vm_state not in (
                states.SHELVED_OFFLOADED,
                states.ERROR,
            ):
                adopt(guest_of(instance), instance.power_state or virt.RUNNING)
            if instance.task_state == states.MIGRATING:
                await live_migration.recover(self.core, instance)
            if instance.task_state is not None:
                async with self.core.write() as session:
                    await instances.set_state(session, instance.uuid, task_state=None)
                    await instances.record_event(
                        session,
                        instance.uuid,
                        "compute_reconcile",
                        self.host,
                        "Error",
                        f"task {instance.task_state} interrupted by a restart of the agent",
                    )
        for uuid in await self.driver.list_instances():
            if uuid not in known:
                await self.driver.destroy(uuid)
        await self.remove_orphan_allocations()

    async def sync_power_states(self) -> int:
        """Record what the hypervisor says: a guest that stopped or vanished by itself shows
        SHUTOFF (Nova's power state sync); how many instances changed."""
        async with self.core.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(Instance).where(
                            Instance.host == self.host,
                            Instance.deleted.is_(False),
                            Instance.task_state.is_(None),
                            Instance.vm_state.in_(
                                [
                                    states.ACTIVE,
                                    states.PAUSED,
                                    states.SUSPENDED,
                                    states.RESCUED,
                                    states.STOPPED,
                                ]
                            ),
                        )
                    )
                ).scalars()
            )
        changed = 0
        for instance in rows:
            try:
                power = (await self.driver.get_info(instance.uuid)).power_state
            except VirtError:
                power = virt.NOSTATE
            if power == instance.power_state:
                continue
            if power == virt.RUNNING and instance.vm_state == states.STOPPED:
                # the other way round (Nova stops it too): a guest that runs though the
                # instance is stopped, e.g. started behind the agent's back
                LOG.warning("instance %s is stopped but its guest runs: stopping it", instance.uuid)
                await self.driver.power_off(instance.uuid)
                continue
            values: dict[str, Any] = {"power_state": power}
            if (
                power in (virt.SHUTDOWN, virt.NOSTATE, virt.CRASHED)
                and instance.vm_state == states.ACTIVE
            ):
                values["vm_state"] = states.STOPPED
            async with self.core.write() as session:
                if await instances.set_state(session, instance.uuid, expected_task=None, **values):
                    changed += 1
        return changed

    async def reclaim_soft_deleted(self) -> int:
        """Delete for good the soft-deleted instances older than the reclaim interval."""
        interval = self.core.conf.reclaim_instance_interval
        if interval <= 0:
            return 0
        import datetime as dt

        cutoff = utcnow() - dt.timedelta(seconds=interval)
        async with self.core.read() as session:
            uuids = list(
                (
                    await session.execute(
                        select(Instance.uuid).where(
                            Instance.host == self.host,
                            Instance.deleted.is_(False),
                            Instance.vm_state == states.SOFT_DELETED,
                            Instance.updated_at < cutoff,
                        )
                    )
                ).scalars()
            )
        for uuid in uuids:
            await self.terminate_instance(None, uuid)
        return len(uuids)

    async def remove_orphan_allocations(self) -> int:
        """Allocations on this host's provider whose consumer is no instance nor an
        instance's migration: left by a crash between a delete and its clean-up."""
        consumers = await self.core.placement.provider_allocations(self.node_uuid)
        if not consumers:
            return 0
        async with self.core.read() as session:
            alive = set(
                (
                    await session.execute(
                        select(Instance.uuid).where(
                            Instance.uuid.in_(list(consumers)), Instance.deleted.is_(False)
                        )
                    )
                ).scalars()
            )
            moving = (
                await session.execute(
                    select(Instance.system_metadata).where(
                        Instance.deleted.is_(False), Instance.host.is_not(None)
                    )
                )
            ).scalars()
            migrations = {m.get("migration_uuid") for m in moving if m}
        removed = 0
        for consumer in consumers:
            if consumer not in alive and consumer not in migrations:
                LOG.warning("removing orphan allocation of %s on %s", consumer, self.host)
                await self.core.placement.release(consumer)
                removed += 1
        return removed

    # -- builds ---------------------------------------------------------------------------
    async def build_and_run_instance(
        self,
        ctx: RequestContext | None,
        instance_uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
    ) -> None:
        await self._build(ctx, instance_uuid, alternates, attempt)

    async def _build(
        self,
        ctx: RequestContext | None,
        uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
        retry: bool = True,
    ) -> None:
        """Build once at a time per instance on this host: a build redelivered by the broker
        after a crash and the reconcile of the same crash do not both run."""
        if uuid in self._building:
            return
        self._building.add(uuid)
        try:
            await self._build_once(ctx, uuid, alternates, attempt, retry)
        finally:
            self._building.discard(uuid)

    async def _build_once(
        self,
        ctx: RequestContext | None,
        uuid: str,
        alternates: list[dict[str, Any]],
        attempt: int,
        retry: bool,
    ) -> None:
        async with self.core.write() as session:
            try:
                instance = await instances.load(session, uuid)
            except Exception:
                return
            if instance.host != self.host or instance.vm_state != states.BUILDING:
                return
            instance.task_state = states.SPAWNING
        await self.core.notify(ctx, "instance.create.start", {"instance_uuid": uuid})
        try:
            await self._check_group_policy(instance)
            disks = await volumes.prepare_build(self, ctx, instance)
            network_info, plug = await self.network.allocate(instance)
            guest = guest_of(instance, network_info=network_info)
            if disks:
                guest = GuestSpec(**{**_fields(guest), "block_devices": tuple(disks)})
            await self.driver.spawn(guest)
            await self.network.wait_plugged(uuid, plug)
            if disks:
                await volumes.finish_build(self.core, uuid)
        except Exception as exc:
            LOG.warning("build of %s failed on %s: %s", uuid, self.host, exc)
            await self.driver.destroy(uuid)
            await self.network.deallocate(instance)
            await volumes.disconnect_all(self.core, uuid)
            await self.core.placement.release(uuid)
            if isinstance(exc, VifPlugTimeout):  # Nova aborts such a build: no reschedule
                retry = False
            async with self.core.write() as session:
                await instances.record_event(
                    session, uuid, "compute_build_and_run_instance", self.host, "Error", str(exc)
                )
                still = await instances.set_state(
                    session, uuid, host=None, node=None, task_state=states.SCHEDULING
                )
            if still and retry:
                await self.core.conductor.reschedule(ctx, uuid, alternates, attempt, str(exc))
            elif still:
                async with self.core.write() as session:
                    await instances.set_state(
                        session,
                        uuid,
                        vm_state=states.ERROR,
                        task_state=None,
                        fault=instances.fault(f"Build of instance {uuid} failed: {exc}"),
                    )
            return
        async with self.core.write() as session:
            done = await instances.set_state(
                session,
                uuid,
                expected_task=states.SPAWNING,
                vm_state=states.ACTIVE,
                task_state=None,
                power_state=virt.RUNNING,
                launched_at=utcnow(),
                progress=100,
            )
            if done:
                await instances.record_event(
                    session, uuid, "compute_build_and_run_instance", self.host
                )
        if not done:
            async with self.core.read() as session:
                try:
                    still = await instances.load(session, uuid)
                except Exception:
                    still = None
            if still is None or still.host != self.host:  # deleted or moved meanwhile
                await self.driver.destroy(uuid)
                if still is None:
                    await self.network.deallocate(instance)
            return
        await self.core.notify(
            ctx, "instance.create.end", {"instance_uuid": uuid, "host": self.host}
        )

    async def _check_group_policy(self, instance: Instance) -> None:
        """Nova's late check: another scheduler may have placed a group member here (or
        elsewhere) meanwhile; a violation fails this build, which is then rescheduled."""
        spec = instance.request_spec or {}
        policy = spec.get("group_policy")
        if policy not in ("affinity", "anti-affinity"):
            return
        async with self.core.read() as session:
            group = (
                await session.execute(
                    select(ServerGroup).where(ServerGroup.uuid == spec.get("group_uuid"))
                )
            ).scalar()
            members = [m for m in (group.members if group else []) if m != instance.uuid]
            hosts = (
                list(
                    (
                        await session.execute(
                            select(Instance.host).where(
                                Instance.uuid.in_(members),
                                Instance.deleted.is_(False),
                                Instance.host.is_not(None),
                            )
                        )
                    ).scalars()
                )
                if members
                else []
            )
        if policy == "anti-affinity":
            limit = int((spec.get("group_rules") or {}).get("max_server_per_host", 1))
            if hosts.count(self.host) >= limit:
                raise VirtError("Anti-affinity instance group policy was violated.")
        elif hosts and self.host not in hosts:
            raise VirtError("Affinity instance group policy was violated.")

    async def terminate_instance(self, ctx: RequestContext | None, instance_uuid: str) -> None:
        note = {"instance_uuid": instance_uuid}
        await self.core.notify(ctx, "instance.shutdown.start", note)
        await self.driver.destroy(instance_uuid)
        await self.core.notify(ctx, "instance.shutdown.end", note)
        async with self.core.read() as session:
            try:
                instance = await instances.load(session, instance_uuid)
            except Exception:
                instance = None
        if instance is not None:
            await self.network.deallocate(instance)
        await volumes.cleanup(self.core, instance_uuid)
        migration = (instance.system_metadata or {}).get("migration_uuid") if instance else None
        await self.core.placement.release(instance_uuid)
        if migration:
            await self.core.placement.release(migration)
        await finish_delete(self.core, instance_uuid)
        await self.core.notify(ctx, "instance.delete.end", {"instance_uuid": instance_uuid})

    # -- actions --------------------------------------------------------------------------
    async def run_action(
        self, ctx: RequestContext | None, instance_uuid: str, action: str, args: dict[str, Any]
    ) -> None:
        handler: Callable[..., Awaitable[dict[str, Any]]] | None = getattr(
            self, f"_do_{action}", None
        )
        if handler is None:
            LOG.error("unknown compute action %s", action)
            return
        async with self.core.read() as session:
            try:
                instance = await instances.load(session, instance_uuid)
            except Exception:
                return
        note = {"instance_uuid": instance_uuid}
        if "image_id" in args:
            note["image_id"] = args["image_id"]
        await self.core.notify(ctx, f"instance.{action}.start", note)
        try:
            values = await handler(instance, **args)
        except Exception as exc:
            LOG.warning("%s of %s failed on %s: %s", action, instance_uuid, self.host, exc)
            async with self.core.write() as session:
                await instances.set_state(session, instance_uuid, task_state=None)
                await instances.record_event(
                    session, instance_uuid, f"compute_{action}", self.host, "Error", str(exc)
                )
            fault = {**instances.fault(str(exc), 500, exc), "exception": type(exc).__name__}
            await self.core.notify(ctx, f"instance.{action}.error", {**note, "fault": fault})
            return
        async with self.core.write() as session:
            await instances.set_state(session, instance_uuid, **{"task_state": None, **values})
            await instances.record_event(session, instance_uuid, f"compute_{action}", self.host)
        await self.core.notify(ctx, f"instance.{action}.end", note)

    async def _do_stop(self, i: Instance) -> dict[str, Any]:
        await self.driver.power_off(i.uuid)
        return {"vm_state": states.STOPPED, "power_state": virt.SHUTDOWN}

    async def _do_soft_delete(self, i: Instance) -> dict[str, Any]:
        await self.driver.power_off(i.uuid)
        return {"vm_state": states.SOFT_DELETED, "power_state": virt.SHUTDOWN}

    async def _do_restore(self, i: Instance) -> dict[str, Any]:
        await self.driver.power_on(i.uuid)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_start(self, i: Instance) -> dict[str, Any]:
        await self.driver.power_on(i.uuid)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_reboot(self, i: Instance, hard: bool = False) -> dict[str, Any]:
        await self.driver.reboot(i.uuid, hard)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_pause(self, i: Instance) -> dict[str, Any]:
        await self.driver.pause(i.uuid)
        return {"vm_state": states.PAUSED, "power_state": virt.PAUSED}

    async def _do_unpause(self, i: Instance) -> dict[str, Any]:
        await self.driver.unpause(i.uuid)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_suspend(self, i: Instance) -> dict[str, Any]:
        await self.driver.suspend(i.uuid)
        return {"vm_state": states.SUSPENDED, "power_state": virt.SUSPENDED}

    async def _do_resume(self, i: Instance) -> dict[str, Any]:
        await self.driver.resume(i.uuid)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_rescue(self, i: Instance, image_ref: str | None = None) -> dict[str, Any]:
        await self.driver.rescue(i.uuid, image_ref)
        return {"vm_state": states.RESCUED, "power_state": virt.RUNNING}

    async def _do_unrescue(self, i: Instance) -> dict[str, Any]:
        await self.driver.unrescue(i.uuid)
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING}

    async def _do_change_password(self, i: Instance, password: str) -> dict[str, Any]:
        await self.driver.set_admin_password(i.uuid, password)
        return {}

    async def _do_rebuild(
        self, i: Instance, image_ref: str, image_properties: dict[str, Any]
    ) -> dict[str, Any]:
        was_stopped = i.vm_state == states.STOPPED
        await self.driver.destroy(i.uuid)
        spec = guest_of(i)
        await self.driver.spawn(
            GuestSpec(
                **{**_fields(spec), "image_ref": image_ref, "image_properties": image_properties}
            )
        )
        if was_stopped:
            await self.driver.power_off(i.uuid)
            return {"vm_state": states.STOPPED, "power_state": virt.SHUTDOWN}
        return {"vm_state": states.ACTIVE, "power_state": virt.RUNNING, "launched_at": utcnow()}

    async def _do_snapshot(self, i: Instance, image_id: str) -> dict[str, Any]:
        data = await self.driver.snapshot(i.uuid)
        fmt = getattr(self.driver, "snapshot_format", "raw")
        props = (i.request_spec or {}).get("image_properties") or {}
        patch = [{"op": "replace", "path": "/disk_format", "value": fmt}] if fmt != "raw" else []
        patch += [
            {"op": "add", "path": f"/{key}", "value": str(props[key])}
            for key in ("kernel_id", "ramdisk_id")
            if props.get(key)
        ]
        if patch:  # the disk as the driver wrote it, booted as its image was
            resp = await self.core.image_request(
                None,
                "PATCH",
                f"/v2/images/{image_id}",
                json=patch,
                headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
            )
            if resp.status_code != 200:
                raise VirtError(f"describing the snapshot answered {resp.status_code}")
        resp = await self.core.image_request(
            None,
            "PUT",
            f"/v2/images/{image_id}/file",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if resp.status_code != 204:
            raise VirtError(f"uploading the snapshot answered {resp.status_code}")
        return {}

    async def _do_shelve(self, i: Instance, image_id: str | None = None) -> dict[str, Any]:
        """Power off, upload the snapshot, then offload at once (``shelved_offload_time``
        0, Nova's default) or stay SHELVED on this host (-1, or offloaded later)."""
        from onestack.compute import shelving

        await self.driver.power_off(i.uuid)
        if image_id:
            await self._do_snapshot(i, image_id)
        values = {
            "vm_state": states.SHELVED,
            "power_state": virt.SHUTDOWN,
            "system_metadata": shelving.shelved_meta(i, image_id, self.host),
        }
        wait = self.core.conf.shelved_offload_time
        if wait == 0:  # Nova announces the offload inside the shelve
            note = {"instance_uuid": i.uuid}
            await self.core.notify(None, "instance.shelve_offload.start", note)
            values.update(await shelving.offload(self.core, self.driver, i))
            await self.network.rebind(i, host="")  # the ports stay, bound to no host
            await self.core.notify(None, "instance.shelve_offload.end", note)
        elif wait > 0:
            self.core.spawn(self._offload_later(i.uuid, wait), f"offload-{i.uuid}")
        return values

    async def _offload_later(self, uuid: str, wait: float) -> None:
        """Nova's ``_poll_shelved_instances``: offload a server shelved ``wait`` s ago."""
        await asyncio.sleep(wait)
        async with self.core.write() as session:
            try:
                i = await instances.load(session, uuid)
            except Exception:
                return
            if i.vm_state != states.SHELVED or i.host != self.host:
                return
            if not await instances.set_state(
                session, uuid, expected_task=None, task_state=states.SHELVING_OFFLOADING
            ):
                return  # an unshelve (or a delete) came first
        await self.run_action(None, uuid, "shelve_offload", {})

    async def _do_shelve_offload(self, i: Instance) -> dict[str, Any]:
        from onestack.compute import shelving

        values = await shelving.offload(self.core, self.driver, i)
        await self.network.rebind(i, host="")  # the ports stay, bound to no host
        return values

    async def _do_unshelve(self, i: Instance) -> dict[str, Any]:
        """A shelved server still on this host: power it on, forget its snapshot."""
        from onestack.compute import shelving, snapshots

        await self.driver.power_on(i.uuid)
        await snapshots.delete(self.core, None, (i.system_metadata or {}).get("shelved_image_id"))
        return {
            "vm_state": states.ACTIVE,
            "power_state": virt.RUNNING,
            "system_metadata": shelving.unshelved_meta(i),
        }

    async def _do_confirm_resize(self, i: Instance) -> dict[str, Any]:
        meta = dict(i.system_metadata or {})
        source = meta.pop("move_source", None)
        if source and source != i.host and source in self.agent.drivers:
            await self.agent.drivers[source].destroy(i.uuid)
        elif not source or source == i.host:
            await self.driver.confirm_migration(i.uuid)
        if meta.get("migration_uuid"):
            await self.core.placement.release(meta.pop("migration_uuid"))
        meta.pop("old_flavor", None)
        meta.pop("old_vm_state", None)
        record = meta.pop("migration_record", None)
        async with self.core.write() as session:
            await instances.set_migration(session, record, status="confirmed")
        vm = states.STOPPED if i.power_state == virt.SHUTDOWN else states.ACTIVE
        return {"vm_state": vm, "system_metadata": meta}

    async def _do_revert_resize(self, i: Instance) -> dict[str, Any]:
        meta = dict(i.system_metadata or {})
        source = meta.pop("move_source", None) or i.host
        migration = meta.pop("migration_uuid", None)
        old_flavor = meta.pop("old_flavor", None) or i.flavor
        old_vm = meta.pop("old_vm_state", states.ACTIVE)
        if source != i.host:
            await self.driver.destroy(i.uuid)
        await live_migration.restore_allocation(self.core, i, migration)
        record = meta.pop("migration_record", None)
        async with self.core.write() as session:
            await instances.set_migration(session, record, status="reverted")
        values: dict[str, Any] = {
            "vm_state": old_vm,
            "host": source,
            "flavor": old_flavor,
            "vcpus": old_flavor["vcpus"],
            "memory_mb": old_flavor["memory_mb"],
            "root_gb": old_flavor["root_gb"],
            "system_metadata": meta,
            "power_state": virt.SHUTDOWN if old_vm == states.STOPPED else virt.RUNNING,
        }
        target = self.agent.drivers.get(source)
        if target is None:  # the source host is another agent's: it brings the guest back
            values["task_state"] = states.RESIZE_REVERTING
            async with self.core.write() as session:
                await instances.set_state(session, i.uuid, **values)
            await self.core.agents.run_action(None, source, i.uuid, "finish_revert")
            return {"task_state": states.RESIZE_REVERTING}
        await target.finish_revert_migration(
            guest_of(i, old_flavor), power_on=old_vm != states.STOPPED
        )
        values["node"] = target.nodename
        return values

    async def _do_finish_revert(self, i: Instance) -> dict[str, Any]:
        """The source's half of a revert: the guest back with its old flavor."""
        power_on = i.vm_state != states.STOPPED
        await self.driver.finish_revert_migration(guest_of(i), power_on=power_on)
        return {"node": self.driver.nodename}

    async def _do_cleanup_source(self, i: Instance) -> dict[str, Any]:
        await self.driver.destroy(i.uuid)
        return {}

    # -- moves (this host is the destination) ----------------------------------------------
    async def finish_move(
        self, ctx: RequestContext | None, instance_uuid: str, kind: str, source: str | None
    ) -> None:
        async with self.core.read() as session:
            i = await instances.load(session, instance_uuid)
        if source != self.host:
            await self.network.rebind(i)
            async with self.core.read() as session:
                i = await instances.load(session, instance_uuid)
        meta = dict(i.system_metadata or {})
        values: dict[str, Any] = {
            "task_state": None,
            "host": self.host,
            "node": self.driver.nodename,
        }
        event = f"instance.{MOVE_EVENTS.get(kind, kind)}"
        await self.core.notify(ctx, f"{event}.start", {"instance_uuid": instance_uuid})
        try:
            if kind in ("resize", "migrate"):
                new_flavor = i.new_flavor or i.flavor
                power_on = i.vm_state != states.STOPPED
                if source and source != self.host and source in self.agent.drivers:
                    await self.agent.drivers[source].power_off(i.uuid)
                await self.driver.finish_migration(guest_of(i, new_flavor), power_on)
                meta["old_flavor"] = i.flavor
                meta["old_vm_state"] = i.vm_state
                values.update(
                    vm_state=states.RESIZED,
                    flavor=new_flavor,
                    new_flavor=None,
                    vcpus=new_flavor["vcpus"],
                    memory_mb=new_flavor["memory_mb"],
                    root_gb=new_flavor["root_gb"],
                    system_metadata=meta,
                    power_state=virt.RUNNING if power_on else virt.SHUTDOWN,
                )
            elif kind == "live-migration":
                if not await live_migration.run(self.core, self.driver, self.host, i, guest_of(i)):
                    return  # aborted: the guest stays on its source
                await self.driver.finish_migration(guest_of(i), True)
                if meta.get("migration_uuid"):
                    await self.core.placement.release(meta.pop("migration_uuid"))
                meta.pop("move_source", None)
                values.update(system_metadata=meta)
                if source and source != self.host:
                    await self.core.agents.run_action(ctx, source, i.uuid, "cleanup_source")
            elif kind == "unshelve":  # a new guest here, from the shelved snapshot
                from onestack.compute import shelving, snapshots

                image = meta.get("shelved_image_id") or i.image_ref
                await self.driver.spawn(GuestSpec(**{**_fields(guest_of(i)), "image_ref": image}))
                await snapshots.delete(self.core, None, meta.get("shelved_image_id"))
                meta = shelving.unshelved_meta(i)
                meta.pop("move_source", None)
                values.update(
                    vm_state=states.ACTIVE, power_state=virt.RUNNING, system_metadata=meta
                )
            else:  # evacuate: a new guest here
                await self.driver.spawn(guest_of(i))
                meta.pop("move_source", None)
                values.update(
                    vm_state=states.ACTIVE, power_state=virt.RUNNING, system_metadata=meta
                )
        except Exception as exc:
            LOG.warning("%s of %s failed on %s: %s", kind, instance_uuid, self.host, exc)
            async with self.core.write() as session:
                await instances.set_migration(session, meta.get("migration_record"), status="error")
                await instances.set_state(
                    session,
                    instance_uuid,
                    task_state=None,
                    vm_state=states.ERROR,
                    fault=instances.fault(str(exc), 500, exc),
                )
            return
        done = {
            "resize": "finished",
            "migrate": "finished",
            "live-migration": "completed",
            "evacuate": "done",
        }
        record = meta.get("migration_record") if kind != "unshelve" else None
        if kind in ("live-migration", "evacuate"):
            meta.pop("migration_record", None)
        async with self.core.write() as session:
            await instances.set_state(session, instance_uuid, **values)
            await instances.set_migration(session, record, status=done.get(kind, "done"))
            await instances.record_event(
                session, instance_uuid, f"compute_finish_{kind}", self.host
            )
        await self.core.notify(ctx, f"{event}.end", {"instance_uuid": instance_uuid})

    async def console_output(
        self, ctx: RequestContext | None, instance_uuid: str, length: int | None
    ) -> str:
        text = await self.driver.get_console_output(instance_uuid)
        if length is not None:
            lines = text.splitlines()
            text = "\n".join(lines[-length:]) + ("\n" if lines and length else "") if length else ""
        return text

    async def inject_nmi(self, ctx: RequestContext | None, instance_uuid: str) -> None:
        await self.driver.inject_nmi(instance_uuid)

    async def external_instance_event(
        self, ctx: RequestContext | None, events: list[dict[str, Any]]
    ) -> None:
        """Server external events from the Networking service (vif plugged, changed)."""
        await self.network.external_events(events)

    async def attach_interface(
        self, ctx: RequestContext | None, instance_uuid: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        """Bind a port (made from ``request`` or the user's) to the guest; its cache entry."""
        from onestack.compute import interfaces

        return await interfaces.attach(self, instance_uuid, request)

    async def detach_interface(
        self, ctx: RequestContext | None, instance_uuid: str, port_id: str
    ) -> None:
        from onestack.compute import interfaces

        await interfaces.detach(self, instance_uuid, port_id)

    async def attach_volume(
        self, ctx: RequestContext | None, instance_uuid: str, bdm_uuid: str
    ) -> None:
        await volumes.attach(self, instance_uuid, bdm_uuid)

    async def detach_volume(
        self, ctx: RequestContext | None, instance_uuid: str, volume_id: str
    ) -> None:
        await volumes.detach(self, instance_uuid, volume_id)

    async def get_console(
        self, ctx: RequestContext | None, instance_uuid: str, console_type: str
    ) -> dict[str, Any]:
        """Where the guest's console listens, or why there is none."""
        try:
            info = await self.driver.get_console(instance_uuid, console_type)
        except virt.ConsoleUnavailable as exc:
            return {"unavailable": str(exc)}
        except VirtError as exc:
            return {"not_ready": str(exc)}
        return {"host": info.host, "port": info.port, "path": info.internal_access_path}

    async def live_migration_abort(self, ctx: RequestContext | None, instance_uuid: str) -> None:
        await self.driver.live_migration_abort(instance_uuid)

    async def live_migration_force_complete(
        self, ctx: RequestContext | None, instance_uuid: str
    ) -> None:
        await self.driver.live_migration_force_complete(instance_uuid)


def _fields(spec: GuestSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in GuestSpec.__slots__}  # type: ignore[attr-defined]


async def finish_delete(core: ComputeCore, uuid: str) -> None:
    """Mark the instance deleted and drop it from its server group."""
    async with core.write() as session:
        now = utcnow()
        await session.execute(
            update(Instance)
            .where(Instance.uuid == uuid)
            .values(
                deleted=True,
                deleted_at=now,
                terminated_at=now,
                vm_state=states.DELETED,
                task_state=None,
                power_state=virt.NOSTATE,
                updated_at=now,
            )
        )
        await session.execute(  # its console tokens stop working
            delete(ConsoleAuthToken).where(ConsoleAuthToken.instance_uuid == uuid)
        )
        groups = (await session.execute(select(ServerGroup))).scalars()
        for group in groups:
            if uuid in (group.members or []):
                group.members = [m for m in group.members if m != uuid]
