"""The consistency daemons: replicator, auditor, container updater, object expirer, account
reaper, container sync and container reconciler. Each makes one pass with ``run_once``;
``run_daemons`` repeats them at their intervals in the service's process (``onestack up``);
``onestack object replicate|audit|update|expire|reap|sync|reconcile --once`` runs one pass on
demand."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onestack.object.service import ObjectService

LOG = logging.getLogger(__name__)


def passes(service: ObjectService) -> dict[str, Callable[[], dict[str, Any]]]:
    from onestack.object.daemons import (
        auditor,
        expirer,
        reaper,
        reconciler,
        replicator,
        sync,
        updater,
    )

    storage = service.storage
    return {
        "replicator": lambda: replicator.run_once(storage),
        "auditor": lambda: auditor.run_once(storage, service.conf.auditor_bytes_per_second),
        "updater": lambda: updater.run_once(storage),
        "expirer": lambda: expirer.run_once(storage),
        "reaper": lambda: reaper.run_once(storage),
        "sync": lambda: sync.run_once(storage, realms(service)),
        "reconciler": lambda: reconciler.run_once(storage),
    }


def realms(service: ObjectService) -> dict[str, dict[str, str]]:
    """The container sync realms with lower-case realm and cluster names."""
    return {
        realm.lower(): {c.lower(): url for c, url in clusters.items()}
        for realm, clusters in service.conf.container_sync_realms.items()
    }


def run_one(service: ObjectService, name: str) -> dict[str, Any]:
    """One pass of daemon ``name``; its report is kept for recon and /metrics."""
    started = time.time()
    report = passes(service)[name]()
    report["last_pass"] = started
    report["duration"] = round(time.time() - started, 6)
    service.storage.stats[name] = report
    from onestack.object.daemons import recon

    recon.record(service, name, report)
    return report


async def run_daemons(service: ObjectService) -> None:
    conf = service.conf
    intervals = {
        "replicator": conf.replicator_interval,
        "auditor": conf.auditor_interval,
        "updater": conf.updater_interval,
        "expirer": conf.expirer_interval,
        "reaper": conf.reaper_interval,
        "sync": conf.sync_interval,
        "reconciler": conf.reconciler_interval,
    }
    due = {name: time.monotonic() + min(5.0, interval) for name, interval in intervals.items()}
    while True:
        now = time.monotonic()
        for name, interval in intervals.items():
            if now >= due[name]:
                try:
                    await asyncio.to_thread(run_one, service, name)
                except Exception:
                    LOG.exception("object %s pass failed", name)
                due[name] = time.monotonic() + interval
        await asyncio.sleep(max(0.05, min(due.values()) - time.monotonic()))
