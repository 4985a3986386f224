"""The object service's files under the data dir: devices, rings and the hash path secret;
first-start defaults (one device, or one per zone for several replicas)."""

from __future__ import annotations

import secrets
from pathlib import Path

from onestack.common.files import write_private
from onestack.object.ring import Ring, RingBuilder

RING_KINDS = ("account", "container", "object")


class Layout:
    def __init__(self, root: Path, devices: Path | None = None):
        self.root = root
        self.devices = devices or root / "devices"
        self.rings = root / "rings"

    def builder_path(self, kind: str) -> Path:
        return self.rings / f"{kind}.builder"

    def ring_path(self, kind: str) -> Path:
        return self.rings / f"{kind}.ring.gz"

    def hash_secret(self) -> tuple[bytes, bytes]:
        """The cluster's hash path prefix and suffix (made once, kept private)."""
        path = self.root / "swift-hash"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            write_private(path, f"{secrets.token_hex(8)}\n{secrets.token_hex(8)}\n")
        prefix, suffix = path.read_text().split()
        return prefix.encode(), suffix.encode()

    def ensure_rings(self, replicas: int, part_power: int, policies: int = 1) -> None:
        """Build the rings on first start: ``replicas`` devices, one per zone; one object
        ring per storage policy (``object``, ``object-1``, ...)."""
        self.rings.mkdir(parents=True, exist_ok=True)
        for kind in self.kinds(policies):
            if self.ring_path(kind).exists():
                continue
            builder = RingBuilder(part_power, float(replicas), min_part_hours=1)
            for n in range(1, replicas + 1):
                builder.add_device(region=1, zone=n, weight=100, device=f"d{n}")
            builder.rebalance()
            builder.save(self.builder_path(kind))
            builder.write_ring(self.ring_path(kind))
        for kind in self.kinds(policies):
            for dev in Ring.load(self.ring_path(kind)).devs.values():
                if dev.get("port"):
                    continue  # on an object node of its own (onestack serve object --node N)
                (self.devices / dev["device"]).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def kinds(policies: int = 1) -> list[str]:
        return [*RING_KINDS, *(f"object-{i}" for i in range(1, policies))]

    def load_rings(self, prefix: bytes, suffix: bytes, policies: int = 1) -> dict[str, Ring]:
        return {
            kind: Ring.load(self.ring_path(kind), prefix, suffix) for kind in self.kinds(policies)
        }
