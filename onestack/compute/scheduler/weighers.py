"""Host weighers (Nova's): each scores hosts, scores are normalised to [0, 1] and summed with
their multipliers; the best host comes first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from onestack.compute.scheduler.host_state import HostState

Weigher = Callable[[HostState, dict[str, Any], dict[str, Any]], float]


def _soft_affinity(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> float:
    if spec.get("group_policy") != "soft-affinity":
        return 0.0
    return float((ctx.get("group_hosts") or {}).get(host.host, 0))


def _soft_anti_affinity(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> float:
    if spec.get("group_policy") != "soft-anti-affinity":
        return 0.0
    return -float((ctx.get("group_hosts") or {}).get(host.host, 0))


WEIGHERS: dict[str, Weigher] = {
    "ram": lambda h, s, c: h.free_ram_mb,
    "cpu": lambda h, s, c: h.free_vcpus,
    "disk": lambda h, s, c: h.free_disk_gb,
    "io_ops": lambda h, s, c: float(h.num_io_ops),
    "soft_affinity": _soft_affinity,
    "soft_anti_affinity": _soft_anti_affinity,
}

#: Weighers that only read one attribute of the host: read in C, not through a call per host.
_ATTRIBUTE = {
    "ram": attrgetter("free_ram_mb"),
    "cpu": attrgetter("free_vcpus"),
    "disk": attrgetter("free_disk_gb"),
    "io_ops": attrgetter("num_io_ops"),
}


def applied(spec: dict[str, Any], multipliers: Mapping[str, float]) -> list[tuple[str, float]]:
    """The weighers (name, multiplier) that can score this request."""
    policy = spec.get("group_policy")
    out = []
    for name in WEIGHERS:
        multiplier = multipliers.get(name, 0.0)
        if not multiplier:
            continue
        if name == "soft_affinity" and policy != "soft-affinity":
            continue
        if name == "soft_anti_affinity" and policy != "soft-anti-affinity":
            continue
        out.append((name, multiplier))
    return out


def best_first(columns: list[tuple[float, list[float]]], count: int) -> list[int]:
    """Indexes of ``count`` hosts best first from each weigher's (multiplier, raw scores):
    scores normalised to [0, 1], times the multiplier, summed; stable for equal weights."""
    totals = [0.0] * count
    for multiplier, raw in columns:
        low, high = min(raw), max(raw)
        if high == low:
            continue
        scale = multiplier / (high - low)
        totals = [t + (v - low) * scale for t, v in zip(totals, raw, strict=True)]
    return sorted(range(count), key=totals.__getitem__, reverse=True)


def weigh(
    hosts: list[HostState],
    spec: dict[str, Any],
    ctx: dict[str, Any],
    multipliers: Mapping[str, float],
) -> list[HostState]:
    """The hosts best first (stable for equal weights)."""
    if len(hosts) <= 1:
        return list(hosts)
    columns = []
    for name, multiplier in applied(spec, multipliers):
        fast = _ATTRIBUTE.get(name)
        weigher = WEIGHERS[name]
        raw = list(map(fast, hosts)) if fast else [weigher(h, spec, ctx) for h in hosts]
        columns.append((multiplier, raw))
    return [hosts[i] for i in best_first(columns, len(hosts))]
