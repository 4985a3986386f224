"""What this host offers, read from the host itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from onestack.compute.virt.driver import HostResources

#: CPU flags reported as Placement's standard traits (os-traits' HW_CPU_X86_*)
FLAG_TRAITS = {
    "avx": "HW_CPU_X86_AVX",
    "avx2": "HW_CPU_X86_AVX2",
    "sse4_1": "HW_CPU_X86_SSE41",
    "sse4_2": "HW_CPU_X86_SSE42",
    "aes": "HW_CPU_X86_AESNI",
    "vmx": "HW_CPU_X86_VMX",
    "svm": "HW_CPU_X86_SVM",
    "ssse3": "HW_CPU_X86_SSSE3",
}


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


@cache
def qemu_version() -> int:
    """QEMU's version as Nova reports it (7.2.0 -> 7002000)."""
    try:
        out = subprocess.run(
            ["qemu-system-x86_64", "--version"], capture_output=True, text=True, check=True
        ).stdout
        major, minor, micro = [*out.split()[3].split("(")[0].split("."), "0", "0"][:3]
        return int(major) * 1000000 + int(minor) * 1000 + int(micro.rstrip(","))
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return 0


def resources(nodename: str, instances: Path, accel: str) -> HostResources:
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    vcpus = os.cpu_count() or 1
    traits = {FLAG_TRAITS[f] for f in flags if f in FLAG_TRAITS}
    traits |= {"COMPUTE_NET_VIRTIO_PACKED", "COMPUTE_NODE"}
    traits |= {"COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW"}
    traits |= {"COMPUTE_IMAGE_TYPE_AKI", "COMPUTE_IMAGE_TYPE_ARI", "COMPUTE_IMAGE_TYPE_AMI"}
    return HostResources(
        vcpus=vcpus,
        memory_mb=memory_mb(),
        local_gb=shutil.disk_usage(instances).total // 1024**3,
        hypervisor_type="QEMU",
        hypervisor_version=qemu_version(),
        hypervisor_hostname=nodename,
        cpu_info={
            "arch": "x86_64",
            "model": cpu.get("model name", "unknown"),
            "vendor": cpu.get("vendor_id", "unknown"),
            "topology": {"sockets": 1, "cores": vcpus, "threads": 1},
            "features": sorted(flags),
            "accel": accel,
        },
        traits=tuple(sorted(traits)),
    )
