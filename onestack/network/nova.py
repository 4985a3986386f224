"""The Nova notifier: ``network-vif-plugged`` / ``network-changed`` / ``network-vif-deleted``
events to Compute's ``/os-server-external-events`` when Compute is in the catalog (in the
background; a cloud without Compute just skips them)."""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger(__name__)


def vif_plugged(mgr: Any, server_id: str, port_id: str, status: str = "completed") -> None:
    send(
        mgr,
        [
            {
                "name": "network-vif-plugged",
                "server_uuid": server_id,
                "tag": port_id,
                "status": status,
            }
        ],
    )


def network_changed(mgr: Any, server_id: str, port_id: str) -> None:
    send(mgr, [{"name": "network-changed", "server_uuid": server_id, "tag": port_id}])


def vif_deleted(mgr: Any, server_id: str, port_id: str) -> None:
    send(mgr, [{"name": "network-vif-deleted", "server_uuid": server_id, "tag": port_id}])


def send(mgr: Any, events: list[dict[str, Any]]) -> None:
    if not mgr.conf.nova_notify or "compute" not in _known_services(mgr):
        return
    mgr.spawn(_post(mgr, events), "network-nova-notify")


def _known_services(mgr: Any) -> set[str]:
    settings = mgr.settings
    return set(settings.services) | set(settings.remote_services)


async def _post(mgr: Any, events: list[dict[str, Any]]) -> None:
    from onestack.common.clients import ServiceUnavailable

    try:
        nova = mgr.platform.clients.for_service("compute", user="neutron")
        resp = await nova.post(
            "/os-server-external-events",
            json={"events": events},
            headers={"X-OpenStack-Nova-API-Version": "2.1"},
        )
        if resp.status_code >= 400 and resp.status_code != 404:
            LOG.warning("Compute refused external events %s: %s", events, resp.status_code)
    except ServiceUnavailable:
        LOG.debug("no compute endpoint in the catalog; events %s dropped", events)
    except Exception:
        LOG.warning("could not send external events %s to Compute", events, exc_info=True)
