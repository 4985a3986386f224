"""Filters and the weigher over pools (as Cinder's AvailabilityZone, Capabilities and
Capacity filters and CapacityWeigher)."""

from __future__ import annotations

from typing import Any

#: Extra specs that are not capabilities to match.
_NOT_CAPABILITIES = ("volume_backend_name", "multiattach", "RESKEY:availability_zones")


def passes(pool: dict[str, Any], size: int, zone: str, specs: dict[str, str]) -> bool:
    caps = pool["capabilities"]
    if pool["zone"] != zone:
        return False
    zones = specs.get("RESKEY:availability_zones")
    if zones and pool["zone"] not in [z.strip() for z in zones.split(",")]:
        return False
    wanted_backend = specs.get("volume_backend_name")
    if wanted_backend and caps.get("volume_backend_name") != wanted_backend:
        return False
    if specs.get("multiattach", "").lower() in ("<is> true", "true") and not caps.get(
        "multiattach"
    ):
        return False
    for key, value in specs.items():
        if key in _NOT_CAPABILITIES or (":" in key and not key.startswith("capabilities:")):
            continue
        name = key.removeprefix("capabilities:")
        if name in caps and not _match(caps[name], value):
            return False
    return free_after(caps, size) >= 0


def _match(actual: Any, wanted: str) -> bool:
    text = wanted.strip()
    if text.startswith("<is>"):
        return str(actual).lower() == text[4:].strip().lower()
    if text.startswith("<in>"):
        return text[4:].strip() in str(actual)
    return str(actual) == text


def free_after(caps: dict[str, Any], size: int) -> float:
    """What the pool would have left after ``size`` GiB (virtual when thin), < 0 if it can't."""
    total = float(caps.get("total_capacity_gb") or 0)
    free = float(caps.get("free_capacity_gb") or 0)
    reserved = total * float(caps.get("reserved_percentage") or 0) / 100
    if caps.get("thin_provisioning_support"):
        ratio = float(caps.get("max_over_subscription_ratio") or 1.0)
        if free - reserved <= 0:
            return -1
        return total * ratio - reserved - caps.get("provisioned_capacity_gb", 0) - size
    return free - reserved - size


def best(pools: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    """The capacity weigher: the pool with the most (virtual) free space."""
    return max(pools, key=lambda p: free_after(p["capabilities"], size), default=None)
