"""Waiting for ``network-vif-plugged``: the Networking service tells Compute (through
``/os-server-external-events``, cast on to the instance's host) when a bound port is up; a
build waits for every port it bound before the server goes ACTIVE, as Nova's
``virtapi.wait_for_instance_event`` does (``[compute] vif_plugging_timeout`` and
``vif_plugging_is_fatal``).

A waiter is made *before* the ports are bound, so an event that arrives before the build
starts waiting is not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

LOG = logging.getLogger(__name__)


class VifPlugTimeout(Exception):
    """Not every port reported up in time (or one reported a failure)."""


class VifWaiter:
    def __init__(self) -> None:
        self.plugged: set[str] = set()
        self.failed: set[str] = set()
        self.aborted: str | None = None
        self._changed = asyncio.Event()

    def abort(self, reason: str) -> None:
        self.aborted = reason
        self._changed.set()

    def deliver(self, port_id: str, status: str) -> None:
        (self.failed if status == "failed" else self.plugged).add(port_id)
        self._changed.set()

    async def wait(self, ports: Iterable[str], timeout: float) -> None:
        wanted = set(ports)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.aborted:
                raise VifPlugTimeout(self.aborted)
            if wanted & self.failed:
                raise VifPlugTimeout(f"ports {sorted(wanted & self.failed)} failed to plug")
            missing = wanted - self.plugged
            if not missing:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise VifPlugTimeout(
                    f"timed out after {timeout:g} s waiting for network-vif-plugged "
                    f"of ports {sorted(missing)}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue


class VifEvents:
    """The waiters of one compute host, by instance."""

    def __init__(self) -> None:
        self._waiters: dict[str, VifWaiter] = {}

    def prepare(self, instance_uuid: str) -> VifWaiter:
        waiter = self._waiters.get(instance_uuid)
        if waiter is None:
            waiter = self._waiters[instance_uuid] = VifWaiter()
        return waiter

    def done(self, instance_uuid: str, abort: str | None = None) -> None:
        """Forget the instance's waiter; with ``abort`` a build still waiting stops."""
        waiter = self._waiters.pop(instance_uuid, None)
        if waiter is not None and abort:
            waiter.abort(abort)

    def deliver(self, event: dict[str, Any]) -> bool:
        """A ``network-vif-plugged`` event for a waiting build; False if none waits."""
        waiter = self._waiters.get(str(event.get("server_uuid")))
        if waiter is None or not event.get("tag"):
            return False
        waiter.deliver(str(event["tag"]), str(event.get("status", "completed")))
        return True
