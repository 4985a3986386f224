"""``onestack network cleanup``: remove every kernel object onestack's dataplane made on
this host: the processes (dnsmasq) in its namespaces, the namespaces, its bridges and
veths (by name prefix) and the taps Compute plugged (by their ``onestack port`` alias)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from onestack.common import netlink


def namespace_pids(name: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def cleanup() -> list[str]:
    """What was removed (for the operator), idempotent."""
    removed = []
    for ns in netlink.namespaces():
        for pid in namespace_pids(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        netlink.delete_netns(ns)
        removed.append(f"namespace {ns}")
    for link in netlink.links():
        ours = link["alias"].startswith(netlink.ALIAS_PREFIX) or (
            link["name"].startswith(netlink.HOST_PREFIXES) and link["kind"] in ("bridge", "veth")
        )
        if ours:
            netlink.delete_link(link["name"])
            removed.append(f"{link['kind'] or 'link'} {link['name']}")
    return removed
