"""Workers ("agents"): RPC servers that do a service's long work, in the API's process
(``onestack up``) or alone (``onestack agent KIND --host NAME``), one code path either way."""

from __future__ import annotations

import asyncio
import importlib
import signal
from typing import Protocol

from onestack.common.config import Settings
from onestack.common.platform import Platform

#: Worker kinds: name -> (its service, "module:Class"); a kind runs in-process when its
#: service is enabled (several kinds may belong to one service).
AGENTS: dict[str, tuple[str, str]] = {
    "image": ("image", "onestack.image.worker:ImageWorker"),
    "scheduler": ("compute", "onestack.compute.scheduler.manager:Scheduler"),
    "conductor": ("compute", "onestack.compute.conductor.manager:Conductor"),
    "network": ("network", "onestack.network.agent:NetworkAgent"),
    "compute": ("compute", "onestack.compute.manager:ComputeAgent"),
    "novncproxy": ("compute", "onestack.compute.console.proxy:NoVNCProxy"),
    "serialproxy": ("compute", "onestack.compute.console.proxy:SerialProxy"),
    "volume-scheduler": ("volume", "onestack.volume.scheduler.manager:VolumeScheduler"),
    "volume": ("volume", "onestack.volume.agent:VolumeAgent"),
}


class Agent(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AgentFactory(Protocol):
    def __call__(self, platform: Platform) -> Agent: ...


def agent_kinds(settings: Settings) -> list[str]:
    """The worker kinds of the enabled services."""
    return [kind for kind, (service, _) in AGENTS.items() if service in settings.services]


def load_agent(kind: str) -> AgentFactory:
    module, _, cls = AGENTS[kind][1].partition(":")
    factory: AgentFactory = getattr(importlib.import_module(module), cls)
    return factory


async def start_agent(kind: str, platform: Platform) -> Agent:
    worker = load_agent(kind)(platform)
    await worker.start()
    return worker


async def run_agent(kind: str, settings: Settings) -> None:
    """Run one worker with its own platform until SIGINT/SIGTERM."""
    factory = load_agent(kind)  # KeyError for an unknown kind, before connecting anything
    platform = Platform(settings)
    await platform.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = factory(platform)
    try:
        await worker.start()
        await stop.wait()
        await worker.stop()
    finally:
        await platform.stop()
