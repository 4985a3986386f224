"""VIF plugging for the QEMU driver: a guest's tap (``tap<port[:11]>``, the ``devname`` of
its network info) made before QEMU starts, marked with the alias ``onestack port <id>`` that
the host's Networking agent looks for to put it on its network's bridge and report it up."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

LOG = logging.getLogger(__name__)


def devname(port: dict[str, Any]) -> str:
    return str(port.get("devname") or f"tap{str(port.get('id', ''))[:11]}")


def plug(ports: Iterable[dict[str, Any]]) -> None:
    """The taps of ``ports`` (idempotent); a host that cannot make taps (not root) logs it
    and the guest starts without those NICs."""
    from onestack.common import netlink

    for port in ports:
        if not port.get("id"):
            continue
        mtu = (port.get("network") or {}).get("mtu")
        try:
            netlink.create_tap(devname(port), str(port["id"]), int(mtu) if mtu else None)
        except Exception as exc:  # pyroute2's NetlinkError, PermissionError
            LOG.warning("could not make the tap of port %s: %s", port.get("id"), exc)


def unplug(ports: Iterable[dict[str, Any]]) -> None:
    from onestack.common import netlink

    for port in ports:
        try:
            netlink.delete_link(devname(port))
        except Exception as exc:
            LOG.warning("could not remove the tap of port %s: %s", port.get("id"), exc)
