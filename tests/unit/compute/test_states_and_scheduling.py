"""Nova's status map, the extra-spec operators of the filters, and the weighers' order."""

from __future__ import annotations

import pytest

from onestack.compute import states
from onestack.compute.placement import resources_of
from onestack.compute.scheduler import filters, weighers
from onestack.compute.scheduler.host_state import HostState


@pytest.mark.parametrize(("vm", "task", "status"), [
    ("active", None, "ACTIVE"),
    ("active", "rebooting", "REBOOT"),
    ("active", "rebooting_hard", "HARD_REBOOT"),
    ("active", "rebuilding", "REBUILD"),
    ("active", "resize_prep", "RESIZE"),
    ("active", "migrating", "MIGRATING"),
    ("active", "updating_password", "PASSWORD"),
    ("active", "powering-off", "ACTIVE"),
    ("building", "scheduling", "BUILD"),
    ("stopped", None, "SHUTOFF"),
    ("stopped", "resize_migrating", "RESIZE"),
    ("resized", None, "VERIFY_RESIZE"),
    ("resized", "resize_reverting", "REVERT_RESIZE"),
    ("paused", None, "PAUSED"),
    ("suspended", None, "SUSPENDED"),
    ("rescued", None, "RESCUE"),
    ("error", None, "ERROR"),
    ("error", "rebuilding", "REBUILD"),
    ("soft-delete", None, "SOFT_DELETED"),
    ("shelved", None, "SHELVED"),
    ("shelved_offloaded", None, "SHELVED_OFFLOADED"),
    ("deleted", None, "DELETED"),
    ("nonsense", None, "UNKNOWN"),
])
def test_status_map(vm: str, task: str | None, status: str) -> None:
    assert states.status(vm, task) == status


def test_state_check_is_409() -> None:
    from onestack.common.errors import Conflict

    with pytest.raises(Conflict, match="vm_state stopped"):
        states.check("os-stop", "stopped", None, vm_states=("active",), uuid="u")
    with pytest.raises(Conflict, match="task_state rebooting"):
        states.check("os-stop", "active", "rebooting", vm_states=("active",), uuid="u")


def _host(name: str, **kw: object) -> HostState:
    return HostState(host=name, nodename=name, uuid=name, enabled=True, up=True,
                     availability_zone="nova", **kw)  # type: ignore[arg-type]


def test_aggregate_extra_specs_operators() -> None:
    host = _host("h", aggregates=[{"metadata": {"ssd": "true", "cpus": "8", "kind": "gpu"}}])
    check = filters.aggregate_instance_extra_specs_filter
    assert check(host, {"flavor": {"extra_specs": {"ssd": "true"}}}, {})
    assert not check(host, {"flavor": {"extra_specs": {"ssd": "false"}}}, {})
    assert check(host, {"flavor": {"extra_specs": {"cpus": ">= 4"}}}, {})
    assert not check(host, {"flavor": {"extra_specs": {"cpus": ">= 16"}}}, {})
    assert check(host, {"flavor": {"extra_specs": {"kind": "<or> cpu <or> gpu"}}}, {})
    assert check(host, {"flavor": {"extra_specs": {"hw:cpu_policy": "dedicated"}}}, {})
    assert not check(_host("bare"), {"flavor": {"extra_specs": {"ssd": "true"}}}, {})


def test_weighers_prefer_free_ram_and_spread() -> None:
    a, b, c = _host("a", free_ram_mb=100), _host("b", free_ram_mb=900), _host("c", free_ram_mb=500)
    order = weighers.weigh([a, b, c], {}, {}, {"ram": 1.0})
    assert [h.host for h in order] == ["b", "c", "a"]
    order = weighers.weigh([a, b, c], {}, {}, {"ram": -1.0})  # stack instead of spread
    assert [h.host for h in order] == ["a", "c", "b"]
    spec = {"group_policy": "soft-affinity"}
    order = weighers.weigh([a, b], spec, {"group_hosts": {"a": 2}}, {"soft_affinity": 5.0,
                                                                     "ram": 1.0})
    assert order[0].host == "a"


def test_resources_of_flavor() -> None:
    flavor = {"vcpus": 2, "memory_mb": 512, "root_gb": 10, "ephemeral_gb": 5, "swap": 1500,
              "extra_specs": {"resources:CUSTOM_GPU": "1", "resources:VCPU": "0"}}
    assert resources_of(flavor) == {"MEMORY_MB": 512, "DISK_GB": 17, "CUSTOM_GPU": 1}
