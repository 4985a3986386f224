"""The ring builder: devices with regions, zones and weights; partitions assigned to them as
dispersed as possible and as balanced as the weights allow; a rebalance moves as few partition
replicas as it can, at most one replica of a partition per rebalance, and none of a partition
moved less than ``min_part_hours`` ago (unless its device is gone)."""

from __future__ import annotations

import gzip
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class RingError(ValueError):
    """A bad ring request (unknown device, bad parameters, nothing to build from)."""


NONE = -1  # an unassigned replica slot


@dataclass
class Device:
    id: int
    region: int
    zone: int
    weight: float
    ip: str = "127.0.0.1"
    port: int = 0
    device: str = "d0"
    meta: str = ""

    @property
    def tier(self) -> tuple[int, int, int]:
        return (self.region, self.zone, self.id)


@dataclass
class RingBuilder:
    part_power: int
    replicas: float
    min_part_hours: int = 1
    devs: dict[int, Device] = field(default_factory=dict)
    #: replica -> part -> device id (NONE where unassigned)
    assignment: list[list[int]] = field(default_factory=list)
    #: part -> hour (since the epoch) of its last move
    last_moved: list[int] = field(default_factory=list)
    removed: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 1 <= self.part_power <= 24:
            raise RingError("part_power must be between 1 and 24")
        if not 1 <= self.replicas <= 16:
            raise RingError("replicas must be between 1 and 16")
        if self.min_part_hours < 0:
            raise RingError("min_part_hours must not be negative")

    @property
    def parts(self) -> int:
        return 2**self.part_power

    # -- devices ---------------------------------------------------------------------------
    def add_device(
        self,
        *,
        region: int = 1,
        zone: int = 1,
        weight: float = 100.0,
        ip: str = "127.0.0.1",
        port: int = 0,
        device: str = "d0",
        id: int | None = None,
        meta: str = "",
    ) -> int:
        if weight < 0:
            raise RingError("weight must not be negative")
        if id is None:
            id = max([*self.devs, *self.removed, -1]) + 1
        if id in self.devs:
            raise RingError(f"device id {id} already exists")
        for dev in self.devs.values():
            if (dev.ip, dev.port, dev.device) == (ip, port, device):
                raise RingError(f"device {ip}:{port}/{device} already exists")
        self.devs[id] = Device(id, region, zone, float(weight), ip, port, device, meta)
        return id

    def remove_device(self, dev_id: int) -> None:
        if dev_id not in self.devs:
            raise RingError(f"no device with id {dev_id}")
        del self.devs[dev_id]
        self.removed.add(dev_id)

    def set_weight(self, dev_id: int, weight: float) -> None:
        if dev_id not in self.devs:
            raise RingError(f"no device with id {dev_id}")
        if weight < 0:
            raise RingError("weight must not be negative")
        self.devs[dev_id].weight = float(weight)

    # -- shape -------------------------------------------------------------------------------
    def replica_counts(self) -> list[int]:
        """Per part, how many replicas it has (fractional replica counts give some parts one
        more than others)."""
        whole = math.floor(self.replicas)
        extra = round((self.replicas - whole) * self.parts)
        return [whole + (1 if p < extra else 0) for p in range(self.parts)]

    def _slots(self) -> int:
        return sum(self.replica_counts())

    def wanted(self) -> dict[int, float]:
        """How many part replicas each device should hold, by weight."""
        total = sum(d.weight for d in self.devs.values())
        if total <= 0:
            return {d: 0.0 for d in self.devs}
        slots = self._slots()
        return {i: d.weight / total * slots for i, d in self.devs.items()}

    def part_counts(self) -> Counter[int]:
        counts: Counter[int] = Counter()
        for row in self.assignment:
            counts.update(d for d in row if d != NONE)
        return counts

    def balance(self) -> float:
        """The worst device's deviation from its wanted count, in percent."""
        wanted = self.wanted()
        counts = self.part_counts()
        worst = 0.0
        for dev_id, want in wanted.items():
            if want <= 0:
                if counts[dev_id]:
                    return 999.99
                continue
            worst = max(worst, abs(counts[dev_id] - want) / want * 100)
        return worst

    # -- rebalance -------------------------------------------------------------------------
    def rebalance(self, now: float | None = None) -> int:
        """Assign and balance; returns how many part replicas moved (or were first placed)."""
        if not any(d.weight > 0 for d in self.devs.values()):
            raise RingError("the ring has no device with weight")
        hour = int((time.time() if now is None else now) // 3600)
        counts_per_part = self.replica_counts()
        replicas = max(counts_per_part)
        self._reshape(replicas)
        movable = [hour - h >= self.min_part_hours for h in self.last_moved]
        moved_now = [False] * self.parts
        moved = 0
        counts = self.part_counts()
        wanted = self.wanted()

        def take(part: int, r: int) -> None:
            dev = self.assignment[r][part]
            if dev != NONE:
                counts[dev] -= 1
            self.assignment[r][part] = NONE

        # 1. replicas on removed / zero-weight devices, and surplus replica slots, are freed
        for r in range(replicas):
            row = self.assignment[r]
            for part in range(self.parts):
                dev = row[part]
                if r >= counts_per_part[part]:
                    if dev != NONE:
                        take(part, r)
                    continue
                if dev != NONE and (dev not in self.devs or self.devs[dev].weight <= 0):
                    take(part, r)
        # 2. free one replica of parts whose dispersion could be better
        for part in range(self.parts):
            if not movable[part]:
                continue
            devs = [self.assignment[r][part] for r in range(counts_per_part[part])]
            r = self._worst_dispersed(devs)
            if r is not None:
                take(part, r)
                moved_now[part] = True
        # 3. free replicas from overloaded devices (one replica per movable part)
        for r in range(replicas):
            row = self.assignment[r]
            for part in range(self.parts):
                dev = row[part]
                if dev == NONE or moved_now[part] or not movable[part]:
                    continue
                if counts[dev] > wanted[dev] + 0.5 and counts[dev] - 1 >= math.floor(wanted[dev]):
                    take(part, r)
                    moved_now[part] = True
        # 4. place every free slot on the best device
        for r in range(replicas):
            for part in range(self.parts):
                if r >= counts_per_part[part] or self.assignment[r][part] != NONE:
                    continue
                others = [
                    self.assignment[o][part]
                    for o in range(replicas)
                    if o != r and self.assignment[o][part] != NONE
                ]
                dev = self._best_device(others, counts, wanted)
                self.assignment[r][part] = dev
                counts[dev] += 1
                self.last_moved[part] = hour
                moved += 1
        return moved

    def _reshape(self, replicas: int) -> None:
        while len(self.assignment) < replicas:
            self.assignment.append([NONE] * self.parts)
        del self.assignment[replicas:]
        for row in self.assignment:
            if len(row) != self.parts:
                raise RingError("the assignment does not match the part power")
        if len(self.last_moved) != self.parts:
            self.last_moved = [-(2**31)] * self.parts

    def _tiers_available(self) -> tuple[int, int, int]:
        live = [d for d in self.devs.values() if d.weight > 0]
        return (len({d.region for d in live}), len({(d.region, d.zone) for d in live}), len(live))

    def _worst_dispersed(self, devs: list[int]) -> int | None:
        """The index of a replica sharing a region / zone / device with another replica when
        the ring has more of that tier than the part uses."""
        regions, zones, count = self._tiers_available()
        placed = [(i, self.devs[d]) for i, d in enumerate(devs) if d != NONE and d in self.devs]
        n = len(devs)
        for level, available in ((2, count), (1, zones), (0, regions)):
            keys: Counter[tuple[int, ...]] = Counter(dev.tier[: level + 1] for _, dev in placed)
            distinct_wanted = min(available, n)
            if len(keys) < distinct_wanted:
                for i, dev in reversed(placed):
                    if keys[dev.tier[: level + 1]] > 1:
                        return i
        return None

    def _best_device(
        self, others: list[int], counts: Counter[int], wanted: dict[int, float]
    ) -> int:
        """The device that best disperses the part (fewest replicas sharing its region, then
        zone, then device) and most wants parts."""
        placed = [self.devs[o] for o in others if o in self.devs]
        best_key: tuple[Any, ...] | None = None
        best = NONE
        for dev in self.devs.values():
            if dev.weight <= 0:
                continue
            same_region = sum(1 for p in placed if p.region == dev.region)
            same_zone = sum(1 for p in placed if (p.region, p.zone) == (dev.region, dev.zone))
            same_dev = sum(1 for p in placed if p.id == dev.id)
            hunger = (wanted[dev.id] - counts[dev.id]) / wanted[dev.id]
            key = (same_dev, same_zone, same_region, -hunger, dev.id)
            if best_key is None or key < best_key:
                best_key, best = key, dev.id
        return best

    # -- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "devs": [asdict(d) for d in self.devs.values()],
            "assignment": self.assignment,
            "last_moved": self.last_moved,
            "removed": sorted(self.removed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingBuilder:
        builder = cls(data["part_power"], data["replicas"], data.get("min_part_hours", 1))
        builder.devs = {d["id"]: Device(**d) for d in data["devs"]}
        builder.assignment = [list(row) for row in data.get("assignment", [])]
        builder.last_moved = list(data.get("last_moved", []))
        builder.removed = set(data.get("removed", []))
        return builder

    def save(self, path: Path) -> None:
        """The builder file (JSON): what ``onestack ring`` edits."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RingBuilder:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise RingError(f"no ring builder at {path}") from None

    def write_ring(self, path: Path) -> None:
        """The ring file (gzipped JSON) the servers read: devices and assignments only."""
        if not self.assignment or any(NONE in row[:1] for row in self.assignment[:1]):
            raise RingError("rebalance the builder before writing its ring")
        data = {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "devs": [asdict(d) for d in self.devs.values()],
            "assignment": self.assignment,
            "counts": self.replica_counts(),
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        with gzip.open(tmp, "wt") as fh:
            json.dump(data, fh)
        tmp.replace(path)
