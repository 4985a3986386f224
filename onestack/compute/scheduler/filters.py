"""Host filters (Nova's names): each says whether a host may take the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onestack.compute.scheduler.host_state import HostState

#: spec: the request spec (flavor, image properties, zone, hints, group, forced host);
#: context: what the scheduler gathered for this decision (group hosts, hint hosts).
Filter = Callable[[HostState, dict[str, Any], dict[str, Any]], bool]


def compute_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """Enabled and up."""
    return host.enabled and host.up


def availability_zone_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    zone = spec.get("availability_zone")
    return not zone or host.availability_zone == zone


def _extra_spec_matches(wanted: str, have: Any) -> bool:
    """Nova's extra-spec operators: ``<or> a <or> b``, ``s== x``, ``>= n``, plain equality."""
    text = str(have)
    words = wanted.split()
    if not words:
        return text == wanted
    op = words[0]
    try:
        if op == "<or>":
            return text in words[1::2]
        if op in ("=", ">="):
            return float(text) >= float(words[1])
        if op == "<=":
            return float(text) <= float(words[1])
        if op == "s==":
            return text == words[1]
        if op == "s!=":
            return text != words[1]
        if op == "<in>":
            return words[1] in text
    except (ValueError, IndexError):
        return False
    return text == wanted


def compute_capabilities_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    capabilities = {
        "hypervisor_type": host.hypervisor_type,
        **{f"cpu_info:{k}": v for k, v in host.cpu_info.items() if not isinstance(v, dict)},
    }
    for key, wanted in (spec.get("flavor", {}).get("extra_specs") or {}).items():
        scope, _, name = key.partition(":")
        if scope != "capabilities":
            continue
        if name not in capabilities or not _extra_spec_matches(wanted, capabilities[name]):
            return False
    return True


def aggregate_instance_extra_specs_filter(
    host: HostState, spec: dict[str, Any], ctx: dict[str, Any]
) -> bool:
    """Flavor extra specs (unscoped or ``aggregate_instance_extra_specs:``) must match the
    metadata of the host's aggregates."""
    metadata = host.aggregate_metadata()
    for key, wanted in (spec.get("flavor", {}).get("extra_specs") or {}).items():
        scope, sep, name = key.partition(":")
        if sep and scope != "aggregate_instance_extra_specs":
            continue
        name = name if sep else key
        values = metadata.get(name)
        if not values or not any(_extra_spec_matches(wanted, v) for v in values):
            return False
    return True


def image_properties_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    props = spec.get("image_properties") or {}
    hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
    if hv_type and hv_type not in (host.hypervisor_type, "qemu", "kvm"):
        return False
    arch = props.get("hw_architecture") or props.get("architecture")
    return not (arch and host.cpu_info.get("arch") and arch != host.cpu_info["arch"])


def server_group_affinity_filter(
    host: HostState, spec: dict[str, Any], ctx: dict[str, Any]
) -> bool:
    if spec.get("group_policy") != "affinity":
        return True
    hosts = ctx.get("group_hosts") or {}
    return not hosts or host.host in hosts


def server_group_anti_affinity_filter(
    host: HostState, spec: dict[str, Any], ctx: dict[str, Any]
) -> bool:
    if spec.get("group_policy") != "anti-affinity":
        return True
    on_host = (ctx.get("group_hosts") or {}).get(host.host, 0)
    limit = int((spec.get("group_rules") or {}).get("max_server_per_host", 1))
    return on_host < limit


def same_host_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    wanted = ctx.get("same_host")
    return wanted is None or host.host in wanted


def different_host_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    avoid = ctx.get("different_host")
    return not avoid or host.host not in avoid


def retry_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    return host.host not in (ctx.get("ignore_hosts") or ())


def forced_host_filter(host: HostState, spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    forced = spec.get("force_host")
    node = spec.get("force_node")
    return (not forced or host.host == forced) and (not node or host.nodename == node)


FILTERS: dict[str, Filter] = {
    "ComputeFilter": compute_filter,
    "AvailabilityZoneFilter": availability_zone_filter,
    "ComputeCapabilitiesFilter": compute_capabilities_filter,
    "AggregateInstanceExtraSpecsFilter": aggregate_instance_extra_specs_filter,
    "ImagePropertiesFilter": image_properties_filter,
    "ServerGroupAffinityFilter": server_group_affinity_filter,
    "ServerGroupAntiAffinityFilter": server_group_anti_affinity_filter,
    "SameHostFilter": same_host_filter,
    "DifferentHostFilter": different_host_filter,
}
#: Always on: hosts already tried for this request, and an admin's forced host.
ALWAYS = (retry_filter, forced_host_filter)


def _has_specs(spec: dict[str, Any], ctx: dict[str, Any]) -> bool:
    return bool((spec.get("flavor") or {}).get("extra_specs"))


#: When a filter can change nothing for a request it is skipped (a decision among 1,000
#: hosts calls each remaining filter 1,000 times).
APPLIES: dict[Filter, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    availability_zone_filter: lambda s, c: bool(s.get("availability_zone")),
    compute_capabilities_filter: _has_specs,
    aggregate_instance_extra_specs_filter: _has_specs,
    image_properties_filter: lambda s, c: bool(s.get("image_properties")),
    server_group_affinity_filter: lambda s, c: s.get("group_policy") == "affinity",
    server_group_anti_affinity_filter: lambda s, c: s.get("group_policy") == "anti-affinity",
    same_host_filter: lambda s, c: c.get("same_host") is not None,
    different_host_filter: lambda s, c: bool(c.get("different_host")),
    retry_filter: lambda s, c: bool(c.get("ignore_hosts")),
    forced_host_filter: lambda s, c: bool(s.get("force_host") or s.get("force_node")),
}


def for_request(chosen: list[Filter], spec: dict[str, Any], ctx: dict[str, Any]) -> list[Filter]:
    return [f for f in chosen if APPLIES.get(f, lambda s, c: True)(spec, ctx)]


def enabled(names: list[str]) -> list[Filter]:
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise ValueError(f"unknown scheduler filters in [compute] enabled_filters: {unknown}")
    return [*ALWAYS, *(FILTERS[n] for n in names)]
